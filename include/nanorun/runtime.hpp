// nanorun::runtime: a work-stealing execution context that mirrors
// boost::asio::io_context.
#pragma once

#include <nanorun/detail/config.hpp>
#include <nanorun/detail/operation.hpp>
#include <nanorun/detail/run_marker.hpp>
#include <nanorun/detail/runtime_ref.hpp>
#include <nanorun/runtime_metrics.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution_context.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>

namespace nanorun {

namespace detail {
class scheduler;
// The executor layer's entry points used on hot paths (src/executor/scheduler.cpp).
void scheduler_post(scheduler& s, operation* op, bool continuation);
void scheduler_work_started(scheduler& s) noexcept;
void scheduler_work_finished(scheduler& s) noexcept;
} // namespace detail

/// A work-stealing execution context with io_context's interface.
/**
 * Every thread that calls one of the run functions becomes a worker for as
 * long as it is inside: it gets a local run queue and a LIFO slot, takes work
 * posted from outside through a global injector, and steals half of a peer's
 * queue when it runs dry. With one thread inside run(), handlers never run
 * concurrently, exactly as with io_context.
 *
 * Outstanding work (queued handlers, tracked executors, work guards) keeps
 * run() going; when it reaches zero, the runtime stops and every run() returns.
 *
 * Mirrors boost::asio::io_context (alias nanorun::io_context). Differences:
 * - it is not an io_context: functions that take `boost::asio::io_context&`
 *   need a template parameter or an executor instead (any_io_executor,
 *   execution_context& and executor templates work unchanged);
 * - several threads in run() share the work by stealing, so a task's
 *   handlers may move between threads; with one thread the ordering
 *   guarantees are io_context's (doc/migrating-from-io_context.md);
 * - the default constructor sizes the runtime for the hardware concurrency;
 * - nanorun's I/O objects may outlive it (see the destructor);
 * - it adds block_on().
 * Asio's own I/O objects (sockets, timers, signal sets) also work on it, and
 * are driven by its workers (doc/architecture.md, "The Asio bridge").
 *
 * @par Thread safety
 * Distinct objects: safe. Shared objects: safe, except restart(), which must
 * not be called while a run function is in progress.
 */
class runtime : public boost::asio::execution_context
{
public:
  /// The executor of a runtime, with its properties encoded in the type
  /// (<nanorun/impl/executor.hpp>).
  template <class Allocator, unsigned Bits>
  class basic_executor_type;

  /// The executor type: one pointer, an Asio standard executor.
  using executor_type = basic_executor_type<std::allocator<void>, 0>;

  /// The type returned by the run functions.
  using count_type = std::size_t;

  /// Base class for services written for this runtime, with
  /// io_context::service's shape (<nanorun/impl/runtime_service.hpp>).
  class service;
  /// The type of a service's `id` member, as io_context::id
  /// (<nanorun/impl/runtime_service.hpp>).
  class id;

  /// Constructs a runtime sized for the hardware concurrency.
  runtime();

  /// Constructs a runtime; the hint is the number of threads expected to run it.
  /**
   * @param concurrency_hint the number of threads expected to call run
   * functions; 0 or less means the hardware concurrency. It sizes the
   * initial worker slots and timer shards; more threads may still run the
   * runtime. As with io_context, 1 promises that one thread runs it: work a
   * handler posts then waits for that handler instead of waking another
   * thread.
   */
  explicit runtime(int concurrency_hint);

  /// Shuts down services, destroys pending handlers without invoking them,
  /// then destroys the services. No thread may be inside a run function.
  /// nanorun's I/O objects (timers, sockets, acceptors, resolvers) may
  /// outlive it: destroying, closing or cancelling one afterwards is safe,
  /// and an operation that would need the runtime fails with
  /// operation_aborted (doc/bad-input.md).
  ~runtime();

  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  /// Obtains the executor associated with the runtime.
  /// @returns an executor with blocking.possibly, relationship.fork and
  /// outstanding_work.untracked, and std::allocator<void>.
  executor_type get_executor() noexcept;

  /// Runs handlers until the runtime is stopped or has no outstanding work.
  /// @returns the number of handlers that were executed.
  /// @throws whatever a handler throws, as io_context's run(): the exception
  /// leaves run() on that thread only; other threads keep running, and run()
  /// may be called again. The same holds for every run and poll function.
  count_type run();

  /// Runs at most one handler, blocking until one is ready or the runtime stops.
  /// @returns the number of handlers that were executed (0 or 1).
  count_type run_one();

  /// Runs handlers until the duration has elapsed, or as run() would return.
  /// @param rel_time how long to run, measured on the steady clock.
  /// @returns the number of handlers that were executed.
  template <class Rep, class Period>
  count_type run_for(const std::chrono::duration<Rep, Period>& rel_time);

  /// Runs handlers until the time point is reached, or as run() would return.
  /// @param abs_time when to return, on any clock; waits are made in chunks
  /// of at most a second so that a change of a non-steady clock is noticed.
  /// @returns the number of handlers that were executed.
  template <class Clock, class Duration>
  count_type run_until(const std::chrono::time_point<Clock, Duration>& abs_time);

  /// Runs at most one handler, waiting no longer than the duration.
  /// @param rel_time the longest wait, measured on the steady clock.
  /// @returns the number of handlers that were executed (0 or 1).
  template <class Rep, class Period>
  count_type run_one_for(const std::chrono::duration<Rep, Period>& rel_time);

