// The typed half of a timer wait: owns the handler, tracks work on the
// handler's executor, and delivers the completion there.
#pragma once

#include <nanorun/detail/handler_work.hpp>
#include <nanorun/detail/op_memory.hpp>
#include <nanorun/detail/timer_op.hpp>
#include <nanorun/runtime.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/query.hpp>

#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/detail/bind_handler.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/prefer.hpp>

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <type_traits>
#include <utility>

namespace nanorun::detail {

// Nanoseconds in d, clamped to what an int64 holds.
template <class Rep, class Period>
std::int64_t saturating_ns(const std::chrono::duration<Rep, Period>& d) noexcept
{
  using limits = std::numeric_limits<std::int64_t>;
  using wide = std::chrono::duration<long double, std::nano>;
  const long double n = std::chrono::duration_cast<wide>(d).count();
  if (n >= static_cast<long double>(limits::max()))
    return limits::max();
  if (n <= static_cast<long double>(limits::min()))
    return limits::min();
  return static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
}

inline std::int64_t saturating_add(std::int64_t a, std::int64_t b) noexcept
{
  std::int64_t r;
  if (__builtin_add_overflow(a, b, &r))
    return b > 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
  return r;
}

// Installed in the handler's cancellation slot. Its own address is the key
// its wait carries (timer_wait_op::cancel_key), looked up under the timer's
// lock, so a signal emitted after the wait completed finds nothing and does
// nothing (as Asio's own timers do). It reaches the timer through the
// anchor, which follows the timer's state when the timer object moves.
class timer_cancel_handler
{
public:
  timer_cancel_handler(runtime_ref rt, timer_anchor* a) noexcept : rt_(rt), anchor_(a) {}
  timer_cancel_handler(const timer_cancel_handler&) = delete;
  timer_cancel_handler& operator=(const timer_cancel_handler&) = delete;
  ~timer_cancel_handler() { timer_anchor_release(anchor_); }

  void operator()(boost::asio::cancellation_type_t type) const noexcept
  {
    // A timer wait has no side effects, so all three kinds just end it. A
    // signal after the runtime's destruction finds nothing (it destroyed
    // the wait).
    using ct = boost::asio::cancellation_type;
    if ((type & (ct::terminal | ct::partial | ct::total)) != ct::none && rt_.get())
      timer_cancel_wait(anchor_, this);
  }

private:
  runtime_ref rt_;
  timer_anchor* anchor_;
};

template <class Handler, class IoExecutor>
class timer_wait_handler final : public timer_wait_op
{
public:
  using allocator_type = boost::asio::associated_allocator_t<Handler>;

  template <class H>
  static timer_wait_handler* create(H&& h, const IoExecutor& io_ex, const runtime& rt)
  {
    allocator_type a = boost::asio::get_associated_allocator(h);
    void* mem = memory::allocate(a);
    try
    {
      return ::new (mem) timer_wait_handler(std::forward<H>(h), io_ex, rt);
    }
    catch (...)
    {
      memory::deallocate(a, mem);
      throw;
    }
  }

  Handler& handler() noexcept { return handler_; }

private:
  using memory = op_allocation<timer_wait_handler, allocator_type>;

  template <class H>
  timer_wait_handler(H&& h, const IoExecutor& io_ex, const runtime& rt)
      : timer_wait_op(&timer_wait_handler::do_complete), handler_(std::forward<H>(h)), work_(handler_, io_ex, rt)
  {
  }

  static void do_complete(operation* base, bool invoke)
  {
    auto* self = static_cast<timer_wait_handler*>(base);
    const boost::system::error_code ec =
        self->aborted ? boost::system::error_code(boost::asio::error::operation_aborted) : boost::system::error_code();
    Handler h(std::move(self->handler_));
    handler_work<Handler, IoExecutor> work(std::move(self->work_));
    allocator_type a = boost::asio::get_associated_allocator(h);
    // Free the op before the upcall: the handler may start the next wait.
    self->~timer_wait_handler();
    memory::deallocate(a, self);
    if (invoke)
      work.complete(h, ec);
  }

  Handler handler_;
  handler_work<Handler, IoExecutor> work_;
};

} // namespace nanorun::detail
