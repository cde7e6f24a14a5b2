// Runtime metrics: the counters behind nanorun::runtime::metrics().
//
// Each worker slot has its block of counters. Only the thread that owns the
// slot writes them (a nested run() borrowing the slot is that same thread),
// so a count is a relaxed load and a relaxed store: no locked instruction,
// and the line stays in the owner's cache until a snapshot reads it. The
// slot changes hands through worker_slot::owned (release by the leaver,
// acquire by the next owner), which orders the previous owner's last stores
// before the next owner's first load. Readers (snapshots) load each counter
// relaxed: a value some store wrote, never torn.
//
// Events on threads that are not workers (a timer armed from main()) go to
// the scheduler's `outside` block, which any thread may write: those use
// fetch_add.
//
// Counting is on unless the runtime was told otherwise; a thread reads the
// switch when it enters run() (thread_state::counters is null when off), so
// the per-event cost when off is a test of a pointer on the stack.
#pragma once

#include <atomic>
#include <cstdint>

namespace nanorun::detail {

struct worker_counters
{
  enum index : unsigned
  {
    handlers_run,
    task_steps,
    lifo_hits,
    steal_attempts,
    steals,
    stolen,
    parks,
    wakeups,
    timers_armed,
    timers_fired,
    reactor_polls,
    reactor_waits,
    reactor_events,
    count
  };

  std::atomic<std::uint64_t> v[count] = {};

  // The slot's owner only (see above).
  void add(index i, std::uint64_t n = 1) noexcept
  {
    v[i].store(v[i].load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  // Any thread (the `outside` block).
  void add_shared(index i, std::uint64_t n = 1) noexcept { v[i].fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t get(index i) const noexcept { return v[i].load(std::memory_order_relaxed); }
};

} // namespace nanorun::detail
