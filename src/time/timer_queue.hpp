// A runtime's timers: wheels behind per-shard locks.
//
// SHARDS. A runtime keeps one wheel per shard (one shard per expected worker,
// at most 16), each behind its own small spin lock. A timer is bound to the
// shard of the thread that created it, for life, so every arm, cancel and
// per-operation cancellation of one timer takes the same lock; timers created
// on different workers never share one, and there is no global timer lock.
// Cancellation from another thread (a `||` finishing elsewhere) takes the
// timer's shard lock too; it is short and rarely contended.
//
// WHO FIRES. Any worker may call expire(now): it takes each shard whose
// `next` has passed, advances its wheel and hands back the completed waits.
// Workers do so every few dozen handlers and before they park; the parking
// worker that holds the driver role sleeps until earliest() (see
// src/executor/scheduler.hpp, TIMERS).
//
// PUBLISHING THE NEXT DEADLINE. Each shard's `next` mirrors its wheel's
// next_deadline(); it is stored under the lock with seq_cst so that an arming
// thread's "store next, then read the driver's sleep deadline" and the
// driver's "store my deadline, then read every next" form a store-buffering
// pair: one of them sees the other (no timer is slept through).
#pragma once

#include "time/wheel.hpp"

#include <nanorun/detail/operation.hpp>
#include <nanorun/detail/timer_op.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <new>

