// Sharded timer queue; the protocol is described in timer_queue.hpp.
#include "time/timer_queue.hpp"

#include <nanorun/detail/cpu_relax.hpp>

#include "sys/perturb.hpp"


#include <algorithm>
#include <mutex>
#include <thread>

namespace nanorun::detail {

void spin_lock::lock() noexcept
{
  for (unsigned spins = 0;; ++spins)
  {
    // Acquire: pairs with unlock()'s release.
    if (!locked_.exchange(true, std::memory_order_acquire))
    {
      // A holder that stalls inside the critical section.
      NANORUN_PERTURB_POINT();
      return;
    }
    while (locked_.load(std::memory_order_relaxed))
    {
      cpu_relax();
      // The holder may have been preempted (two cores, many threads): let
      // it run rather than burn its time slice.
      if (++spins > 64)
        std::this_thread::yield();
    }
  }
}

timer_queue::timer_queue(std::size_t shards, timer_ns now)
    : count_(std::clamp<std::size_t>(shards, 1, 16)),
      shards_(std::make_unique<std::unique_ptr<timer_shard>[]>(count_))
{
  for (std::size_t i = 0; i < count_; ++i)
    shards_[i] = std::make_unique<timer_shard>(now);
}

timer_queue::~timer_queue() = default;

void timer_queue::publish(timer_shard& sh) noexcept
{
  NANORUN_PERTURB_POINT();
  // SeqCst: see PUBLISHING in timer_queue.hpp.
  sh.next.store(sh.wheel.next_deadline(), std::memory_order_seq_cst);
}

void timer_queue::publish_later(timer_shard& sh) noexcept
{
  // After a removal the next deadline can only stay or move later. Nobody
  // needs to see that at once (a driver that sleeps until the old deadline
  // wakes early, finds nothing due, and reads again), so this is a plain
  // store, and none when it did not change: a seq_cst store is a full fence,
  // which would wait for the cache misses of the cancel (the timer, its
  // waiter, its bucket) instead of letting the next cancel's overlap them.
  // Relaxed: only ever moves `next` later; the arming side's seq_cst store
  // (an earlier deadline) is what the store-buffering pair protects.
  const timer_ns next = sh.wheel.next_deadline();
  NANORUN_PERTURB_POINT();
  if (sh.next.load(std::memory_order_relaxed) != next)
    sh.next.store(next, std::memory_order_relaxed);
}

timer_queue::wait_result timer_queue::wait(timer_state& s, timer_wait_op* op, timer_ns deadline,
                                           timer_remaining_fn remaining, std::int64_t clock_expiry)
{
  timer_shard& sh = *s.shard;
  std::lock_guard lock(sh.lock);
  if (sh.shut_down)
    return wait_result::shut_down;
  op->wait_next = nullptr;
  if (s.first)
  {
    // Armed already, for the same expiry (changing it cancels the waiters):
    // join them.
    op->wait_prev = s.last;
    s.last->wait_next = op;
    s.last = op;
    return wait_result::armed;
  }
  if (sh.wheel.empty())
  {
    // Nothing to fire: bring the wheel's clock up to date, so the new entry
    // is placed relative to now rather than to the last time it was used.
    timer_entry_list none;
    sh.wheel.advance(steady_now(), none);
  }
  s.deadline = deadline;
  s.remaining = remaining;
  s.clock_expiry = clock_expiry;
  sh.wheel.insert(&s);
  op->wait_prev = nullptr;
  s.set_first(op);
  s.last = op;
  const timer_ns before = sh.next.load(std::memory_order_relaxed);
  if (deadline < before)
  {
    publish(sh);
    return wait_result::armed_earlier;
  }
  return wait_result::armed;
}

void timer_queue::take_waiters(timer_state& s, std::size_t max, bool aborted,
                               op_queue& out)
{
  std::size_t n = 0;
  timer_wait_op* first = s.first;
  while (first && n < max)
  {
    timer_wait_op* op = first;
    // The last waiter's link is known to be null without reading it: a
    // lone waiter (the usual case) is then only written here, and the cache
    // miss on it overlaps whatever comes next instead of stalling this.
    first = op == s.last ? nullptr : op->wait_next;
    op->wait_prev = op->wait_next = nullptr;
    op->aborted = aborted;
    out.push(op);
    ++n;
  }
  if (first)
    first->wait_prev = nullptr;
  else
    s.last = nullptr;
  // The last write to s (see timer_state::set_first): the timer's own thread
  // may destroy it as soon as it reads null here.
  s.set_first(first);
}

std::size_t timer_queue::cancel(timer_state& s, std::size_t max, op_queue& out)
{
  timer_shard& sh = *s.shard;
  std::lock_guard lock(sh.lock);
  const std::size_t before = out.size();
  take_waiters(s, max, true, out);
  if (!s.first && s.armed())
  {
    sh.wheel.remove(&s);
    publish_later(sh);
  }
  return out.size() - before;
}

bool timer_queue::cancel_wait(timer_anchor& a, const void* key, op_queue& out) noexcept
{
  timer_shard& sh = *a.shard;
  std::lock_guard lock(sh.lock);
  timer_state* s = a.state;
  if (!s)
    return false; // the timer is gone
  // Found among the pending waiters (whose memory is live) by the key of the
  // handler that asks: a wait that has completed is not there.
  timer_wait_op* op = s->first;
  while (op && op->cancel_key != key)
    op = op->wait_next;
  if (!op)
    return false;
  timer_wait_op* first = s->first;
  if (op->wait_prev)
    op->wait_prev->wait_next = op->wait_next;
  else
    first = op->wait_next;
  if (op->wait_next)
    op->wait_next->wait_prev = op->wait_prev;
  else
    s->last = op->wait_prev;
  op->wait_prev = op->wait_next = nullptr;
  op->aborted = true;
  out.push(op);
  if (!first && s->armed())
  {
    sh.wheel.remove(s);
    publish_later(sh);
  }
  // The last write to *s: this runs on any thread, and the timer's own
  // thread may destroy the timer as soon as it reads null here.
  s->set_first(first);
  return true;
}

timer_state* timer_queue::relocate(timer_state& from, void* to) noexcept
{
  timer_shard& sh = *from.shard;
  std::lock_guard lock(sh.lock);
  timer_state* s = from.move_into(to);
  // The wheel holds the entry by address; the neighbours learn the new one.
  // The next deadline is unchanged.
  sh.wheel.relocate(&from, s);
  return s;
}

timer_anchor* timer_queue::retire(timer_state& s, op_queue& out) noexcept
{
  timer_shard& sh = *s.shard;
  std::lock_guard lock(sh.lock);
  take_waiters(s, static_cast<std::size_t>(-1), true, out);
  if (s.armed())
  {
    sh.wheel.remove(&s);
    publish_later(sh);
  }
  return s.detach_anchor();
}

std::size_t timer_queue::expire(timer_ns now, op_queue& out)
{
  std::size_t n = 0;
  for (std::size_t i = 0; i < count_; ++i)
  {
    timer_shard& sh = *shards_[i];
    if (sh.next.load(std::memory_order_relaxed) > now)
      continue;
    NANORUN_PERTURB_POINT();
    std::lock_guard lock(sh.lock);
    timer_entry_list fired;
    sh.wheel.advance(now, fired);
    while (timer_entry* e = fired.pop())
    {
      auto& s = static_cast<timer_state&>(*e);
      if (s.remaining)
      {
        // A clock other than steady_clock: fire only once that clock agrees.
        const std::int64_t left = s.remaining(s.clock_expiry);
        if (left > 0)
        {
          s.deadline = now + left;
          sh.wheel.insert(&s);
          continue;
        }
      }
      n += s.first ? 1 : 0;
      take_waiters(s, static_cast<std::size_t>(-1), false, out);
    }
    publish(sh);
  }
  return n;
}

bool timer_queue::prepare(std::size_t budget) noexcept
{
  bool more = false;
  for (std::size_t i = 0; i < count_; ++i)
  {
    timer_shard& sh = *shards_[i];
    if (sh.next.load(std::memory_order_relaxed) == timer_never || !sh.lock.try_lock())
      continue;
    more |= sh.wheel.prepare(budget);
    publish(sh); // staging can only move the next deadline later
    sh.lock.unlock();
  }
  return more;
}

timer_ns timer_queue::earliest() const noexcept
{
  timer_ns best = timer_never;
  for (std::size_t i = 0; i < count_; ++i)
  {
    NANORUN_PERTURB_POINT();
    best = std::min(best, shards_[i]->next.load(std::memory_order_seq_cst));
  }
  return best;
}

void timer_queue::shutdown(op_queue& out)
{
  for (std::size_t i = 0; i < count_; ++i)
  {
    timer_shard& sh = *shards_[i];
    std::lock_guard lock(sh.lock);
    sh.shut_down = true;
    // Everything armed is reachable through the wheel: drain it by firing
    // "at the end of time", then hand the waiters over.
    timer_entry_list all;
    sh.wheel.advance(timer_never, all);
    while (timer_entry* e = all.pop())
      take_waiters(static_cast<timer_state&>(*e), static_cast<std::size_t>(-1), true, out);
    publish(sh);
  }
}

} // namespace nanorun::detail
