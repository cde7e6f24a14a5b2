// nanorun::high_resolution_timer: a waitable timer on std::chrono::high_resolution_clock.
#pragma once

#include <nanorun/basic_waitable_timer.hpp>

#include <chrono>

namespace nanorun {

/// A waitable timer on std::chrono::high_resolution_clock, as boost::asio::high_resolution_timer.
using high_resolution_timer = basic_waitable_timer<std::chrono::high_resolution_clock>;

} // namespace nanorun
