// co_await nanorun::sleep(d) and co_await nanorun::sleep_until(t).
#pragma once

#include <nanorun/basic_waitable_timer.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/consign.hpp>
#include <boost/asio/wait_traits.hpp>

#include <chrono>
#include <memory>
#include <utility>

namespace nanorun {

/// An asynchronous operation that completes, with signature
/// `void(boost::system::error_code)`, when Clock reaches a time point.
/**
 * `co_await nanorun::sleep(100ms);` in a coroutine; with another token,
 * `nanorun::sleep(100ms)(token)`. The timer runs on the handler's associated
 * executor, which must belong to a nanorun::runtime (a coroutine's does).
 * Per-operation cancellation ends the sleep with operation_aborted (with
 * use_awaitable: a system_error).
 *
 * Not an Asio type: it stands for the steady_timer a coroutine would declare
 * only to wait on it once.
 *
 * @par Thread safety
 * Distinct objects: safe. Shared objects: safe (the object holds only the
 * time point; each initiation makes a timer of its own).
 */
template <class Clock>
class sleep_op
{
public:
  /// Makes an operation that completes when Clock reaches `t`.
  /// @param t the time point to wait for.
  explicit sleep_op(typename Clock::time_point t) noexcept : until_(t) {}

  /// Starts the wait: makes a basic_waitable_timer on the handler's
  /// associated executor and waits on it.
  /**
   * The timer lives with the handler until the handler has run. The object
   * may be started any number of times; each start waits for the same time
   * point.
   *
   * @param token the completion token, e.g. boost::asio::use_awaitable.
   * @returns what the token's async_result returns.
   * @throws std::invalid_argument if the handler's associated executor does
   * not belong to a nanorun::runtime, and the other exceptions of
   * basic_waitable_timer's constructor and async_wait (doc/bad-input.md).
   *
   * @par Completion Signature
   * @code void(boost::system::error_code) @endcode
   * Success when the time point is reached; boost::asio::error::operation_aborted
   * when cancelled. Never invoked from inside this call.
   *
   * @par Per-Operation Cancellation
   * As basic_waitable_timer::async_wait (the timer's wait carries the
   * handler's cancellation slot): terminal, partial and total cancellation
   * all end the sleep with operation_aborted.
   */
  template <BOOST_ASIO_COMPLETION_TOKEN_FOR(void(boost::system::error_code)) Token>
  auto operator()(Token&& token) const
  {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(initiate{until_}, token);
  }

private:
  struct initiate
  {
    typename Clock::time_point until;

    template <class Handler>
    void operator()(Handler&& handler) const
    {
      using ex_type = boost::asio::associated_executor_t<std::decay_t<Handler>>;
      using timer_type = basic_waitable_timer<Clock, boost::asio::wait_traits<Clock>, ex_type>;
      auto timer = std::make_unique<timer_type>(boost::asio::get_associated_executor(handler), until);
      timer_type& t = *timer;
      // The handler carries the timer, which lives until the handler is done.
      t.async_wait(boost::asio::consign(std::forward<Handler>(handler), std::move(timer)));
    }
  };

  typename Clock::time_point until_;
};

/// Completes once `d` has elapsed on the steady clock.
/**
 * The deadline is taken when sleep() is called, not when the operation is
 * started, and saturates: a duration too large for the clock means never.
 * @param d how long to sleep; zero or negative completes at once (still
 * never inside the initiating call).
 * @returns the operation to co_await or to start with a completion token;
 * see sleep_op for its completion signature and cancellation.
 */
template <class Rep, class Period>
sleep_op<std::chrono::steady_clock> sleep(const std::chrono::duration<Rep, Period>& d)
{
  using clock = std::chrono::steady_clock;
  const auto now = clock::now();
  const auto left = std::chrono::duration_cast<clock::duration>(d);
  const auto until = left >= clock::time_point::max() - now ? clock::time_point::max() : now + left;
  return sleep_op<clock>(until);
}

/// Completes once Clock reaches `t`.
/**
 * @param t the time point, on any clock with Asio wait traits (the wait is
 * made on a basic_waitable_timer of that clock).
 * @returns the operation to co_await or to start with a completion token;
 * see sleep_op for its completion signature and cancellation.
 */
template <class Clock, class Duration>
sleep_op<Clock> sleep_until(const std::chrono::time_point<Clock, Duration>& t)
{
  return sleep_op<Clock>(std::chrono::time_point_cast<typename Clock::duration>(t));
}

} // namespace nanorun
