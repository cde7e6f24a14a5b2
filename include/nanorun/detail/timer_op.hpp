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
  boost::system::error_code ec;       // set before the op is queued

protected:
  using operation::operation;
  ~timer_wait_op() = default;
};

// For clocks other than steady_clock: how far the clock still is from the
// expiry, in nanoseconds (<= 0 when reached). Checked when the steady deadline
// fires, so a clock that was set back never makes a timer fire early.
using timer_remaining_fn = std::int64_t (*)(std::int64_t expiry_ns);

// Creates the timer's state in rt's timer queue.
timer_state* timer_create(runtime& rt);

// Completes every pending wait with operation_aborted and frees the state.
void timer_destroy(timer_state* s) noexcept;

// Frees the state of a timer whose runtime has been destroyed (its waits and
// its wheel went with the runtime: nothing else is touched).
void timer_discard(timer_state* s) noexcept;

// Queues op. It completes (never inside this call) when the steady clock
// reaches `deadline` (nanoseconds since the steady epoch), or with
// operation_aborted when cancelled. `remaining` may be null.
void timer_wait(timer_state* s, timer_wait_op* op, std::int64_t deadline, timer_remaining_fn remaining,
                std::int64_t clock_expiry);

// Completes up to `max` pending waits, oldest first, with operation_aborted.
std::size_t timer_cancel(timer_state* s, std::size_t max);

// Per-operation cancellation: completes `key` with operation_aborted if it is
// still pending on s; does nothing otherwise (it may have completed already).
void timer_cancel_wait(timer_state* s, const timer_wait_op* key) noexcept;

} // namespace nanorun::detail
