// Portable readiness backend: poll(2) over a registry, plus a self-pipe for
// wake-ups. Works on any POSIX system; the reactor uses it where there is no
// native backend, or when NANORUN_REACTOR=poll.
//
// poll(2) keeps no state in the kernel, so the registry (fd -> key, interest)
// lives here under one mutex, and each pass of wait() polls a snapshot of it.
// Interest is one-shot: a direction that wait() reports is disarmed under the
// mutex before wait() returns, and only modify() re-arms it. Two threads that
// poll at once may both see the same readiness; whichever collects first
// reports and disarms it, and the other finds it disarmed. One readiness is
// therefore reported once, which the reactor relies on.
//
// A snapshot goes stale when the registry changes while a thread is blocked
// in poll(): a newly armed direction would not be watched, and (on Linux) a
// removed descriptor's file stays referenced by the sleeping poll, so a
// closed socket would not be released. A change that a poller must see bumps
// a version and writes a byte to the pipe; the waiter wakes, drains the pipe
// and polls a fresh snapshot, without returning. Because one byte wakes only
// the thread that drains it, a drainer that finds other threads still polling
// a stale snapshot writes a byte again for them.
//
// wake() is for the thread that blocks (the scheduler's driver; busy
// workers only look, with a zero timeout, and may look at any moment). If a
// blocking wait is polling, it is a change that wait must see: the wait
// returns. Otherwise it leaves a flag that makes the next blocking wait()
// return without polling. Only blocking waits take the flag or drain the
// pipe: a look that did would take the wake-up meant for a driver that is
// about to block, which would then sleep through it (a stop, once, left
// run() blocked for ever). So a wake-up is never lost, and it costs no write
// when there is nobody to wake.
#pragma once

#include "sys/readiness.hpp"

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <system_error>
#include <unordered_map>

namespace nanorun::sys {

class poll_poller
{
public:
  static constexpr bool edge_triggered = false;

  poll_poller(); // throws std::system_error
  ~poll_poller();
  poll_poller(const poll_poller&) = delete;
  poll_poller& operator=(const poll_poller&) = delete;

  // interest: ready_read, ready_write, ready_error (POLLPRI); 0 = not polled.
  std::error_code add(int fd, void* key, std::uint32_t interest) noexcept;
  std::error_code modify(int fd, void* key, std::uint32_t interest) noexcept;
  void remove(int fd) noexcept;
  // timeout_ns < 0: no timeout; 0: just poll. Returns the events written;
  // each reported direction has been disarmed.
  std::size_t wait(ready_event* out, std::size_t capacity, std::int64_t timeout_ns);
  void wake() noexcept;
  // In the child after fork(): a pipe of its own (the inherited one is shared
  // with the parent), no pollers, nothing registered. Throws std::system_error.
  void fork_child();

private:
  struct entry
  {
    void* key;
    std::uint32_t interest;
    std::uint64_t epoch; // tells a re-added fd from the one a snapshot saw
  };

  bool changed() noexcept; // caller holds mutex_; true if pollers must be told
  void signal() noexcept;
  void drain() noexcept;

  std::mutex mutex_;
  std::unordered_map<int, entry> registry_; // guarded by mutex_
  std::uint64_t next_epoch_ = 0;            // guarded by mutex_
  std::uint64_t version_ = 0;               // guarded by mutex_; bumped by changes a snapshot must see
  std::size_t polling_ = 0;                 // guarded by mutex_; threads between snapshot and collect
  std::size_t polling_current_ = 0;         // guarded by mutex_; those of them whose snapshot is at version_
  std::size_t blocking_ = 0;                // guarded by mutex_; those of them whose timeout is not zero
  std::uint64_t wake_version_ = 0;          // guarded by mutex_; snapshots older than this were woken
  bool wake_pending_ = false;               // guarded by mutex_; a wake() no blocking wait was polling for
  int pipe_[2] = {-1, -1}; // [0] polled by every wait(); [1] written by wake() and changes
};

} // namespace nanorun::sys
