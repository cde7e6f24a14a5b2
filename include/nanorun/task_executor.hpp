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
  explicit basic_task_executor(runtime& rt) : q_(detail::task_queue::create(rt))
  {
    if constexpr (is_tracked)
      q_->owner().work_started();
  }

  basic_task_executor(const basic_task_executor& o) noexcept : q_(o.q_)
  {
    q_->add_ref();
    if constexpr (is_tracked)
      q_->owner().work_started();
  }
  basic_task_executor(basic_task_executor&& o) noexcept : q_(std::exchange(o.q_, nullptr)) {}
  basic_task_executor& operator=(basic_task_executor o) noexcept
  {
    std::swap(q_, o.q_);
    return *this;
  }
  ~basic_task_executor()
  {
    if (!q_)
      return;
    if constexpr (is_tracked)
      q_->owner().work_finished();
    q_->release();
  }

  /// Whether the calling thread is running this task's handlers.
  bool running_in_this_thread() const noexcept { return q_->running_in_this_thread(); }

  friend bool operator==(const basic_task_executor& a, const basic_task_executor& b) noexcept
  {
    return a.q_ == b.q_;
  }
  friend bool operator!=(const basic_task_executor& a, const basic_task_executor& b) noexcept
  {
    return a.q_ != b.q_;
  }

  basic_task_executor<Bits | blocking_never> require(boost::asio::execution::blocking_t::never_t) const noexcept
  {
    return basic_task_executor<Bits | blocking_never>(q_);
  }
  basic_task_executor<Bits & ~blocking_never> require(boost::asio::execution::blocking_t::possibly_t) const noexcept
  {
    return basic_task_executor<Bits & ~blocking_never>(q_);
  }
  basic_task_executor<Bits | outstanding_work_tracked> require(
      boost::asio::execution::outstanding_work_t::tracked_t) const noexcept
  {
    return basic_task_executor<Bits | outstanding_work_tracked>(q_);
  }
  basic_task_executor<Bits & ~outstanding_work_tracked> require(
      boost::asio::execution::outstanding_work_t::untracked_t) const noexcept
  {
    return basic_task_executor<Bits & ~outstanding_work_tracked>(q_);
  }
  // A task's handlers are all continuations of one another: both are identity.
  basic_task_executor prefer(boost::asio::execution::relationship_t::fork_t) const noexcept { return *this; }
  basic_task_executor prefer(boost::asio::execution::relationship_t::continuation_t) const noexcept
  {
    return *this;
  }

  runtime& query(boost::asio::execution::context_t) const noexcept { return q_->owner(); }
  static constexpr boost::asio::execution::blocking_t query(boost::asio::execution::blocking_t) noexcept
  {
    return (Bits & blocking_never) ? boost::asio::execution::blocking_t(boost::asio::execution::blocking.never)
                                   : boost::asio::execution::blocking_t(boost::asio::execution::blocking.possibly);
  }
  static constexpr boost::asio::execution::outstanding_work_t query(
      boost::asio::execution::outstanding_work_t) noexcept
  {
    return is_tracked ? boost::asio::execution::outstanding_work_t(boost::asio::execution::outstanding_work.tracked)
                      : boost::asio::execution::outstanding_work_t(boost::asio::execution::outstanding_work.untracked);
  }
  static constexpr boost::asio::execution::relationship_t query(boost::asio::execution::relationship_t) noexcept
  {
    return boost::asio::execution::relationship.fork;
  }
  static constexpr boost::asio::execution::mapping_t query(boost::asio::execution::mapping_t) noexcept
  {
    return boost::asio::execution::mapping.thread;
  }

  /// Submits a function; see the class comment for when it runs inline.
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

/// The executor type of a spawned task.
using task_executor = basic_task_executor<0>;

namespace detail {
// The executor of an existing queue (takes a reference of its own).
struct task_executor_access
{
  static task_executor make(task_queue* q) noexcept { return task_executor(q); }
};
} // namespace detail

} // namespace nanorun
