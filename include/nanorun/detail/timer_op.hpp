// The operation a timer wait queues, and the non-template entry points that
// basic_waitable_timer calls (implemented in src/runtime/timer_service.cpp).
#pragma once

#include <nanorun/detail/operation.hpp>

#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>

namespace nanorun {
class runtime;
}

namespace nanorun::detail {

struct timer_state; // the timer's node in its runtime's wheel (src/time/timer_queue.hpp)

// A pending async_wait. Linked into its timer's list of waiters while the
// timer is armed; queued on the runtime (through operation::next_) once it
// completes.
class timer_wait_op : public operation
{
public:
  timer_wait_op* wait_prev = nullptr; // waiter list; guarded by the timer's shard lock
  timer_wait_op* wait_next = nullptr;
  // Set before the op is queued: a timer wait ends with success or
  // operation_aborted, so a flag carries it (an error_code would take the
  // op past 128 bytes, into the next size class, with any_io_executor).
  bool aborted = false;
  // The address of the cancellation handler installed for this wait (null if
  // none): per-operation cancellation finds the wait by it. Not the op's own
  // address, which the next wait may reuse (the op cache), so that a late
  // signal for a finished wait cannot abort a newer one.
  const void* cancel_key = nullptr;

protected:
  using operation::operation;
  ~timer_wait_op() = default;
};

// For clocks other than steady_clock: how far the clock still is from the
// expiry, in nanoseconds (<= 0 when reached). Checked when the steady deadline
// fires, so a clock that was set back never makes a timer fire early.
using timer_remaining_fn = std::int64_t (*)(std::int64_t expiry_ns);

// Room for a timer's state inside the timer object, so that arming a timer
// allocates nothing but its waiter (timer_service.cpp checks that it fits).
struct alignas(8) timer_state_storage
{
  unsigned char bytes[96];
};

// What a per-operation cancellation handler holds: it finds the timer's state
// (which moves with the timer object) under the timer's lock. Created on the
// first wait that has a cancellation slot, then shared by every handler.
struct timer_anchor;

// Constructs the timer's state at `at`, in rt's timer queue.
timer_state* timer_init(runtime& rt, timer_state_storage& at);

// Moves the state `from` (with its place in the wheel and its waiters) into
// `to`; `from` is left as a fresh state of the same queue, for the moved-from
// timer. `runtime_alive`: false once the runtime has been destroyed (nothing
// is linked any more, and nothing is locked).
timer_state* timer_relocate(timer_state* from, timer_state_storage& to, bool runtime_alive) noexcept;

// Completes every pending wait with operation_aborted and destroys the state
// (it is left unconstructed).
void timer_destroy(timer_state* s) noexcept;

// Destroys the state of a timer whose runtime has been destroyed (its waits
// and its wheel went with the runtime: nothing else is touched).
void timer_discard(timer_state* s) noexcept;

// Queues op. It completes (never inside this call) when the steady clock
// reaches `deadline` (nanoseconds since the steady epoch), or with
// operation_aborted when cancelled. `remaining` may be null.
void timer_wait(timer_state* s, timer_wait_op* op, std::int64_t deadline, timer_remaining_fn remaining,
                std::int64_t clock_expiry);

// Completes up to `max` pending waits, oldest first, with operation_aborted.
std::size_t timer_cancel(timer_state* s, std::size_t max);

// The timer's anchor with one more reference (creating it on first use; may
// throw std::bad_alloc then). Called by the thread that uses the timer.
timer_anchor* timer_anchor_acquire(timer_state* s);

// Drops a reference taken by timer_anchor_acquire.
void timer_anchor_release(timer_anchor* a) noexcept;

// Per-operation cancellation: completes the wait whose cancel_key is `key`
// with operation_aborted if it is still pending on the anchor's timer; does
// nothing otherwise (it may have completed already, the timer may be gone).
void timer_cancel_wait(timer_anchor* a, const void* key) noexcept;

} // namespace nanorun::detail
