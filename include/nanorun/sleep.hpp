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
 */
template <class Clock>
class sleep_op
{
public:
  explicit sleep_op(typename Clock::time_point t) noexcept : until_(t) {}

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
template <class Clock, class Duration>
sleep_op<Clock> sleep_until(const std::chrono::time_point<Clock, Duration>& t)
{
  return sleep_op<Clock>(std::chrono::time_point_cast<typename Clock::duration>(t));
}

} // namespace nanorun
