// Linux readiness backend: one epoll instance plus an eventfd for wake-ups.
//
// Descriptors are registered once, edge-triggered, for both directions: the
// kernel reports each transition to readable or writable once, and the
// reactor caches it until an operation sees EAGAIN. modify() is therefore
// never needed on the hot path (arming a read does not cost an epoll_ctl).
//
// wake() writes the eventfd, which is registered level-triggered: it stays
// reported until a blocking wait (timeout != 0) drains it, so a wake-up that
// races with a waiter entering epoll_wait is still delivered to it, and a
// non-blocking wait(0) on a busy worker never consumes a wake-up meant for
// the waiter blocked in the reactor. Waits never report it.
#pragma once

#include "sys/readiness.hpp"

#include <nanorun/detail/config.hpp>

#include <cstddef>
#include <cstdint>
#include <system_error>

namespace nanorun::sys {

class epoll_poller
{
public:
  static constexpr bool edge_triggered = true;

  epoll_poller();  // throws std::system_error
  ~epoll_poller();
  epoll_poller(const epoll_poller&) = delete;
  epoll_poller& operator=(const epoll_poller&) = delete;

  std::error_code add(int fd, void* key, std::uint32_t interest) noexcept;
  std::error_code modify(int fd, void* key, std::uint32_t interest) noexcept;
  void remove(int fd) noexcept;
  // timeout_ns < 0: no timeout; 0: just poll. Returns the events written.
  std::size_t wait(ready_event* out, std::size_t capacity, std::int64_t timeout_ns);
  void wake() noexcept;
  // In the child after fork(): a new epoll instance and eventfd, with
  // nothing registered. Throws std::system_error.
  void fork_child();

private:
  void open();

  int epoll_fd_ = -1;
  int event_fd_ = -1;
  // Cleared on the first ENOSYS (kernels before 5.11). Off under
  // ThreadSanitizer, which intercepts epoll_wait but not epoll_pwait2: without
  // the interceptor it cannot see that epoll_ctl(ADD) on one thread happens
  // before the event it returns on another, and reports the descriptor
  // state's first use as a race.
  bool have_pwait2_ = !detail::built_with_tsan;
};

} // namespace nanorun::sys
