// Asio's own I/O objects on a nanorun runtime, driven by nanorun's workers.
// The design is described at the top of asio_bridge.cpp.
#pragma once

namespace nanorun {
class runtime;
} // namespace nanorun

namespace nanorun::detail {

// Whether this build drives Asio's reactor from nanorun's workers (Asio's
// epoll reactor with a timerfd, Boost 1.81). If not, Asio's scheduler starts
// its own thread for its reactor, as it does on any foreign context.
bool asio_bridge_supported() noexcept;

// Registers Asio's scheduler in rt before anything can ask for it, with no
// thread of its own. Called by the runtime's constructor.
void install_asio_scheduler(runtime& rt, int concurrency_hint);

} // namespace nanorun::detail
