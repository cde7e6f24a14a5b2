// nanorun::task_executor: the executor of a task started with nanorun::spawn.
#pragma once

#include <nanorun/detail/fn_op.hpp>
#include <nanorun/detail/task_queue.hpp>
#include <nanorun/runtime.hpp>

#include <boost/asio/execution.hpp>

#include <memory>
#include <type_traits>
#include <utility>

namespace nanorun {

namespace detail {
struct task_executor_access;
} // namespace detail

/// Runs one task's handlers one at a time, in order, on a nanorun runtime.
/**
 * What a strand guarantees, without the strand's lock and per-handler
 * allocations: nanorun::spawn gives every task one, so awaitable operators,
 * parallel_group and per-operation cancellation are race-free on a runtime run
 * by many threads. It converts to any_io_executor. Executing with
 * blocking.possibly runs the function inline when the calling thread is
 * already running this task's handlers.
 *
 * Comparable to `boost::asio::strand<runtime::executor_type>`: equal copies
 * share one queue, and functions submitted through any of them run one at
 * a time, in the order submitted. Unlike a strand it supports neither
 * relationship.continuation (prefer() accepts it and changes nothing: a
 * task's handlers are all continuations of one another) nor a custom
 * allocator.
 *
 * @par Thread safety
 * Distinct objects: safe. Shared objects: safe.
 */
template <unsigned Bits>
class basic_task_executor
{
  static constexpr unsigned blocking_never = 1;
  static constexpr unsigned outstanding_work_tracked = 4;
  static constexpr bool is_tracked = (Bits & outstanding_work_tracked) != 0;

public:
  /// Makes a new task queue on the runtime.
  /// @param rt the runtime that will run the queue's functions.
  /// @throws std::bad_alloc if the queue cannot be allocated.
  explicit basic_task_executor(runtime& rt) : q_(detail::task_queue::create(rt))
  {
    if constexpr (is_tracked)
      q_->owner().work_started();
  }

  /// Copies the executor: the copy shares the queue (and, if tracked,
  /// counts one more unit of work).
  /// @param o the executor to copy.
  basic_task_executor(const basic_task_executor& o) noexcept : q_(o.q_)
  {
    q_->add_ref();
    if constexpr (is_tracked)
      q_->owner().work_started();
  }
  /// Moves the executor; `o` is left without a queue and may only be
  /// destroyed or assigned to.
  /// @param o the executor to move from.
  basic_task_executor(basic_task_executor&& o) noexcept : q_(std::exchange(o.q_, nullptr)) {}
  /// Assigns another executor (by copy or move, through the by-value
  /// parameter).
  /// @param o the executor to take.
  /// @returns `*this`.
  basic_task_executor& operator=(basic_task_executor o) noexcept
  {
    std::swap(q_, o.q_);
    return *this;
  }
  /// Releases the queue (a tracked executor also gives back its unit of work).
  ~basic_task_executor()
  {
    if (!q_)
      return;
    if constexpr (is_tracked)
      q_->owner().work_finished();
    q_->release();
  }

  /// Whether the calling thread is running this task's handlers.
  /// @returns true inside a function submitted through this queue.
  bool running_in_this_thread() const noexcept { return q_->running_in_this_thread(); }

  /// Whether two executors share one queue.
  /// @param a an executor.
  /// @param b another executor of the same type.
  /// @returns true if they submit to the same queue.
  friend bool operator==(const basic_task_executor& a, const basic_task_executor& b) noexcept
  {
    return a.q_ == b.q_;
  }
  /// The negation of operator==.
  /// @param a an executor.
  /// @param b another executor of the same type.
  /// @returns true if they submit to different queues.
  friend bool operator!=(const basic_task_executor& a, const basic_task_executor& b) noexcept
  {
    return a.q_ != b.q_;
  }