  /// Runs at most one handler, waiting no later than the time point.
  /// @param abs_time the latest time to wait until, on any clock.
  /// @returns the number of handlers that were executed (0 or 1).
  template <class Clock, class Duration>
  count_type run_one_until(const std::chrono::time_point<Clock, Duration>& abs_time);

  /// Runs every handler that is ready, without blocking.
  /// @returns the number of handlers that were executed.
  count_type poll();

  /// Runs at most one ready handler, without blocking.
  /// @returns the number of handlers that were executed (0 or 1).
  count_type poll_one();

  /// Asks every run function to return as soon as possible. Queued handlers
  /// stay queued.
  void stop();

  /// Whether the runtime has been stopped (explicitly, or by running out of
  /// work). A block_on() restarts a runtime that ran out of work (its task is
  /// new work); only restart() clears a stop() call.
  /// @returns true if the run functions would return at once.
  bool stopped() const noexcept;

  /// Clears the stopped state so that run functions may be called again.
  void restart();

  /// Takes a snapshot of the runtime's counters (see nanorun::runtime_metrics).
  /**
   * Reads every worker's counters without stopping it; callable from any
   * thread, inside a handler too.
   * @returns the counts of every worker, those made outside the workers, and
   * the depth of the global injector, as read now.
   */
  runtime_metrics metrics() const;

  /// Turns counting on (the default) or off.
  /**
   * Takes effect for each thread when it next enters a run function; counts
   * already made are kept.
   * @param on whether to count.
   */
  void enable_metrics(bool on) noexcept;

  /// Runs the awaitable to completion on the calling thread and returns its
  /// value or rethrows its exception. Defined in <nanorun/block_on.hpp>.
  template <class T, class Executor>
  T block_on(boost::asio::awaitable<T, Executor> a);

  /// @name Internals used by executors and I/O objects.
  /// Public so that nanorun's own executors, I/O objects and the templates in
  /// its headers can reach them; not part of the user API, and they may
  /// change. Users count work with an executor that has
  /// outstanding_work.tracked (or boost::asio::make_work_guard) and submit
  /// work through the executor.
  /// @{

  /// Internal: counts one unit of outstanding work (what a tracked executor
  /// does when it is created).
  void work_started() noexcept { detail::scheduler_work_started(*impl_); }
  /// Internal: gives back one unit of outstanding work; the last one stops
  /// the runtime.
  void work_finished() noexcept { detail::scheduler_work_finished(*impl_); }
  /// Internal: whether the calling thread is inside one of this runtime's
  /// run functions (what executor_type::running_in_this_thread() reports).
  /// @returns true on the runtime's workers.
  bool running_in_this_thread() const noexcept { return detail::running_in(impl_.get()); }
  /// Internal: queues an operation node (nanorun's executors and I/O objects
  /// submit work through it).
  /// @param op the operation, which the runtime then owns.
  /// @param continuation true for the worker's LIFO slot (a continuation of
  /// the running handler), false for the back of its queue.
  void post_op(detail::operation* op, bool continuation) { detail::scheduler_post(*impl_, op, continuation); }
  /// Internal: keeps the exception being handled, to be rethrown from the
  /// calling worker's run function once its current handler returns (used
  /// when an executor runs a function inline).
  void capture_current_exception() noexcept;
  /// Internal: the number of worker slots, or of threads inside the run
  /// functions if greater.
  /// @returns at least 1; what executor_type reports for
  /// boost::asio::execution::occupancy.
  std::size_t concurrency() const noexcept;
  /// Internal (block_on): runs until `done` reads true or stop() is called.
  /// A stop for lack of work is undone while work is outstanding (the
  /// caller's task holds some). Whoever sets `done` then calls interrupt().
  /// @param done the flag to watch.
  /// @returns the number of handlers that were executed.
  count_type run_until_done(const std::atomic<bool>& done);
  /// Internal (block_on): wakes every thread waiting in a run function, so
  /// that run_until_done() looks at its flag again.
  void interrupt() noexcept;
  /// Internal: the key this runtime's threads carry in
  /// detail::this_thread_run_marker.
  /// @returns an address that identifies the runtime while it lives.
  const void* marker() const noexcept { return impl_.get(); }
  /// Internal: the scheduler that implements the runtime.
  /// @returns the scheduler, an implementation type.
  detail::scheduler& scheduler_impl() noexcept { return *impl_; }
  /// Internal: a reference that tells when this runtime has been destroyed
  /// (how nanorun's I/O objects outlive it safely).
  /// @returns the runtime's address with its anchor and generation.
  detail::runtime_ref ref() noexcept { return {this, anchor_.get(), anchor_.generation()}; }
  /// @}

private:
  using steady_time = std::chrono::steady_clock::time_point;
  count_type run_steady(std::size_t max_handlers, bool block, const steady_time* deadline);
  template <class Clock, class Duration>
  count_type run_chunked(std::size_t max_handlers, const std::chrono::time_point<Clock, Duration>& abs_time);

  std::unique_ptr<detail::scheduler> impl_;
  // Last, so destroyed first: after the destructor's body has torn
  // everything down, before the scheduler's memory goes.
  detail::anchor_holder anchor_;
};

/// For code written against io_context: the whole migration is this alias.
using io_context = runtime;

} // namespace nanorun

#include <nanorun/impl/executor.hpp>
#include <nanorun/impl/runtime.hpp>
#include <nanorun/impl/runtime_service.hpp>
#include <nanorun/block_on.hpp>
