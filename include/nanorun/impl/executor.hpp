// runtime::basic_executor_type: the executor of a nanorun runtime.
//
// One pointer wide (the allocator is stateless by default and takes no room),
// so it fits in any_io_executor's small buffer. Properties are encoded in the
// Bits template argument, as io_context does, so each require() yields a
// distinct type and the tracked variant can count work in its constructor and
// destructor.
//
// Included by <nanorun/runtime.hpp> once the runtime class is complete; users
// include <nanorun/executor.hpp> (or runtime.hpp), which gets the order right
// whichever comes first.
#pragma once

#include <nanorun/detail/fn_op.hpp>
#include <nanorun/runtime.hpp>

#include <boost/asio/execution.hpp>
#include <boost/asio/execution_context.hpp>

#include <memory>
#include <type_traits>
#include <utility>

namespace nanorun {

namespace detail {

// Runs f now, on behalf of an executor whose blocking.possibly execute() found
// the caller already inside. An exception must not unwind through the Asio
// machinery that called execute() (a strand invoker, an awaitable's pump): it
// is kept and rethrown from run() once the current handler has returned, as
// io_context does.
template <class Function>
void execute_inline(Function&& f, runtime& rt)
{
  std::decay_t<Function> tmp(std::forward<Function>(f));
  try
  {
    std::move(tmp)();
  }
  catch (...)
  {
    rt.capture_current_exception();
  }
}

} // namespace detail

/// Executor used to submit work to a nanorun::runtime.
/**
 * Satisfies boost::asio::execution::executor and converts to
 * boost::asio::any_io_executor.
 *
 * - blocking.possibly (the default): execute() runs the function inline when
 *   the calling thread is inside this runtime's run(); otherwise it queues it.
 * - blocking.never: execute() always queues.
 * - outstanding_work.tracked: a distinct type whose copies count as outstanding
 *   work, keeping run() from returning.
 * - relationship.continuation: a hint that the function continues the caller;
 *   it goes to the worker's LIFO slot.
 *
 * Mirrors boost::asio::io_context::basic_executor_type, with the same
 * properties and Networking TS members. As with io_context, a function
 * executed inline (blocking.possibly, from inside the runtime) that throws
 * has its exception rethrown from run() once the current handler has
 * returned. The difference is where queued work goes: forks to the back of
 * the posting worker's queue, where idle workers steal them, continuations
 * to its LIFO slot (doc/architecture.md).
 *
 * @par Thread safety
 * Distinct objects: safe. Shared objects: safe.
 */
template <class Allocator, unsigned Bits>
class runtime::basic_executor_type
{
  static constexpr unsigned blocking_never = 1;
  static constexpr unsigned relationship_continuation = 2;
  static constexpr unsigned outstanding_work_tracked = 4;
  static constexpr bool is_tracked = (Bits & outstanding_work_tracked) != 0;

  // Inside this class the member function context() hides the class name.
  using runtime_type = nanorun::runtime;

public:
  /// Copies the executor; a tracked copy counts one more unit of work.
  /// @param o the executor to copy.
  basic_executor_type(const basic_executor_type& o) noexcept : rt_(o.rt_), alloc_(o.alloc_)
  {
    if constexpr (is_tracked)
      if (rt_)
        rt_->work_started();
  }

  /// Moves the executor; a tracked one takes over o's unit of work.
  /// @param o the executor to move from.
  basic_executor_type(basic_executor_type&& o) noexcept : rt_(o.rt_), alloc_(std::move(o.alloc_))
  {
    if constexpr (is_tracked)
      o.rt_ = nullptr;
  }

  /// Destroys the executor; a tracked one gives back its unit of work.
  ~basic_executor_type()
  {
    if constexpr (is_tracked)
      if (rt_)
        rt_->work_finished();
  }

  /// Assigns a copy of `o` (tracked: counts work on o's runtime, gives back
  /// this one's).
  /// @param o the executor to copy.
  /// @returns `*this`.
  basic_executor_type& operator=(const basic_executor_type& o) noexcept
  {
    if (this != &o)
    {
      if constexpr (is_tracked)
      {
        runtime_type* old = rt_;
        rt_ = o.rt_;
        if (rt_)
          rt_->work_started();
        if (old)
          old->work_finished();
      }
      else
        rt_ = o.rt_;
      alloc_ = o.alloc_;
    }
    return *this;
  }

  /// Move-assigns `o` (tracked: takes over o's unit of work, gives back
  /// this one's).
  /// @param o the executor to move from.
  /// @returns `*this`.
  basic_executor_type& operator=(basic_executor_type&& o) noexcept
  {
    if (this != &o)
    {
      if constexpr (is_tracked)
      {
        runtime_type* old = rt_;
        rt_ = o.rt_;
        o.rt_ = nullptr;
        if (old)
          old->work_finished();
      }
      else
        rt_ = o.rt_;
      alloc_ = std::move(o.alloc_);
    }
    return *this;
  }

