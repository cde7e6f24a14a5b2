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
 *
 * Not an Asio function: it is the `op || timer.async_wait()` of Asio's
 * awaitable operators, with the outcome reported as an exception.
 *
 * @param d the deadline, relative to the call; a non-positive one still
 * lets op start (whichever completes first, op or the expired timer, wins).
 * @param op the awaitable to run.
 * @returns an awaitable that yields op's value (nothing for `T = void`).
 * @throws boost::system::system_error with boost::asio::error::timed_out if
 * the deadline passed first; op's own exception if op failed first; and the
 * exceptions of basic_waitable_timer's constructor (std::invalid_argument if
 * the coroutine's executor does not belong to a nanorun::runtime).
 *
 * @par Per-Operation Cancellation
 * Cancelling the coroutine that awaits timeout() (a signal on its
 * cancellation slot, of a type its cancellation state lets through:
 * terminal only, by default) is forwarded, with its type, to both op and
 * the timer, as boost::asio::experimental::parallel_group does; the timer's
 * wait then ends with operation_aborted, so timed_out is not reported, and
 * op's outcome is (its exception, or its value).
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
