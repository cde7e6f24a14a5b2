// nanorun::spawn: start a coroutine as a task and get a join_handle for it.
#pragma once

#include <nanorun/detail/runtime_service.hpp>
#include <nanorun/detail/spawned_task.hpp>
#include <nanorun/join_handle.hpp>
#include <nanorun/runtime.hpp>
#include <nanorun/task_executor.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/require.hpp>
#include <boost/asio/strand.hpp>

#include <memory>
#include <type_traits>
#include <utility>

namespace nanorun {

namespace detail {

// Executors that already serialise their handlers: a task spawned on one stays
// on it, so it is serialised with whatever else the user runs there.
template <class Executor>
struct is_serial_executor : std::false_type
{
};
template <class Inner>
struct is_serial_executor<boost::asio::strand<Inner>> : std::true_type
{
};
template <unsigned Bits>
struct is_serial_executor<basic_task_executor<Bits>> : std::true_type
{
};

template <class T>
concept spawn_executor = boost::asio::execution::executor<T> || boost::asio::is_executor<T>::value;

template <class T>
concept spawn_context = std::is_convertible_v<T&, boost::asio::execution_context&> && requires(T& c) {
  c.get_executor();
};

// The nanorun runtime behind an executor, or null.
template <class Executor>
nanorun::runtime* runtime_of(const Executor& ex) noexcept
{
  if constexpr (requires { boost::asio::query(ex, boost::asio::execution::context); })
  {
    auto& ctx = boost::asio::query(ex, boost::asio::execution::context);
    if constexpr (std::is_convertible_v<decltype(ctx)&, nanorun::runtime&>)
      return &static_cast<nanorun::runtime&>(ctx); // typed: no lookup needed
    else
    {
      // An any_io_executor usually wraps one of ours: skip the service
      // registry's lock in that case.
      if constexpr (requires { ex.template target<runtime::executor_type>(); })
      {
        if (const auto* e = ex.template target<runtime::executor_type>())
          return &boost::asio::query(*e, boost::asio::execution::context);
        if (const auto* t = ex.template target<task_executor>())
          return &boost::asio::query(*t, boost::asio::execution::context);
      }
      return find_runtime(ctx);
    }
  }
  else
    return nullptr;
}

// Off a nanorun runtime (or for an awaitable typed on an executor that cannot
// hold a task_executor): a strand of its own when the awaitable's executor
// can hold one, else the executor itself, as co_spawn would use it. A serial
// executor passed in is used as it is.
template <class AwaitableExecutor, class Executor>
auto fallback_executor(const Executor& ex)
{
  using strand_type = boost::asio::strand<Executor>;
  if constexpr (is_serial_executor<Executor>::value)
    return ex;
  else if constexpr (std::is_convertible_v<strand_type, AwaitableExecutor>)
    return boost::asio::make_strand(ex);
  else
    return ex;
}

} // namespace detail

/// Starts the awaitable as a task and returns a handle to its outcome.
/**
 * On a nanorun runtime the task gets a task_executor of its own: its handlers
 * never run concurrently, so awaitable operators and cancellation are safe
 * however many threads run the runtime. The task starts on whichever worker
 * picks it up; this call returns at once. On another execution context the
 * task runs on a strand of its own. An awaitable typed on an executor that can
 * hold neither (awaitable<T, runtime::executor_type>) runs on that executor,
 * as with co_spawn.
 *
 * Asio's nearest equivalent is boost::asio::co_spawn with
 * boost::asio::use_future; unlike a std::future, the join_handle can also
 * be awaited from a coroutine.
 *
 * @param ex the executor to start on: one of a nanorun runtime (its own, a
 * task_executor, an any_io_executor wrapping one) or any other Asio executor.
 * @param a the awaitable to run as the task.
 * @returns the join_handle owning the task's outcome. Dropping it detaches
 * the task; the task cannot be cancelled through it.
 * @throws std::bad_alloc if the task cannot be allocated.
 */
template <detail::spawn_executor Executor, class T, class AwaitableExecutor>
join_handle<T> spawn(const Executor& ex, boost::asio::awaitable<T, AwaitableExecutor> a)
{
  nanorun::runtime* rt = detail::runtime_of(ex);
  if constexpr (std::is_convertible_v<task_executor, AwaitableExecutor> && !detail::is_serial_executor<Executor>::value)
  {
    if (rt) // the task, its queue, its join state and its start: one allocation
      return join_handle<T>(detail::spawned_task<T, AwaitableExecutor>::start(*rt, std::move(a)));
  }
  auto* state = new detail::standalone_join<T>(rt ? rt->marker() : nullptr);
  join_handle<T> handle(state);
  boost::asio::co_spawn(detail::fallback_executor<AwaitableExecutor>(ex), std::move(a),
                        detail::join_completion<T>(*state));
  return handle;
}

/// Starts the awaitable on the context's executor and returns a handle to its outcome.
/**
 * The same as `spawn(ctx.get_executor(), std::move(a))`.
 * @param ctx the execution context (a nanorun::runtime, or any Asio context).
 * @param a the awaitable to run as the task.
 * @returns the join_handle owning the task's outcome.
 */
template <detail::spawn_context Context, class T, class AwaitableExecutor>
join_handle<T> spawn(Context& ctx, boost::asio::awaitable<T, AwaitableExecutor> a)
{
  return nanorun::spawn(ctx.get_executor(), std::move(a));
}

/// Starts the awaitable as co_spawn does, with a completion token, on a
/// task_executor (or strand) of its own. Returns what the token's async_result returns.
/**
 * Differs from `boost::asio::co_spawn(ex, a, token)` only in the executor
 * the coroutine runs on: a task_executor of its own on a nanorun runtime (a
 * strand elsewhere, or `ex` itself if it is already serial), so that the
 * coroutine's handlers never run concurrently.
 *
 * @param ex the executor to start on.
 * @param a the awaitable to run.
 * @param token the completion token, e.g. boost::asio::detached or a callback.
 * @returns what the token's async_result returns.
 *
 * @par Completion Signature
 * @code void(std::exception_ptr, T) @endcode
 * or `void(std::exception_ptr)` when `T` is void, as co_spawn's.
 *
 * @par Per-Operation Cancellation
 * As co_spawn's: a signal on the token's cancellation slot (terminal,
 * partial or total) is forwarded to the coroutine's cancellation state,
 * which by default lets only terminal cancellation through
 * (boost::asio::this_coro::reset_cancellation_state changes that).
 */
template <detail::spawn_executor Executor, class T, class AwaitableExecutor, class Token>
auto spawn(const Executor& ex, boost::asio::awaitable<T, AwaitableExecutor> a, Token&& token)
{
  if constexpr (std::is_convertible_v<task_executor, AwaitableExecutor> && !detail::is_serial_executor<Executor>::value)
  {
    if (nanorun::runtime* rt = detail::runtime_of(ex))
      return boost::asio::co_spawn(AwaitableExecutor(task_executor(*rt)), std::move(a), std::forward<Token>(token));
    return boost::asio::co_spawn(AwaitableExecutor(detail::fallback_executor<AwaitableExecutor>(ex)), std::move(a),
                                 std::forward<Token>(token));
  }
  else
    return boost::asio::co_spawn(detail::fallback_executor<AwaitableExecutor>(ex), std::move(a),
                                 std::forward<Token>(token));
}

/// Context overload of the token form.
/**
 * The same as `spawn(ctx.get_executor(), std::move(a), token)`; see that
 * overload for the completion signature and cancellation.
 * @param ctx the execution context.
 * @param a the awaitable to run.
 * @param token the completion token.
 * @returns what the token's async_result returns.
 */
template <detail::spawn_context Context, class T, class AwaitableExecutor, class Token>
auto spawn(Context& ctx, boost::asio::awaitable<T, AwaitableExecutor> a, Token&& token)
{
  return nanorun::spawn(ctx.get_executor(), std::move(a), std::forward<Token>(token));
}

} // namespace nanorun