  /// Whether the calling thread is inside a run function of the runtime.
  /// @returns true on the runtime's workers.
  bool running_in_this_thread() const noexcept { return rt_->running_in_this_thread(); }

  /// Whether two executors refer to the same runtime with equal allocators.
  /// @param a an executor.
  /// @param b another executor of the same type.
  /// @returns true if they are interchangeable.
  friend bool operator==(const basic_executor_type& a, const basic_executor_type& b) noexcept
  {
    return a.rt_ == b.rt_ && a.alloc_ == b.alloc_;
  }
  /// The negation of operator==.
  /// @param a an executor.
  /// @param b another executor of the same type.
  /// @returns `!(a == b)`.
  friend bool operator!=(const basic_executor_type& a, const basic_executor_type& b) noexcept
  {
    return !(a == b);
  }

  /// @name require
  /// Each returns an executor on the same runtime with one property changed
  /// (boost::asio::require(ex, property) calls them).
  /// @{

  /// Requires blocking.never: execute() always queues.
  /// @returns the executor with the property.
  constexpr basic_executor_type<Allocator, Bits | blocking_never> require(
      boost::asio::execution::blocking_t::never_t) const noexcept
  {
    return {rt_, alloc_};
  }
  /// Requires blocking.possibly: execute() runs inline inside the runtime.
  /// @returns the executor with the property.
  constexpr basic_executor_type<Allocator, Bits & ~blocking_never> require(
      boost::asio::execution::blocking_t::possibly_t) const noexcept
  {
    return {rt_, alloc_};
  }
  /// Requires relationship.continuation: queued functions go to the
  /// worker's LIFO slot.
  /// @returns the executor with the property.
  constexpr basic_executor_type<Allocator, Bits | relationship_continuation> require(
      boost::asio::execution::relationship_t::continuation_t) const noexcept
  {
    return {rt_, alloc_};
  }
  /// Requires relationship.fork: queued functions go to the back of the
  /// queue, where idle workers may steal them.
  /// @returns the executor with the property.
  constexpr basic_executor_type<Allocator, Bits & ~relationship_continuation> require(
      boost::asio::execution::relationship_t::fork_t) const noexcept
  {
    return {rt_, alloc_};
  }
  /// Requires outstanding_work.tracked: the result counts as outstanding work
  /// for as long as it (or a copy) exists.
  /// @returns the executor with the property.
  constexpr basic_executor_type<Allocator, Bits | outstanding_work_tracked> require(
      boost::asio::execution::outstanding_work_t::tracked_t) const noexcept
  {
    return {rt_, alloc_};
  }
  /// Requires outstanding_work.untracked.
  /// @returns the executor with the property.
  constexpr basic_executor_type<Allocator, Bits & ~outstanding_work_tracked> require(
      boost::asio::execution::outstanding_work_t::untracked_t) const noexcept
  {
    return {rt_, alloc_};
  }
  /// Requires an allocator, used for the memory of queued functions.
  /// @param a the property, holding the allocator.
  /// @returns the executor with the allocator.
  template <class OtherAllocator>
  constexpr basic_executor_type<OtherAllocator, Bits> require(
      boost::asio::execution::allocator_t<OtherAllocator> a) const noexcept
  {
    return {rt_, a.value()};
  }
  /// Requires the default allocator, std::allocator<void>.
  /// @returns the executor with the allocator.
  constexpr basic_executor_type<std::allocator<void>, Bits> require(
      boost::asio::execution::allocator_t<void>) const noexcept
  {
    return {rt_, std::allocator<void>()};
  }
  /// @}

  /// @name query
  /// Report the executor's properties (boost::asio::query(ex, property)
  /// calls them).
  /// @{

