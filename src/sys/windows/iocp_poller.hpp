// Windows readiness backend: an I/O completion port, AFD polls for socket
// readiness (afd.hpp), PostQueuedCompletionStatus for wake-ups and a
// per-thread high-resolution waitable timer for timed waits.
//
// ONE-SHOT READINESS. An AFD poll completes once, when one of its events
// holds (at once if one already does). So the backend is one-shot, like the
// poll(2) backend: add() starts with the interest given (usually none),
// modify() arms directions, a completion reports the directions it found
// and disarms them; directions still armed but not reported are polled
// again at once. The reactor re-arms with modify() when operations still
// wait. Each socket has at most one poll pending (the kernel's AFD tracks
// polls per request, and two on one socket would both have to be cancelled
// and both completed before its memory could go): when a modify() asks for
// an event the pending poll does not cover, the poll is cancelled and
// resubmitted, with the interest of that moment, when its cancellation
// completes.
//
// OWNERSHIP. Everything kept per socket (its poll's IO_STATUS_BLOCK and
// AFD_POLL_INFO, its base socket, key and interest) is a registration owned
// here. remove() forgets the socket at once, but if its poll is pending the
// registration lives on, cancelled (NtCancelIoFileEx), until its completion
// packet is dequeued: only then does the kernel stop writing to it. That
// packet is dropped. mio does the same.
//
// WAKE-UPS. wake() posts one packet (a flag keeps it to one in flight). A
// blocking wait that dequeues it clears the flag; a non-blocking one
// (timeout 0, a busy worker looking for I/O) posts it again, so that it
// reaches the waiter blocked (or about to block) in the port. Either way it
// is never lost, as the contract in reactor.hpp asks.
//
// TIMED WAITS. GetQueuedCompletionStatusEx takes whole milliseconds, and real
// Windows rounds them to the 15.6 ms clock tick. A waiting thread instead
// arms its own high-resolution waitable timer (Windows 10 1803+; a plain one
// elsewhere) for the exact timeout, with a do-nothing APC, and waits in the
// port alertably: the APC ends the wait when the timer fires. The timer is
// the thread's, so no other thread can dequeue its expiry, and an APC that
// comes after the wait returned only ends a later wait early (a spurious
// wake-up, which the contract allows).
//
// fork_child() does nothing: Windows has no fork(), and Asio's IOCP
// io_context ignores notify_fork(fork_child) too.
#pragma once

#include "sys/readiness.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <system_error>
#include <unordered_map>

namespace nanorun::sys::windows {
struct registration;
} // namespace nanorun::sys::windows

namespace nanorun::sys {

class iocp_poller
{
public:
  static constexpr bool edge_triggered = false;

  iocp_poller(); // throws std::system_error
  ~iocp_poller();
  iocp_poller(const iocp_poller&) = delete;
  iocp_poller& operator=(const iocp_poller&) = delete;

  // interest: ready_read, ready_write, ready_error; 0 = not polled.
  std::error_code add(native_handle s, void* key, std::uint32_t interest) noexcept;
  std::error_code modify(native_handle s, void* key, std::uint32_t interest) noexcept;
  void remove(native_handle s) noexcept;
  // timeout_ns < 0: no timeout; 0: just look. Returns the events written;
  // each reported direction has been disarmed.
  std::size_t wait(ready_event* out, std::size_t capacity, std::int64_t timeout_ns);
  void wake() noexcept;
  void fork_child() noexcept {}

  // For tests: registrations whose poll is still pending after remove().
  std::size_t orphans() noexcept;

private:
  using registration = windows::registration;

  // Caller holds mutex_. Starts a poll for r's interest if it has one and
  // none is pending; cancels a pending one that misses part of it.
  std::error_code arm(registration* r) noexcept;
  // Caller holds mutex_. A poll of r completed: fills ev, returns whether
  // there is something to report.
  bool complete(registration* r, ready_event& ev) noexcept;

  void* port_ = nullptr; // HANDLE: the completion port
  void* afd_ = nullptr;  // HANDLE: \Device\Afd, shared by every socket's polls
  std::mutex mutex_;
  std::unordered_map<native_handle, registration*> sockets_; // guarded by mutex_
  std::size_t orphans_ = 0;                                   // guarded by mutex_; removed, poll pending
  // Set (exchange, acq_rel) by the wake() that posts the packet; cleared
  // (store, release) by the blocking wait that dequeues it. Pairs the two
  // so that a wake() after the clear posts again.
  std::atomic<bool> wake_posted_{false};
};

} // namespace nanorun::sys
