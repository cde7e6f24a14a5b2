// nanorun::spawn: start a coroutine and get a join_handle for it.
#pragma once

#include <nanorun/detail/runtime_service.hpp>
#include <nanorun/join_handle.hpp>
#include <nanorun/runtime.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/strand.hpp>

#include <memory>
#include <type_traits>
#include <utility>

namespace nanorun {

namespace detail {

// The executor a spawned task runs on. Awaitable operators, parallel_group and
// per-operation cancellation are only safe when one coroutine's operations
// cannot complete on two threads at once (asio#1348, #1362), so a task whose
// awaitable can hold a strand gets a strand of its own. An awaitable typed on
// a concrete executor that cannot hold a strand runs on that executor, as
// co_spawn would run it.
template <class AwaitableExecutor, class Executor>
auto task_executor(const Executor& ex)
{
  using strand_type = boost::asio::strand<Executor>;
  if constexpr (std::is_convertible_v<strand_type, AwaitableExecutor> && !std::is_same_v<Executor, strand_type>)
    return boost::asio::make_strand(ex);
  else
    return ex;
}

// The scheduler behind ex if it is a nanorun runtime, else null.
template <class Executor>
const void* runtime_marker_of(const Executor& ex) noexcept
{
  if constexpr (requires { boost::asio::query(ex, boost::asio::execution::context); })
  {
    boost::asio::execution_context& ctx = boost::asio::query(ex, boost::asio::execution::context);
    if (nanorun::runtime* rt = find_runtime(ctx))
      return rt->marker();
  }
  return nullptr;
}

template <class T>
concept spawn_executor = boost::asio::execution::executor<T> || boost::asio::is_executor<T>::value;

template <class T>
concept spawn_context = std::is_convertible_v<T&, boost::asio::execution_context&> && requires(T& c) {
  c.get_executor();
};

} // namespace detail

/// Starts the awaitable on the executor (on a strand of its own, see above)
/// and returns a handle to its outcome.
template <detail::spawn_executor Executor, class T, class AwaitableExecutor>
join_handle<T> spawn(const Executor& ex, boost::asio::awaitable<T, AwaitableExecutor> a)
{
  auto state = std::make_shared<detail::join_state<T>>(detail::runtime_marker_of(ex));
  boost::asio::co_spawn(detail::task_executor<AwaitableExecutor>(ex), std::move(a),
                        detail::join_completion<T>(state));
  return join_handle<T>(std::move(state));
}

/// Starts the awaitable on the context's executor and returns a handle to its outcome.
template <detail::spawn_context Context, class T, class AwaitableExecutor>
join_handle<T> spawn(Context& ctx, boost::asio::awaitable<T, AwaitableExecutor> a)
{
  return nanorun::spawn(ctx.get_executor(), std::move(a));
}

/// Starts the awaitable as co_spawn does, with a completion token, on a strand
/// of its own. Returns what the token's async_result returns.
template <detail::spawn_executor Executor, class T, class AwaitableExecutor, class Token>
auto spawn(const Executor& ex, boost::asio::awaitable<T, AwaitableExecutor> a, Token&& token)
{
  return boost::asio::co_spawn(detail::task_executor<AwaitableExecutor>(ex), std::move(a),
                               std::forward<Token>(token));
}

/// Context overload of the token form.
template <detail::spawn_context Context, class T, class AwaitableExecutor, class Token>
auto spawn(Context& ctx, boost::asio::awaitable<T, AwaitableExecutor> a, Token&& token)
{
  return nanorun::spawn(ctx.get_executor(), std::move(a), std::forward<Token>(token));
}

} // namespace nanorun
