// co_await nanorun::yield_now(): step behind the work that is already runnable.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>

#include <utility>

namespace nanorun {

namespace detail {
// Marks the handler running on the calling thread as yielding: until it
// returns, what it posts to its runtime goes to the back of the worker's queue
// instead of the LIFO slot. (Inside a strand, the yielded continuation waits
// in the strand, and it is the strand's invoker, re-posted as the handler
// returns, that must go to the back.)
void begin_yield() noexcept;
} // namespace detail

/// An asynchronous operation that completes, with signature void(), after the
/// work already runnable on the handler's executor has had its turn.
/**
 * Returned by yield_now(). Not an Asio type: the nearest Asio equivalent is
 * `co_await boost::asio::post(boost::asio::use_awaitable)`, which on a nanorun
 * runtime would usually run again at once, from the worker's LIFO slot;
 * yield_op sends the continuation to the back of the worker's queue instead.
 *
 * @par Thread safety
 * Distinct objects: safe. Shared objects: safe (the object holds no state).
 */
class yield_op
{
public:
  /// Starts the operation.
  /**
   * Posts the handler to its associated executor (a coroutine's own
   * executor with boost::asio::use_awaitable; boost::asio::system_executor
   * for a handler that has none). When called from a handler running on a
   * nanorun runtime, what the handler posts before it returns goes to the
   * back of the worker's queue rather than to its LIFO slot, so the work
   * already runnable there runs first.
   *
   * @param token the completion token, e.g. boost::asio::use_awaitable or
   * boost::asio::deferred.
   * @returns what the token's async_result returns (nothing for a plain
   * callback, an awaitable for use_awaitable).
   *
   * @par Completion Signature
   * @code void() @endcode
   * The handler is never invoked from inside this call. The operation cannot
   * fail.
   *
   * @par Per-Operation Cancellation
   * Not supported: the handler's cancellation slot is not used; the operation
   * completes on its own after one turn of the queue.
   */
  template <boost::asio::completion_token_for<void()> Token>
  auto operator()(Token&& token) const
  {
    return boost::asio::async_initiate<Token, void()>(initiate{}, token);
  }

private:
  struct initiate
  {
    template <class Handler>
    void operator()(Handler&& h) const
    {
      auto ex = boost::asio::get_associated_executor(h);
      detail::begin_yield();
      boost::asio::post(ex, std::forward<Handler>(h));
    }
  };
};

/// Returns an operation to co_await in CPU-bound loops, for fairness:
/// `co_await nanorun::yield_now();` (or `yield_now()(token)` with any token).
/**
 * @returns a yield_op, an asynchronous operation with completion signature
 * `void()` that does not support per-operation cancellation.
 */
inline yield_op yield_now() noexcept
{
  return {};
}

} // namespace nanorun
