// task_queue: runs one task's handlers one at a time, in order.
//
// This is the guarantee a strand gives, made cheap enough to give every task
// started with nanorun::spawn: awaitable operators, parallel_group and
// per-operation cancellation are safe only when two operations of one
// coroutine cannot complete on two threads at once (asio#1348, #1362).
//
// PROTOCOL. Any thread may enqueue(): it pushes the operation onto `inbox_` (a
// lock-free stack) and, if `scheduled_` was false, sets it and posts the
// queue's own runner, an operation embedded in this object, to the runtime.
// The runner moves the inbox into `ready_` (oldest first) and runs what it
// finds, at most `budget` operations a turn, then re-posts itself if more is
// waiting; when nothing is, it clears `scheduled_` and looks at the inbox once
// more, so a push that saw `scheduled_` still set is never stranded. All four
// accesses are seq_cst: the producer's push-then-exchange and the runner's
// clear-then-load form a store-buffering pair.
//
// LIFETIME. Intrusively counted: every executor copy holds a reference, and
// so does the runner while it is scheduled. When a runtime is destroyed with
// the runner queued, destroying the runner destroys whatever is queued. A
// queue made by nanorun::spawn is the base of the task's one allocation
// (spawned_task.hpp), which shares this count and frees itself through
// `destroy_`.
#pragma once

#include <nanorun/detail/operation.hpp>

#include <atomic>
#include <cstddef>

namespace nanorun {
class runtime;
} // namespace nanorun

namespace nanorun::detail {

class task_queue : public operation
{
public:
  // Creates a queue holding one reference, for the caller.
  static task_queue* create(nanorun::runtime& rt);

  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept;

  // Any thread. Never runs the operation inline.
  void enqueue(operation* op);

  // Whether the calling thread is running this queue's handlers right now.
  bool running_in_this_thread() const noexcept;

  nanorun::runtime& owner() const noexcept { return *rt_; }

protected:
  using destroy_fn = void (*)(task_queue*) noexcept;
  task_queue(nanorun::runtime& rt, destroy_fn on_last_release) noexcept;
  ~task_queue() = default;

private:
  static void destroy_plain(task_queue* q) noexcept;
  static void run(operation* base, bool invoke);
  bool take_inbox() noexcept;
  void destroy_queued() noexcept;
  void finish_turn(bool more) noexcept;

  static constexpr int budget = 64; // operations per turn before re-posting, for fairness

  nanorun::runtime* rt_;
  destroy_fn destroy_;
  std::atomic<operation*> inbox_{nullptr}; // pushed by anyone; exchanged by the runner (seq_cst)
  std::atomic<bool> scheduled_{false};     // the runner is queued or running (seq_cst)
  std::atomic<std::size_t> refs_{1};       // executor copies + 1 while scheduled
  op_queue ready_;                         // runner only
};

// The queues whose handlers the calling thread is running (innermost first).
struct task_marker
{
  const task_queue* queue;
  const task_marker* outer;
};
extern constinit thread_local const task_marker* this_thread_task_marker;

inline bool task_queue::running_in_this_thread() const noexcept
{
  for (const task_marker* m = this_thread_task_marker; m; m = m->outer)
    if (m->queue == this)
      return true;
  return false;
}

} // namespace nanorun::detail
