// The runtime layer's glue for timers: basic_waitable_timer's non-template
// entry points, joining the time layer (the wheels) to the executor layer
// (who fires them, and where completions run).
//
// A pending wait is outstanding work, as with io_context: it is counted when
// it starts waiting, and the count is given back when its completion runs
// (or is destroyed with the runtime). Completions never run inside the call
// that produced them; they are queued on the runtime.
#include <nanorun/detail/timer_op.hpp>
#include <nanorun/runtime.hpp>

#include "executor/scheduler.hpp"

#include <new>

namespace nanorun::detail {

namespace {
scheduler& owner_of(timer_state* s) noexcept
{
  return *static_cast<scheduler*>(s->owner);
}
} // namespace

static_assert(sizeof(timer_state) <= sizeof(timer_state_storage), "timer_state_storage is too small");
static_assert(alignof(timer_state) <= alignof(timer_state_storage), "timer_state_storage is under-aligned");

timer_state* timer_init(runtime& rt, timer_state_storage& at)
{
  scheduler& sched = rt.scheduler_impl();
  auto* s = ::new (static_cast<void*>(&at)) timer_state;
  s->owner = &sched;
  s->shard = &sched.timers().shard(sched.timer_shard_hint());
  return s;
}

timer_state* timer_relocate(timer_state* from, timer_state_storage& to, bool runtime_alive) noexcept
{
  if (runtime_alive)
    return owner_of(from).timers().relocate(*from, &to);
  // The runtime is gone: its shutdown unlinked everything and no handler
  // looks (they check the runtime first), so no lock and no wheel.
  return from->move_into(&to);
}

void timer_destroy(timer_state* s) noexcept
{
  if (!s->anchor && !s->may_have_waiters())
  {
    // Idle (see timer_state::set_first): nothing in the wheel, nothing to
    // detach, no lock.
    s->~timer_state();
    return;
  }
  op_queue aborted;
  timer_anchor* a = owner_of(s).timers().retire(*s, aborted);
  owner_of(s).post_counted(aborted);
  s->~timer_state();
  timer_anchor_release(a);
}

void timer_discard(timer_state* s) noexcept
{
  timer_anchor* a = s->detach_anchor();
  s->~timer_state();
  timer_anchor_release(a);
}

timer_anchor* timer_anchor_acquire(timer_state* s)
{
  if (!s->anchor)
  {
    // Published to handlers on other threads by the cancellation slot's own
    // synchronisation (whoever emits the signal saw the handler installed).
    s->anchor = new timer_anchor{s->shard, s->owner, s, {1}};
  }
  // Relaxed: a reference is being copied from one this thread holds.
  s->anchor->refs.fetch_add(1, std::memory_order_relaxed);
  return s->anchor;
}

void timer_anchor_release(timer_anchor* a) noexcept
{
  // AcqRel: the last one out frees, after every other holder is done with it.
  if (a && a->refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
    delete a;
}

void timer_wait(timer_state* s, timer_wait_op* op, std::int64_t deadline, timer_remaining_fn remaining,
                std::int64_t clock_expiry)
{
  scheduler& sched = owner_of(s);
  sched.work_started();
  timer_queue::wait_result r;
  try
  {
    r = sched.timers().wait(*s, op, deadline, remaining, clock_expiry);
  }
  catch (...)
  {
    sched.work_finished();
    throw;
  }
  if (r != timer_queue::wait_result::shut_down)
    sched.count_timer_armed();
  switch (r)
  {
  case timer_queue::wait_result::armed:
    return;
  case timer_queue::wait_result::armed_earlier:
    sched.timer_armed_earlier(deadline);
    return;
  case timer_queue::wait_result::shut_down:
    // The runtime is being destroyed: queue it, to be destroyed unrun.
    op->aborted = true;
    break;
  }
  op_queue one;
  one.push(op);
  sched.post_counted(one);
}

std::size_t timer_cancel(timer_state* s, std::size_t max)
{
  if (!s->may_have_waiters())
    return 0; // see timer_state::set_first
  op_queue aborted;
  const std::size_t n = owner_of(s).timers().cancel(*s, max, aborted);
  owner_of(s).post_counted(aborted);
  return n;
}

void timer_cancel_wait(timer_anchor* a, const void* key) noexcept
{
  // The anchor's shard and scheduler stay with the timer through its moves;
  // its state may be gone, which cancel_wait sees under the lock.
  scheduler& sched = *static_cast<scheduler*>(a->owner);
  op_queue aborted;
  if (sched.timers().cancel_wait(*a, key, aborted))
    sched.post_counted(aborted);
}

} // namespace nanorun::detail