  /// Queries the mapping property.
  /// @returns mapping.thread: functions run on threads.
  static constexpr boost::asio::execution::mapping_t query(boost::asio::execution::mapping_t) noexcept
  {
    return boost::asio::execution::mapping.thread;
  }
  /// Queries the execution context.
  /// @returns the runtime.
  runtime_type& query(boost::asio::execution::context_t) const noexcept { return *rt_; }
  /// Queries the blocking property.
  /// @returns blocking.never or blocking.possibly.
  static constexpr boost::asio::execution::blocking_t query(boost::asio::execution::blocking_t) noexcept
  {
    return (Bits & blocking_never) ? boost::asio::execution::blocking_t(boost::asio::execution::blocking.never)
                                   : boost::asio::execution::blocking_t(boost::asio::execution::blocking.possibly);
  }
  /// Queries the relationship property.
  /// @returns relationship.continuation or relationship.fork.
  static constexpr boost::asio::execution::relationship_t query(boost::asio::execution::relationship_t) noexcept
  {
    return (Bits & relationship_continuation)
               ? boost::asio::execution::relationship_t(boost::asio::execution::relationship.continuation)
               : boost::asio::execution::relationship_t(boost::asio::execution::relationship.fork);
  }
  /// Queries the outstanding_work property.
  /// @returns outstanding_work.tracked or outstanding_work.untracked.
  static constexpr boost::asio::execution::outstanding_work_t query(
      boost::asio::execution::outstanding_work_t) noexcept
  {
    return is_tracked ? boost::asio::execution::outstanding_work_t(boost::asio::execution::outstanding_work.tracked)
                      : boost::asio::execution::outstanding_work_t(boost::asio::execution::outstanding_work.untracked);
  }
  /// Queries the allocator.
  /// @returns the executor's allocator.
  template <class ProtoAllocator>
  constexpr Allocator query(boost::asio::execution::allocator_t<ProtoAllocator>) const noexcept
  {
    return alloc_;
  }
  /// Queries the allocator.
  /// @returns the executor's allocator.
  constexpr Allocator query(boost::asio::execution::allocator_t<void>) const noexcept { return alloc_; }
  /// Queries the occupancy: how many threads may usefully run work.
  /// @returns the runtime's worker slots, or the threads in its run
  /// functions if more (at least 1).
  std::size_t query(boost::asio::execution::occupancy_t) const noexcept { return rt_->concurrency(); }
  /// @}

  /// Submits a function for execution (see the class comment for when it runs inline).
  /**
   * @param f the function object, invoked with no arguments; queued ones are
   * moved into memory from the executor's allocator.
   * @throws std::bad_alloc if queuing cannot allocate. An exception thrown
   * by `f` run inline is rethrown from the worker's run function once the
   * current handler returns; one thrown by a queued `f` leaves run() as a
   * handler's does.
   */
  template <class Function>
  void execute(Function&& f) const
  {
    if constexpr (!(Bits & blocking_never))
    {
      if (rt_->running_in_this_thread())
      {
        detail::execute_inline(std::forward<Function>(f), *rt_);
        return;
      }
    }
    rt_->post_op(detail::make_fn_op(std::forward<Function>(f), alloc_), (Bits & relationship_continuation) != 0);
  }

#if !defined(BOOST_ASIO_NO_TS_EXECUTORS)
  /// @name Networking TS members, for code written against io_context's executor.
  /// Present unless BOOST_ASIO_NO_TS_EXECUTORS is defined, as in Asio.
  /// @{

  /// The runtime the executor submits to.
  /// @returns the runtime.
  runtime_type& context() const noexcept { return *rt_; }
  /// Counts one unit of outstanding work, as a work guard does.
  void on_work_started() const noexcept { rt_->work_started(); }
  /// Gives back one unit of outstanding work.
  void on_work_finished() const noexcept { rt_->work_finished(); }

  /// Runs `f` now if the calling thread is inside the runtime, else queues it.
  /// Unlike execute(), an exception from `f` run inline propagates to the
  /// caller, as with io_context's dispatch().
  /// @param f the function object.
  /// @param a the allocator for a queued function's memory.
  template <class Function, class OtherAllocator>
  void dispatch(Function&& f, const OtherAllocator& a) const
  {
    if (rt_->running_in_this_thread())
    {
      std::decay_t<Function> tmp(std::forward<Function>(f));
      std::move(tmp)();
      return;
    }
    post(std::forward<Function>(f), a);
  }

  /// Queues `f` at the back of the queue (a fork).
  /// @param f the function object.
  /// @param a the allocator for the function's memory.
  template <class Function, class OtherAllocator>
  void post(Function&& f, const OtherAllocator& a) const
  {
    rt_->post_op(detail::make_fn_op(std::forward<Function>(f), a), false);
  }

  /// Queues `f` as a continuation of the running handler: the worker's LIFO
  /// slot.
  /// @param f the function object.
  /// @param a the allocator for the function's memory.
  template <class Function, class OtherAllocator>
  void defer(Function&& f, const OtherAllocator& a) const
  {
    rt_->post_op(detail::make_fn_op(std::forward<Function>(f), a), true);
  }
  /// @}
#endif

private:
  friend class nanorun::runtime;
  template <class, unsigned>
  friend class basic_executor_type;

  basic_executor_type(runtime_type* rt, const Allocator& a) noexcept : rt_(rt), alloc_(a)
  {
    if constexpr (is_tracked)
      if (rt_)
        rt_->work_started();
  }

  runtime_type* rt_;
  [[no_unique_address]] Allocator alloc_;
};

inline runtime::executor_type runtime::get_executor() noexcept
{
  return executor_type(this, std::allocator<void>());
}

} // namespace nanorun
