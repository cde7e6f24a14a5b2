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

#include <boost/asio/error.hpp>

namespace nanorun::detail {

namespace {
scheduler& owner_of(timer_state* s) noexcept
{
  return *static_cast<scheduler*>(s->owner);
}
} // namespace

timer_state* timer_create(runtime& rt)
{
  scheduler& sched = rt.scheduler_impl();
  auto* s = new timer_state;
  s->owner = &sched;
  s->shard = &sched.timers().shard(sched.timer_shard_hint());
  return s;
}

void timer_destroy(timer_state* s) noexcept
{
  if (!s)
    return;
  timer_cancel(s, static_cast<std::size_t>(-1));
  delete s;
}

void timer_discard(timer_state* s) noexcept
{
  delete s;
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
  switch (r)
  {
  case timer_queue::wait_result::armed:
    return;
  case timer_queue::wait_result::armed_earlier:
    sched.timer_armed_earlier(deadline);
    return;
  case timer_queue::wait_result::shut_down:
    // The runtime is being destroyed: queue it, to be destroyed unrun.
    op->ec = boost::asio::error::operation_aborted;
    break;
  }
  op_queue one;
  one.push(op);
  sched.post_counted(one);
}

std::size_t timer_cancel(timer_state* s, std::size_t max)
{
  op_queue aborted;
  const std::size_t n = owner_of(s).timers().cancel(*s, max, aborted);
  owner_of(s).post_counted(aborted);
  return n;
}

void timer_cancel_wait(timer_state* s, const timer_wait_op* key) noexcept
{
  op_queue aborted;
  if (owner_of(s).timers().cancel_wait(*s, key, aborted))
    owner_of(s).post_counted(aborted);
}

} // namespace nanorun::detail