namespace nanorun::detail {

// The steady clock in the wheel's unit.
inline timer_ns steady_now() noexcept
{
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A test-and-test-and-set lock: the critical sections are a few list
// operations, far shorter than a futex round trip.
class spin_lock
{
public:
  void lock() noexcept;
  void unlock() noexcept { locked_.store(false, std::memory_order_release); } // pairs with lock()'s acquire
  bool try_lock() noexcept { return !locked_.exchange(true, std::memory_order_acquire); }

private:
  std::atomic<bool> locked_{false};
};

struct alignas(64) timer_shard
{
  explicit timer_shard(timer_ns now) : wheel(now) {}
  spin_lock lock;
  timer_wheel wheel;                         // guarded by lock
  std::atomic<timer_ns> next{timer_never};   // see PUBLISHING; stored under lock
  bool shut_down = false;                    // guarded by lock
};

struct timer_state;

// See timer_op.hpp. `state` is read under shard->lock by cancellation
// handlers; a move or the timer's destruction writes it under that lock (it
// is written without it only when the anchor is made, before any handler
// holds it, and once the runtime is gone, when handlers no longer look).
struct timer_anchor
{
  timer_shard* shard; // the state's, fixed for the timer's life
  void* owner;        // the state's scheduler, likewise
  timer_state* state;
  std::atomic<std::uint32_t> refs; // the state's and each handler's; acq_rel decrements, the last frees
};

// One timer object's node, inside the timer object (timer_state_storage).
// MOVES. The timer object moves; its state moves with it (timer_relocate):
// under the shard lock the wheel's neighbours are pointed at the new place
// and the anchor follows. Waiters never point back at the state.
struct timer_state : timer_entry
{
  timer_shard* shard = nullptr;   // fixed for life (a moved-from state keeps it)
  void* owner = nullptr;          // the scheduler (opaque to this layer)
  timer_wait_op* first = nullptr; // waiters, oldest first; guarded by shard->lock
  timer_wait_op* last = nullptr;
  timer_remaining_fn remaining = nullptr; // guarded by shard->lock
  std::int64_t clock_expiry = 0;          // guarded by shard->lock
  timer_anchor* anchor = nullptr;         // used by the timer's own thread; see timer_anchor

  // `first` is written under the lock, always through set_first, so that
  // the timer's own thread may read it without the lock: only that thread
  // adds waiters, so if it reads null there is nothing to cancel, and
  // cancel(), expires_after() and the destruction of an idle timer skip the
  // lock (a lock is a full barrier, which waits for the caller's cache
  // misses instead of overlapping them with the next timer's). Another
  // thread that empties the list (expire(), a cancellation handler) makes
  // set_first its last write to the state: its release pairs with
  // may_have_waiters()'s acquire, after which the owner may destroy the
  // timer.
  void set_first(timer_wait_op* op) noexcept { std::atomic_ref(first).store(op, std::memory_order_release); }
  bool may_have_waiters() noexcept { return std::atomic_ref(first).load(std::memory_order_acquire) != nullptr; }

  // Constructs at `to` a copy that takes the waiters and the anchor; this
  // state keeps its shard and owner and is left with neither. Its place in
  // the wheel (prev, next, where, index) is left for timer_wheel::relocate
  // to read. Under the shard lock while the runtime lives.
  timer_state* move_into(void* to) noexcept
  {
    auto* s = ::new (to) timer_state(*this);
    if (s->anchor)
      s->anchor->state = s;
    set_first(nullptr);
    last = nullptr;
    anchor = nullptr;
    return s;
  }

  // Detaches the anchor (returned, for the caller to release): handlers
  // that still hold it find no timer. Under the shard lock while the runtime
  // lives.
  timer_anchor* detach_anchor() noexcept
  {
    timer_anchor* a = anchor;
    anchor = nullptr;
    if (a)
      a->state = nullptr;
    return a;
  }
};

class timer_queue
{
public:
  timer_queue(std::size_t shards, timer_ns now);
  ~timer_queue();
  timer_queue(const timer_queue&) = delete;
  timer_queue& operator=(const timer_queue&) = delete;

  std::size_t shard_count() const noexcept { return count_; }
  timer_shard& shard(std::size_t hint) noexcept { return *shards_[hint % count_]; }

  enum class wait_result { armed, armed_earlier, shut_down };

  // Adds op to s's waiters. `armed_earlier`: the shard's next deadline moved
  // earlier, to `deadline` or before (a deadline already past is fired by
  // the next expire()). `shut_down`: the queue is shut down and the op was
  // not linked. Reads no clock unless the shard was empty.
  wait_result wait(timer_state& s, timer_wait_op* op, timer_ns deadline, timer_remaining_fn remaining,
                   std::int64_t clock_expiry);

  // Moves up to max waiters of s, oldest first, to out with operation_aborted.
  std::size_t cancel(timer_state& s, std::size_t max, op_queue& out);

  // Moves the waiter whose cancel_key is `key` to out with
  // operation_aborted, if the anchor's state (if it still has one) has it.
  bool cancel_wait(timer_anchor& a, const void* key, op_queue& out) noexcept;

  // Constructs at `to` a copy of `from` that takes its place in the wheel,
  // its waiters and its anchor; `from` is left fresh (see MOVES).
  timer_state* relocate(timer_state& from, void* to) noexcept;

  // Moves every waiter to out with operation_aborted, unlinks s and detaches
  // its anchor (returned, for the caller to release outside the lock).
  timer_anchor* retire(timer_state& s, op_queue& out) noexcept;

  // Fires everything due at `now`, appending completed waits to out.
  std::size_t expire(timer_ns now, op_queue& out);

  // Stages entries of the coming 64 ms (see STAGING in wheel.hpp) in shards
  // whose lock is free, at most `budget` per shard. Returns true if any shard
  // has more to stage.
  bool prepare(std::size_t budget) noexcept;

  // The earliest next deadline over all shards (timer_never if none).
  timer_ns earliest() const noexcept;

  // Takes every pending wait (to be destroyed, not run) and refuses new ones.
  void shutdown(op_queue& out);

private:
  void publish(timer_shard& sh) noexcept;
  void publish_later(timer_shard& sh) noexcept; // after a removal; see there
  static void take_waiters(timer_state& s, std::size_t max, bool aborted, op_queue& out);

  std::size_t count_;
  std::unique_ptr<std::unique_ptr<timer_shard>[]> shards_;
};

} // namespace nanorun::detail
