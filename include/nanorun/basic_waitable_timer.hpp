// nanorun::basic_waitable_timer: Asio's waitable timer, on nanorun's wheel.
#pragma once

#include <nanorun/detail/handler_work.hpp>
#include <nanorun/detail/runtime_service.hpp>
#include <nanorun/detail/timer_op.hpp>
#include <nanorun/detail/timer_wait_handler.hpp>
#include <nanorun/runtime.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution/executor.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/wait_traits.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>

namespace nanorun {

/// A waitable timer with the interface of boost::asio::basic_waitable_timer.
/**
 * Waits are kept in the runtime's hierarchical timer wheel (O(1) to arm and
 * cancel) and fire at their exact deadline. The executor's execution context
 * must be a nanorun::runtime; constructing a timer on anything else throws
 * std::invalid_argument.
 *
 * Mirrors boost::asio::basic_waitable_timer (Asio 1.26). Differences:
 * - the executor must belong to a nanorun::runtime (Asio's takes any
 *   context);
 * - a wait whose deadline has already passed completes at the runtime's
 *   next look at its timers, not through an immediate post (never inside
 *   async_wait);
 * - due timers are fired by whichever worker notices first;
 * - the timer may outlive its runtime: destroying it, cancel() (which then
 *   returns 0) and the expires_* members stay safe, and async_wait throws
 *   (doc/bad-input.md).
 *
 * @par Thread safety
 * Distinct objects: safe. Shared objects: unsafe, as with Asio. Per-operation
 * cancellation may be signalled from any thread.
 */
template <class Clock, class WaitTraits = boost::asio::wait_traits<Clock>,
          class Executor = boost::asio::any_io_executor>
class basic_waitable_timer
{
public:
  /// The type of the executor associated with the timer.
  using executor_type = Executor;
  /// The clock type.
  using clock_type = Clock;
  /// The clock's duration type.
  using duration = typename Clock::duration;
  /// The clock's time point type.
  using time_point = typename Clock::time_point;
  /// The wait traits type (how long to wait for a time point).
  using traits_type = WaitTraits;

  /// Rebinds the timer type to another executor.
  template <class Executor1>
  struct rebind_executor
  {
    /// The timer type when rebound to Executor1.
    using other = basic_waitable_timer<Clock, WaitTraits, Executor1>;
  };

  /// Constructs a timer with no expiry set (expiry() is the clock's epoch).
  /**
   * @param ex the executor whose runtime holds the timer's waits, and on
   * which handlers without an associated executor of their own run.
   * @throws std::invalid_argument if ex's execution context is not a
   * nanorun::runtime; boost::asio::execution::bad_executor if ex is empty.
   */
  explicit basic_waitable_timer(const executor_type& ex)
      : executor_(ex), rt_(detail::runtime_of_executor(ex, "nanorun::basic_waitable_timer").ref()),
        state_(detail::timer_init(*rt_.get(), storage_))
  {
  }

  /// Constructs a timer on ctx's executor.
  /// @param ctx the runtime (or an execution context whose executor belongs
  /// to one).
  /// @throws std::invalid_argument as the executor constructor.
  template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
  explicit basic_waitable_timer(ExecutionContext& ctx) : basic_waitable_timer(executor_type(ctx.get_executor()))
  {
  }

  /// Constructs a timer that expires at `expiry_time`.
  /// @param ex the timer's executor (see the executor constructor).
  /// @param expiry_time the absolute expiry time.
  basic_waitable_timer(const executor_type& ex, const time_point& expiry_time) : basic_waitable_timer(ex)
  {
    expiry_ = expiry_time;
  }

  /// Constructs a timer on ctx's executor that expires at `expiry_time`.
  /// @param ctx the runtime.
  /// @param expiry_time the absolute expiry time.
  template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
  basic_waitable_timer(ExecutionContext& ctx, const time_point& expiry_time)
      : basic_waitable_timer(executor_type(ctx.get_executor()), expiry_time)
  {
  }

  /// Constructs a timer that expires `expiry_time` from now.
  /// @param ex the timer's executor (see the executor constructor).
  /// @param expiry_time the expiry time relative to now; saturates at the
  /// clock's limits (duration::max() means never).
  basic_waitable_timer(const executor_type& ex, const duration& expiry_time) : basic_waitable_timer(ex)
  {
    expires_after(expiry_time);
  }

