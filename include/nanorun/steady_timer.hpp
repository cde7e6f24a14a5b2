// nanorun::steady_timer: a waitable timer on std::chrono::steady_clock.
#pragma once

#include <nanorun/basic_waitable_timer.hpp>

#include <chrono>

namespace nanorun {

/// A waitable timer on std::chrono::steady_clock, as boost::asio::steady_timer.
using steady_timer = basic_waitable_timer<std::chrono::steady_clock>;

} // namespace nanorun
