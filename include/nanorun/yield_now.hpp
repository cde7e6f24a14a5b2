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
class yield_op
{
public:
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
inline yield_op yield_now() noexcept
{
  return {};
}

} // namespace nanorun