  /// Constructs a timer on ctx's executor that expires `expiry_time` from now.
  /// @param ctx the runtime.
  /// @param expiry_time the expiry time relative to now.
  template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
  basic_waitable_timer(ExecutionContext& ctx, const duration& expiry_time)
      : basic_waitable_timer(executor_type(ctx.get_executor()), expiry_time)
  {
  }

  /// Moves a timer, pending waits included. The moved-from timer is as if
  /// just constructed from the same executor.
  /// @param other the timer to move from.
  basic_waitable_timer(basic_waitable_timer&& other) noexcept
      : executor_(other.executor_), rt_(other.rt_),
        state_(detail::timer_relocate(other.state_, storage_, rt_.get() != nullptr)),
        expiry_(std::exchange(other.expiry_, time_point()))
  {
  }

  /// Moves a timer of another executor type, pending waits included.
  /// @param other the timer to move from.
  template <class Executor1>
    requires std::is_convertible_v<Executor1, Executor>
  basic_waitable_timer(basic_waitable_timer<Clock, WaitTraits, Executor1>&& other)
      : executor_(other.executor_), rt_(other.rt_),
        state_(detail::timer_relocate(other.state_, storage_, rt_.get() != nullptr)),
        expiry_(std::exchange(other.expiry_, time_point()))
  {
  }

  /// Move-assigns a timer: this timer's pending waits complete with
  /// operation_aborted, then it takes other's state and pending waits.
  /// @param other the timer to move from.
  /// @returns `*this`.
  basic_waitable_timer& operator=(basic_waitable_timer&& other) noexcept
  {
    if (this != &other)
      move_assign(other);
    return *this;
  }

  /// Move-assigns a timer of another executor type, as the move assignment.
  /// @param other the timer to move from.
  /// @returns `*this`.
  template <class Executor1>
    requires std::is_convertible_v<Executor1, Executor>
  basic_waitable_timer& operator=(basic_waitable_timer<Clock, WaitTraits, Executor1>&& other)
  {
    move_assign(other);
    return *this;
  }

  /// Completes pending waits with operation_aborted (they run later, on
  /// their executors). Safe after the runtime's destruction.
  ~basic_waitable_timer() { release_state(); }

  basic_waitable_timer(const basic_waitable_timer&) = delete;
  basic_waitable_timer& operator=(const basic_waitable_timer&) = delete;

  /// The executor associated with the timer.
  /// @returns a copy of the executor given at construction.
  executor_type get_executor() noexcept { return executor_; }

  /// Completes every pending wait with operation_aborted.
  /// @returns the number of waits cancelled.
  /// Once the runtime is destroyed, no wait is pending: returns 0.
  std::size_t cancel() { return rt_.get() ? detail::timer_cancel(state_, static_cast<std::size_t>(-1)) : 0; }

  /// Completes the oldest pending wait with operation_aborted.
  /// @returns 0 or 1.
  std::size_t cancel_one() { return rt_.get() ? detail::timer_cancel(state_, 1) : 0; }

  /// The expiry time, as an absolute time.
  /// @returns the time point set last (the clock's epoch if none was).
  time_point expiry() const { return expiry_; }

  /// Sets the expiry time; pending waits complete with operation_aborted.
  /// @param expiry_time the new absolute expiry time.
  /// @returns the number of waits cancelled.
  std::size_t expires_at(const time_point& expiry_time)
  {
    const std::size_t n = cancel();
    expiry_ = expiry_time;
    return n;
  }

  /// Sets the expiry time relative to now; pending waits complete with
  /// operation_aborted.
  /// @param expiry_time the expiry time relative to now; saturates at the
  /// clock's limits.
  /// @returns the number of waits cancelled.
  std::size_t expires_after(const duration& expiry_time) { return expires_at(add(Clock::now(), expiry_time)); }

#if !defined(BOOST_ASIO_NO_DEPRECATED)
  /// @name Deprecated members, present as in Asio 1.26 unless BOOST_ASIO_NO_DEPRECATED
  /// The error_code forms never fail.
  /// @{

