// nanorun::runtime_metrics: a snapshot of a runtime's counters.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace nanorun {

/// What one worker did, counted since the runtime was constructed.
/**
 * A worker is a slot that threads inside the run functions claim (see
 * nanorun::runtime): a thread that leaves run() gives its slot back and the
 * next thread to enter takes it over with its counts. Every count only grows.
 *
 * @par Thread safety
 * A plain value: distinct objects safe, shared objects unsafe.
 */
struct worker_metrics
{
  /// Handlers (operations) this worker ran, every kind included.
  std::uint64_t handlers_run = 0;
  /// Steps of tasks started with nanorun::spawn: the handlers run inside a
  /// task's serial queue (also counted in handlers_run).
  std::uint64_t task_steps = 0;
  /// Handlers taken from the worker's LIFO slot (continuations run next).
  std::uint64_t lifo_hits = 0;
  /// Looks into a peer's queue while searching for work.
  std::uint64_t steal_attempts = 0;
  /// Looks that took something.
  std::uint64_t steals = 0;
  /// Handlers moved by those steals (the first one of each included).
  std::uint64_t stolen = 0;
  /// Times the worker went to sleep for lack of work.
  std::uint64_t parks = 0;
  /// Sleeps that ended because the worker was woken (work, I/O, a stop)
  /// rather than by a deadline or a timer of its own.
  std::uint64_t wakeups = 0;
  /// Timer waits started by handlers running on this worker.
  std::uint64_t timers_armed = 0;
  /// Timer waits this worker found expired and queued.
  std::uint64_t timers_fired = 0;
  /// Non-blocking looks at the reactor between handlers.
  std::uint64_t reactor_polls = 0;
  /// Blocking waits in the reactor (the parked driver).
  std::uint64_t reactor_waits = 0;
  /// Readiness events the reactor reported to this worker's polls and waits.
  std::uint64_t reactor_events = 0;
  /// Handlers in the worker's local queue when the snapshot was taken.
  std::size_t local_queue_depth = 0;
  /// Whether a thread was inside a run function on this slot then.
  bool active = false;

  /// Adds another worker's counts (depths included) to this one.
  /// @param other the counts to add.
  /// @returns `*this`.
  worker_metrics& operator+=(const worker_metrics& other) noexcept;
};

/// A snapshot of a runtime's counters: nanorun::runtime::metrics().
/**
 * Each counter is read once, atomically, while the workers go on: a snapshot
 * never shows a count that was not reached, and a later snapshot never shows
 * less. Counters of different workers (and different counters of one worker)
 * are read one after another, not at one instant.
 *
 * Counting costs a load and a store of a cache line the worker already owns
 * per event; nanorun::runtime::enable_metrics(false) turns it off.
 *
 * @par Thread safety
 * A plain value: distinct objects safe, shared objects unsafe.
 */
struct runtime_metrics
{
  /// One entry per worker slot: as many as the concurrency hint announced
  /// (or the hardware's concurrency), more if more threads have been inside
  /// the run functions at once.
  std::vector<worker_metrics> workers;
  /// Events that happened outside the workers: timer waits started by
  /// threads that were not running the runtime (timers_armed).
  worker_metrics outside;
  /// Handlers waiting in the global injector (posted from outside the
  /// workers, or overflowed from a full local queue).
  std::size_t injector_depth = 0;
  /// The runtime's outstanding work (queued handlers, pending operations,
  /// work guards) as counted when the snapshot was taken. Workers hold a
  /// little of it in advance, so this may exceed the real figure by a few
  /// units per worker.
  std::int64_t outstanding_work = 0;
  /// When the snapshot was taken.
  std::chrono::steady_clock::time_point taken_at{};

  /// The sum over every worker and `outside`.
  /// @returns the summed counts; `active` is true if any worker was active.
  worker_metrics total() const noexcept;
};

inline worker_metrics& worker_metrics::operator+=(const worker_metrics& o) noexcept
{
  handlers_run += o.handlers_run;
  task_steps += o.task_steps;
  lifo_hits += o.lifo_hits;
  steal_attempts += o.steal_attempts;
  steals += o.steals;
  stolen += o.stolen;
  parks += o.parks;
  wakeups += o.wakeups;
  timers_armed += o.timers_armed;
  timers_fired += o.timers_fired;
  reactor_polls += o.reactor_polls;
  reactor_waits += o.reactor_waits;
  reactor_events += o.reactor_events;
  local_queue_depth += o.local_queue_depth;
  active = active || o.active;
  return *this;
}

inline worker_metrics runtime_metrics::total() const noexcept
{
  worker_metrics sum = outside;
  for (const worker_metrics& w : workers)
    sum += w;
  return sum;
}

} // namespace nanorun
