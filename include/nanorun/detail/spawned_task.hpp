// A task started by nanorun::spawn on a nanorun runtime: one allocation.
//
// The object is at once the task's queue (task_queue: its handlers run one at
// a time, in order), its join state (join_core: outcome, waiter, the state
// word) and the operation that starts it (start_op, holding the awaitable
// until it runs). The queue's intrusive count keeps all of it: one reference
// for the join_handle, one for the start operation until it has run, then the
// task executor copies the coroutine holds and the completion handler's.
// Together with the coroutine's frames (Asio's, recycled per thread and
// exchanged between workers, see src/executor/frame_exchange.hpp) this is all
// the memory a task needs; the waiter of a co_await lives inside it too. The
// block comes from the spawning worker's task memory and goes back to it from
// whichever thread frees it (src/task/task_memory.cpp).
//
// START. spawn() queues start_op on the task's own queue, so the runtime picks
// the task up wherever it has room (this call returns at once) and co_spawn's
// first dispatch runs inline, inside the queue. If the runtime is destroyed
// before the task started, destroying start_op reports operation_aborted to
// the join state, as a task destroyed later does through its handler.
#pragma once

#include <nanorun/detail/join_state.hpp>
#include <nanorun/detail/task_memory.hpp>
#include <nanorun/detail/operation.hpp>
#include <nanorun/detail/task_queue.hpp>
#include <nanorun/runtime.hpp>
#include <nanorun/task_executor.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>

#include <cstddef>
#include <new>
#include <utility>

namespace nanorun::detail {

template <class T, class AwaitableExecutor>
class spawned_task final : public task_queue, public join_core<T>
{
public:
  // Queues the task and returns its join state, holding one reference for
  // the caller's join_handle.
  static join_core<T>* start(nanorun::runtime& rt, boost::asio::awaitable<T, AwaitableExecutor>&& a)
  {
    void* mem = allocate();
    auto* self = ::new (mem) spawned_task(rt, std::move(a));
    // The queue's first reference is the handle's; the start operation's:
    self->task_queue::add_ref();
    self->enqueue(&self->start_op_);
    return self;
  }

  void add_ref() noexcept override { task_queue::add_ref(); }
  void release() noexcept override { task_queue::release(); }

private:
  struct start_op final : operation
  {
    explicit start_op(spawned_task* t) noexcept : operation(&spawned_task::run_start), task(t) {}
    spawned_task* task;
  };

  spawned_task(nanorun::runtime& rt, boost::asio::awaitable<T, AwaitableExecutor>&& a) noexcept
      : task_queue(rt, &spawned_task::destroy), join_core<T>(rt.marker()), start_op_(this), awaitable_(std::move(a))
  {
  }

  static constexpr bool cached = alignof(spawned_task) <= alignof(std::max_align_t);

  static void* allocate()
  {
    if constexpr (cached)
      return allocate_task_memory(sizeof(spawned_task));
    else
      return ::operator new(sizeof(spawned_task), std::align_val_t{alignof(spawned_task)});
  }

  static void destroy(task_queue* q) noexcept
  {
    auto* self = static_cast<spawned_task*>(q);
    self->~spawned_task();
    if constexpr (cached)
      deallocate_task_memory(self);
    else
      ::operator delete(self, std::align_val_t{alignof(spawned_task)});
  }

  static void run_start(operation* base, bool invoke)
  {
    spawned_task* self = static_cast<start_op*>(base)->task;
    struct reference
    {
      spawned_task* self;
      ~reference() { self->task_queue::release(); } // the start operation's
    } ref{self};
    // The completion owns the outcome from here: destroyed unrun (below, or by
    // co_spawn) it reports operation_aborted.
    join_completion<T> done(*self);
    auto a = std::move(self->awaitable_);
    if (!invoke)
      return;
    boost::asio::co_spawn(task_executor_access::make(self), std::move(a), std::move(done));
  }

  start_op start_op_;
  boost::asio::awaitable<T, AwaitableExecutor> awaitable_;
};

} // namespace nanorun::detail
