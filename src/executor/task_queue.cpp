// task_queue: see include/nanorun/detail/task_queue.hpp for the protocol.
#include <nanorun/detail/op_memory.hpp>
#include <nanorun/detail/task_queue.hpp>
#include <nanorun/runtime.hpp>

#include "executor/scheduler.hpp"

#include <new>

namespace nanorun::detail {

constinit thread_local const task_marker* this_thread_task_marker = nullptr;

task_queue* task_queue::create(nanorun::runtime& rt)
{
  // A queue on its own (task_executor(rt)); nanorun::spawn embeds its queue in
  // the task's one block instead (spawned_task.hpp).
  return ::new (allocate_op_memory(sizeof(task_queue))) task_queue(rt, &task_queue::destroy_plain);
}

task_queue::task_queue(nanorun::runtime& rt, destroy_fn on_last_release) noexcept
    : operation(&task_queue::run), rt_(&rt), destroy_(on_last_release)
{
}

void task_queue::destroy_plain(task_queue* q) noexcept
{
  q->~task_queue();
  deallocate_op_memory(q, sizeof(task_queue));
}

void task_queue::release() noexcept
{
  NANORUN_PERTURB_POINT();
  // AcqRel: the last owner must see every other owner's writes before deleting.
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1)
    destroy_(this);
}

void task_queue::enqueue(operation* op)
{
  operation* head = inbox_.load(std::memory_order_relaxed);
  do
    op->next_ = head;
  while (!inbox_.compare_exchange_weak(head, op, std::memory_order_seq_cst, std::memory_order_relaxed));
  // The window between pushing and claiming the runner (see finish_turn).
  NANORUN_PERTURB_POINT();
  // SeqCst: pairs with the store/load in finish_turn(); see PROTOCOL.
  if (!scheduled_.exchange(true, std::memory_order_seq_cst))
  {
    add_ref(); // the runner's reference, dropped when it goes idle
    rt_->post_op(this, false);
  }
}

bool task_queue::take_inbox() noexcept
{
  operation* stack = inbox_.exchange(nullptr, std::memory_order_seq_cst);
  if (!stack)
    return false;
  ready_.push_stack(stack);
  return true;
}

void task_queue::finish_turn(bool more) noexcept
{
  if (!more && ready_.empty())
  {
    scheduled_.store(false, std::memory_order_seq_cst);
    // A producer that pushed before our clear may have seen scheduled_ set and
    // not posted us: look once more.
    NANORUN_PERTURB_POINT();
    if (inbox_.load(std::memory_order_seq_cst) == nullptr || scheduled_.exchange(true, std::memory_order_seq_cst))
    {
      release();
      return;
    }
  }
  // Keep the runner's reference and queue another turn. When the handler just
  // run yielded, the scheduler puts this turn behind the runnable work.
  rt_->post_op(this, false);
}

void task_queue::run(operation* base, bool invoke)
{
  auto* self = static_cast<task_queue*>(base);
  if (!invoke)
  {
    self->destroy_queued();
    return;
  }

  task_marker marker{self, this_thread_task_marker};
  this_thread_task_marker = &marker;
  struct turn_guard
  {
    task_queue* self;
    const task_marker* outer;
    bool more = false;
    ~turn_guard()
    {
      this_thread_task_marker = outer;
      self->finish_turn(more || !self->ready_.empty());
    }
  } guard{self, marker.outer};

  thread_state* ts = this_thread_state;
  for (int n = 0; n < budget; ++n)
  {
    if (self->ready_.empty() && !self->take_inbox())
      return;
    operation* op = self->ready_.pop();
    if (ts && ts->counters)
      ts->counters->add(worker_counters::task_steps);
    op->complete(); // an exception leaves through run(); the guard re-posts us first
    if (ts && ts->yielding)
    {
      guard.more = true; // let the rest of the runtime go first
      return;
    }
  }
  guard.more = self->take_inbox() || !self->ready_.empty();
}

void task_queue::destroy_queued() noexcept
{
  // The runtime is being destroyed. Destroying an operation may enqueue
  // another here (a coroutine frame's destruction is posted to its executor);
  // while scheduled_ stays set such pushes land in the inbox, so loop.
  for (;;)
  {
    take_inbox();
    if (ready_.empty())
      break;
    while (operation* op = ready_.pop())
      op->destroy();
  }
  scheduled_.store(false, std::memory_order_seq_cst);
  if (inbox_.load(std::memory_order_seq_cst) != nullptr && !scheduled_.exchange(true, std::memory_order_seq_cst))
  {
    rt_->post_op(this, false); // the runtime's drain will destroy us again
    return;
  }
  release();
}

} // namespace nanorun::detail
