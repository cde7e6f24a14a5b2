// nanorun::system_timer: a waitable timer on std::chrono::system_clock.
#pragma once

#include <nanorun/basic_waitable_timer.hpp>

#include <chrono>

namespace nanorun {

/// A waitable timer on std::chrono::system_clock, as boost::asio::system_timer.
using system_timer = basic_waitable_timer<std::chrono::system_clock>;

} // namespace nanorun
