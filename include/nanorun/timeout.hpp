// co_await nanorun::timeout(d, awaitable): the awaitable's value, or
// boost::asio::error::timed_out.
#pragma once

#include <nanorun/basic_waitable_timer.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <exception>
#include <type_traits>
#include <utility>

namespace nanorun {

/// Runs `op` with a deadline `d` from now.
/**
 * Returns op's value, or rethrows op's exception, if op completes first.
 * When the deadline passes first, op is cancelled (terminal cancellation),
 * its completion is awaited, and timeout throws
 * `boost::system::system_error(boost::asio::error::timed_out)`.
 *
 * The choice to throw matches use_awaitable, where an operation's error code
 * arrives as a system_error: `try { co_await timeout(...) } catch (const
 * boost::system::system_error& e) { if (e.code() == error::timed_out) ... }`.
 *
 * op runs as a child on the calling coroutine's executor. Like Asio's
 * awaitable operators, the race between op's completion and the timer needs a
 * serial executor when several threads run the runtime: coroutines started
 * with nanorun::spawn have one.
 */
template <class Rep, class Period, class T, class Executor>
boost::asio::awaitable<T, Executor> timeout(std::chrono::duration<Rep, Period> d,
                                            boost::asio::awaitable<T, Executor> op)
{
  namespace asio = boost::asio;
  const Executor ex = co_await asio::this_coro::executor;
  basic_waitable_timer<std::chrono::steady_clock, asio::wait_traits<std::chrono::steady_clock>, Executor> timer(
      ex, std::chrono::duration_cast<std::chrono::steady_clock::duration>(d));
  auto group = asio::experimental::make_parallel_group(asio::co_spawn(ex, std::move(op), asio::deferred),
                                                       timer.async_wait(asio::deferred));
  // wait_for_one, not wait_for_one_success: op failing is its own answer, not
  // a reason to wait out the deadline.
  if constexpr (std::is_void_v<T>)
  {
    auto [order, error, timer_ec] =
        co_await group.async_wait(asio::experimental::wait_for_one(), asio::use_awaitable_t<Executor>{});
    if (order[0] == 1 && !timer_ec)
      throw boost::system::system_error(asio::error::timed_out, "nanorun::timeout");
    if (error)
      std::rethrow_exception(error);
  }
  else
  {
    auto [order, error, value, timer_ec] =
        co_await group.async_wait(asio::experimental::wait_for_one(), asio::use_awaitable_t<Executor>{});
    if (order[0] == 1 && !timer_ec)
      throw boost::system::system_error(asio::error::timed_out, "nanorun::timeout");
    if (error)
      std::rethrow_exception(error);
    co_return std::move(value);
  }
}

} // namespace nanorun