  /// Requires blocking.never: execute() always queues.
  /// @returns an executor on the same queue with the property.
  basic_task_executor<Bits | blocking_never> require(boost::asio::execution::blocking_t::never_t) const noexcept
  {
    return basic_task_executor<Bits | blocking_never>(q_);
  }
  /// Requires blocking.possibly: execute() runs inline when the calling
  /// thread is already running this queue's functions.
  /// @returns an executor on the same queue with the property.
  basic_task_executor<Bits & ~blocking_never> require(boost::asio::execution::blocking_t::possibly_t) const noexcept
  {
    return basic_task_executor<Bits & ~blocking_never>(q_);
  }
  /// Requires outstanding_work.tracked: the result counts as outstanding work
  /// on the runtime while it exists.
  /// @returns an executor on the same queue with the property.
  basic_task_executor<Bits | outstanding_work_tracked> require(
      boost::asio::execution::outstanding_work_t::tracked_t) const noexcept
  {
    return basic_task_executor<Bits | outstanding_work_tracked>(q_);
  }
  /// Requires outstanding_work.untracked.
  /// @returns an executor on the same queue with the property.
  basic_task_executor<Bits & ~outstanding_work_tracked> require(
      boost::asio::execution::outstanding_work_t::untracked_t) const noexcept
  {
    return basic_task_executor<Bits & ~outstanding_work_tracked>(q_);
  }
  // A task's handlers are all continuations of one another: both are identity.
  /// Prefers relationship.fork: accepted, changes nothing.
  /// @returns a copy of this executor.
  basic_task_executor prefer(boost::asio::execution::relationship_t::fork_t) const noexcept { return *this; }
  /// Prefers relationship.continuation: accepted, changes nothing.
  /// @returns a copy of this executor.
  basic_task_executor prefer(boost::asio::execution::relationship_t::continuation_t) const noexcept
  {
    return *this;
  }

  /// Queries the execution context.
  /// @returns the runtime that runs the queue.
  runtime& query(boost::asio::execution::context_t) const noexcept { return q_->owner(); }
  /// Queries the blocking property.
  /// @returns blocking.never or blocking.possibly.
  static constexpr boost::asio::execution::blocking_t query(boost::asio::execution::blocking_t) noexcept
  {
    return (Bits & blocking_never) ? boost::asio::execution::blocking_t(boost::asio::execution::blocking.never)
                                   : boost::asio::execution::blocking_t(boost::asio::execution::blocking.possibly);
  }
  /// Queries the outstanding_work property.
  /// @returns outstanding_work.tracked or outstanding_work.untracked.
  static constexpr boost::asio::execution::outstanding_work_t query(
      boost::asio::execution::outstanding_work_t) noexcept
  {
    return is_tracked ? boost::asio::execution::outstanding_work_t(boost::asio::execution::outstanding_work.tracked)
                      : boost::asio::execution::outstanding_work_t(boost::asio::execution::outstanding_work.untracked);
  }
  /// Queries the relationship property.
  /// @returns relationship.fork, always.
  static constexpr boost::asio::execution::relationship_t query(boost::asio::execution::relationship_t) noexcept
  {
    return boost::asio::execution::relationship.fork;
  }
  /// Queries the mapping property.
  /// @returns mapping.thread.
  static constexpr boost::asio::execution::mapping_t query(boost::asio::execution::mapping_t) noexcept
  {
    return boost::asio::execution::mapping.thread;
  }

  /// Submits a function; see the class comment for when it runs inline.
  /**
   * @param f the function object, invoked with no arguments after the
   * functions submitted before it.
   * @throws std::bad_alloc if queuing cannot allocate. An exception thrown
   * by `f` run inline is rethrown from the worker's run function once the
   * current handler returns.
   */
  template <class Function>
  void execute(Function&& f) const
  {
    if constexpr (!(Bits & blocking_never))
    {
      if (q_->running_in_this_thread())
      {
        detail::execute_inline(std::forward<Function>(f), q_->owner());
        return;
      }
    }
    q_->enqueue(detail::make_fn_op(std::forward<Function>(f), std::allocator<void>()));
  }

  /// Queues an operation directly (used to start a task without an allocation).
  /// Internal: used by nanorun::spawn, not for users.
  /// @param op the operation node, which the queue then owns.
  void enqueue_op(detail::operation* op) const { q_->enqueue(op); }

private:
  template <unsigned>
  friend class basic_task_executor;
  friend struct detail::task_executor_access;

  explicit basic_task_executor(detail::task_queue* q) noexcept : q_(q)
  {
    q_->add_ref();
    if constexpr (is_tracked)
      q_->owner().work_started();
  }

  detail::task_queue* q_;
};

/// The executor type of a spawned task: blocking.possibly,
/// outstanding_work.untracked.
using task_executor = basic_task_executor<0>;

namespace detail {
// The executor of an existing queue (takes a reference of its own).
struct task_executor_access
{
  static task_executor make(task_queue* q) noexcept { return task_executor(q); }
};
} // namespace detail

} // namespace nanorun