  /// As cancel() (deprecated).
  /// @param ec cleared: never fails.
  /// @returns the number of waits cancelled.
  std::size_t cancel(boost::system::error_code& ec)
  {
    ec.clear();
    return cancel();
  }
  /// As cancel_one() (deprecated).
  /// @param ec cleared: never fails.
  /// @returns 0 or 1.
  std::size_t cancel_one(boost::system::error_code& ec)
  {
    ec.clear();
    return cancel_one();
  }
  /// The expiry time (use expiry()).
  /// @returns the absolute expiry time.
  time_point expires_at() const { return expiry_; }
  /// As expires_at(expiry_time) (deprecated).
  /// @param expiry_time the new absolute expiry time.
  /// @param ec cleared: never fails.
  /// @returns the number of waits cancelled.
  std::size_t expires_at(const time_point& expiry_time, boost::system::error_code& ec)
  {
    ec.clear();
    return expires_at(expiry_time);
  }
  /// The time left until the expiry, saturated (use expiry()).
  /// @returns the expiry minus now; negative once expired.
  duration expires_from_now() const { return until(expiry_); }
  /// As expires_after().
  /// @param expiry_time the expiry time relative to now.
  /// @returns the number of waits cancelled.
  std::size_t expires_from_now(const duration& expiry_time) { return expires_after(expiry_time); }
  /// As expires_after() (deprecated).
  /// @param expiry_time the expiry time relative to now.
  /// @param ec cleared: never fails.
  /// @returns the number of waits cancelled.
  std::size_t expires_from_now(const duration& expiry_time, boost::system::error_code& ec)
  {
    ec.clear();
    return expires_after(expiry_time);
  }
  /// @}
#endif

  /// Blocks the calling thread until the timer has expired.
  /// Sleeps on the calling thread: it neither needs nor uses the runtime, and
  /// is not woken by cancel() or a change of expiry made meanwhile.
  void wait()
  {
    boost::system::error_code ec;
    wait(ec);
  }

  /// Blocks the calling thread until the timer has expired.
  /// @param ec cleared: never fails.
  void wait(boost::system::error_code& ec)
  {
    ec = {};
    for (;;)
    {
      const duration left = wait_duration(expiry_);
      if (left <= duration::zero())
        return;
      std::this_thread::sleep_for(left);
    }
  }

  /// Starts an asynchronous wait for the timer to expire.
  /**
   * @param token the completion token; the completion signature is
   * `void(boost::system::error_code)`.
   *
   * The wait never completes inside this call. It completes with success at
   * the expiry time, or with operation_aborted if the timer is cancelled, its
   * expiry changes or it is destroyed first.
   *
   * Started after the timer's runtime was destroyed, it throws
   * boost::system::system_error (operation_aborted) and the handler is not
   * taken.
   *
   * @returns what the token's async_result returns.
   *
   * @par Completion Signature
   * @code void(boost::system::error_code) @endcode
   * Success at the expiry; boost::asio::error::operation_aborted when
   * cancelled. The handler runs on its associated executor, or the timer's.
   *
   * @par Per-Operation Cancellation
   * terminal, partial and total cancellation all end the wait with
   * operation_aborted.
   */
  template <BOOST_ASIO_COMPLETION_TOKEN_FOR(void(boost::system::error_code))
                WaitToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_wait(WaitToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<WaitToken, void(boost::system::error_code)>(initiate_async_wait(this),
                                                                                    token);
  }

private:
  template <class, class, class>
  friend class basic_waitable_timer;

  class initiate_async_wait
  {
  public:
    using executor_type = Executor;
    explicit initiate_async_wait(basic_waitable_timer* self) noexcept : self_(self) {}
    executor_type get_executor() const noexcept { return self_->executor_; }

    template <class WaitHandler>
    void operator()(WaitHandler&& handler) const
    {
      self_->start_wait(std::forward<WaitHandler>(handler));
    }

  private:
    basic_waitable_timer* self_;
  };

