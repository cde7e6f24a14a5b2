// nanorun::runtime: a work-stealing execution context that mirrors
// boost::asio::io_context.
#pragma once

#include <nanorun/detail/config.hpp>
#include <nanorun/detail/operation.hpp>
#include <nanorun/detail/run_marker.hpp>
#include <nanorun/detail/runtime_ref.hpp>

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
 * @par Thread safety
 * Distinct objects: safe. Shared objects: safe, except restart(), which must
 * not be called while a run function is in progress.
 */
class runtime : public boost::asio::execution_context
{
public:
  template <class Allocator, unsigned Bits>
  class basic_executor_type;

  /// The executor type: one pointer, an Asio standard executor.
  using executor_type = basic_executor_type<std::allocator<void>, 0>;

  /// The type returned by the run functions.
  using count_type = std::size_t;

  /// Base class for services written for this runtime, with
  /// io_context::service's shape; and the type of their `id` member
  /// (<nanorun/impl/runtime_service.hpp>).
  class service;
  class id;

  /// Constructs a runtime sized for the hardware concurrency.
  runtime();

  /// Constructs a runtime; the hint is the number of threads expected to run it.
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
  executor_type get_executor() noexcept;

  /// Runs handlers until the runtime is stopped or has no outstanding work.
  /// @returns the number of handlers that were executed.
  count_type run();

  /// Runs at most one handler, blocking until one is ready or the runtime stops.
  count_type run_one();

  /// Runs handlers until the duration has elapsed, or as run() would return.
  template <class Rep, class Period>
  count_type run_for(const std::chrono::duration<Rep, Period>& rel_time);

  /// Runs handlers until the time point is reached, or as run() would return.
  template <class Clock, class Duration>
  count_type run_until(const std::chrono::time_point<Clock, Duration>& abs_time);

  /// Runs at most one handler, waiting no longer than the duration.
  template <class Rep, class Period>
  count_type run_one_for(const std::chrono::duration<Rep, Period>& rel_time);

  /// Runs at most one handler, waiting no later than the time point.
  template <class Clock, class Duration>
  count_type run_one_until(const std::chrono::time_point<Clock, Duration>& abs_time);

  /// Runs every handler that is ready, without blocking.
  count_type poll();

  /// Runs at most one ready handler, without blocking.
  count_type poll_one();

  /// Asks every run function to return as soon as possible. Queued handlers
  /// stay queued.
  void stop();

  /// Whether the runtime has been stopped (explicitly, or by running out of
  /// work). A block_on() restarts a runtime that ran out of work (its task is
  /// new work); only restart() clears a stop() call.
  bool stopped() const noexcept;

  /// Clears the stopped state so that run functions may be called again.
  void restart();

  /// Runs the awaitable to completion on the calling thread and returns its
  /// value or rethrows its exception. Defined in <nanorun/block_on.hpp>.
  template <class T, class Executor>
  T block_on(boost::asio::awaitable<T, Executor> a);

  /// @name Internals used by executors and I/O objects.
  /// @{
  void work_started() noexcept { detail::scheduler_work_started(*impl_); }
  void work_finished() noexcept { detail::scheduler_work_finished(*impl_); }
  bool running_in_this_thread() const noexcept { return detail::running_in(impl_.get()); }
  void post_op(detail::operation* op, bool continuation) { detail::scheduler_post(*impl_, op, continuation); }
  void capture_current_exception() noexcept;
  std::size_t concurrency() const noexcept;
  // Runs until `done` reads true or stop() is called; a stop for lack of
  // work is undone while work is outstanding (the caller's task holds some).
  // Whoever sets `done` then calls interrupt().
  count_type run_until_done(const std::atomic<bool>& done);
  void interrupt() noexcept;
  // The key this runtime's threads carry in detail::this_thread_run_marker.
  const void* marker() const noexcept { return impl_.get(); }
  detail::scheduler& scheduler_impl() noexcept { return *impl_; }
  // A reference that tells when this runtime has been destroyed.
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