  static time_point add(const time_point& t, const duration& d)
  {
    // Saturate rather than wrap: expires_after(duration::max()) means never.
    if (d > duration::zero() && t.time_since_epoch() > duration::max() - d)
      return time_point::max();
    if (d < duration::zero() && t.time_since_epoch() < duration::min() - d)
      return time_point::min();
    return t + d;
  }

  // t - now, saturated at the duration's limits as Asio's time traits do.
  static duration until(const time_point& t)
  {
    const time_point now = Clock::now();
    if (t.time_since_epoch() >= duration::zero() && now.time_since_epoch() < duration::zero() &&
        t.time_since_epoch() > duration::max() + now.time_since_epoch())
      return duration::max();
    if (t.time_since_epoch() < duration::zero() && now.time_since_epoch() > duration::zero() &&
        t.time_since_epoch() < duration::min() + now.time_since_epoch())
      return duration::min();
    return t - now;
  }

  // How long until t, as the wait traits see it. Subtracts with saturation
  // (and then uses the traits' duration overload), as Asio's timer service
  // does: the traits' time_point overload overflows for far expiries.
  static duration wait_duration(const time_point& t) { return WaitTraits::to_wait_duration(until(t)); }

  // Destroys the state in place; its pending waits are aborted, unless the
  // runtime is gone (it destroyed them, and its wheel with them).
  void release_state() noexcept
  {
    if (rt_.get())
      detail::timer_destroy(state_);
    else
      detail::timer_discard(state_);
  }

  template <class Other>
  void move_assign(Other& other) noexcept
  {
    release_state();
    executor_ = other.executor_;
    rt_ = other.rt_;
    state_ = detail::timer_relocate(other.state_, storage_, rt_.get() != nullptr);
    expiry_ = std::exchange(other.expiry_, time_point());
  }

  static constexpr bool is_steady = std::is_same_v<Clock, std::chrono::steady_clock> &&
                                    std::is_same_v<WaitTraits, boost::asio::wait_traits<Clock>>;

  // The steady-clock deadline the wheel waits for.
  std::int64_t steady_deadline() const
  {
    if constexpr (is_steady)
      return detail::saturating_ns(expiry_.time_since_epoch());
    else
      return detail::saturating_add(detail::saturating_ns(std::chrono::steady_clock::now().time_since_epoch()),
                                    detail::saturating_ns(wait_duration(expiry_)));
  }

  static std::int64_t remaining(std::int64_t expiry_ns)
  {
    const time_point t(std::chrono::duration_cast<duration>(std::chrono::nanoseconds(expiry_ns)));
    return detail::saturating_ns(wait_duration(t));
  }

  template <class Handler>
  void start_wait(Handler&& handler)
  {
    using op_type = detail::timer_wait_handler<std::decay_t<Handler>, Executor>;
    runtime& rt = rt_.checked("nanorun::basic_waitable_timer::async_wait");
    op_type* op = op_type::create(std::forward<Handler>(handler), executor_, rt);
    auto slot = boost::asio::get_associated_cancellation_slot(op->handler());
    detail::timer_remaining_fn check = nullptr;
    std::int64_t clock_expiry = 0;
    if constexpr (!is_steady)
    {
      check = &basic_waitable_timer::remaining;
      clock_expiry = detail::saturating_ns(expiry_.time_since_epoch());
    }
    try
    {
      if (slot.is_connected())
      {
        detail::timer_anchor* a = detail::timer_anchor_acquire(state_);
        try
        {
          op->cancel_key = &slot.template emplace<detail::timer_cancel_handler>(rt_, a);
        }
        catch (...)
        {
          detail::timer_anchor_release(a);
          throw;
        }
      }
      detail::timer_wait(state_, op, steady_deadline(), check, clock_expiry);
    }
    catch (...)
    {
      if (slot.is_connected())
        slot.clear();
      op->destroy();
      throw;
    }
  }

  Executor executor_;
  detail::runtime_ref rt_;
  // The timer's node in its runtime's wheel lives here, so arming allocates
  // nothing but the waiter; it moves with the object (timer_relocate), and a
  // moved-from timer gets a fresh one. state_ points into storage_.
  detail::timer_state_storage storage_;
  detail::timer_state* state_;
  time_point expiry_{};
};

} // namespace nanorun
