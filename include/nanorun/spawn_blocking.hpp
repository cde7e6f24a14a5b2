// nanorun::spawn_blocking: run a blocking function off the workers.
#pragma once

#include <nanorun/detail/blocking_pool.hpp>
#include <nanorun/detail/handler_work.hpp>
#include <nanorun/detail/join_state.hpp>
#include <nanorun/join_handle.hpp>
#include <nanorun/spawn.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/query.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

namespace nanorun {

namespace detail {

// One spawn_blocking call: the function, a reference to the handle's join
// state, and tracked work on the caller's executor, which keeps its context's
// run() going until the function has returned and its outcome is delivered.
template <class T, class F, class Work>
class blocking_job final : public operation
{
public:
  template <class G>
  blocking_job(G&& f, join_core<T>& join, Work work)
      : operation(&blocking_job::do_complete), fn_(std::forward<G>(f)), join_(&join), work_(std::move(work))
  {
    join.add_ref();
  }

private:
  static void do_complete(operation* base, bool invoke)
  {
    std::unique_ptr<blocking_job> self(static_cast<blocking_job*>(base));
    if (!invoke)
    {
      // Its context shut down before a thread took it.
      self->join_->set(std::make_exception_ptr(boost::system::system_error(boost::asio::error::operation_aborted)),
                       {});
      return;
    }
    std::exception_ptr e;
    join_value<T> v;
    try
    {
      if constexpr (std::is_void_v<T>)
        std::invoke(std::move(self->fn_));
      else
        v.value.emplace(std::invoke(std::move(self->fn_)));
    }
    catch (...)
    {
      e = std::current_exception();
    }
    try
    {
      self->join_->set(std::move(e), std::move(v));
    }
    catch (...)
    {
      // The pool thread must go on. If storing the value threw (T's move),
      // the outcome is not set yet: report that exception instead. If the
      // waiter's post threw (no memory), the outcome was set and the waiter
      // is lost, as with any Asio operation whose completion cannot be posted.
      if (!self->join_->is_done())
      {
        try
        {
          self->join_->set(std::current_exception(), {});
        }
        catch (...)
        {
        }
      }
    }
    // The work is released (self's destruction) after the outcome went to
    // the waiter, whose own tracked work then keeps the context running.
  }

  F fn_;
  join_ref<T> join_;
  Work work_;
};

} // namespace detail

/// Runs a blocking function on the context's blocking pool and returns a
/// handle to its outcome.
/**
 * The function runs on a thread of a pool that belongs to the executor's
 * execution context, never on a thread inside the context's run functions:
 * a call that blocks (a file read, a database driver, a CPU-heavy
 * computation) does not hold up the handlers and coroutines the workers run.
 * The pool starts a thread when every one of its threads is busy, up to its
 * limit (64 by default; set_blocking_pool_limits); beyond it, functions wait
 * in order for the first free thread. A thread idle for the keep-alive time
 * (10 s by default) exits.
 *
 * Until the function has returned and its outcome been delivered, the call
 * counts as outstanding work of the executor's context, as a pending
 * asynchronous operation does: run() does not return in the meantime.
 *
 * The handle is the same as nanorun::spawn's: `co_await std::move(handle)`
 * in a coroutine, `handle.async_join(token)` with any completion token, or
 * get() from a thread outside the context. The function's exception is
 * rethrown there.
 *
 * If the context is destroyed before a thread took the function, it never
 * runs, and the handle reports boost::system::system_error with
 * boost::asio::error::operation_aborted; a function already running is
 * waited for by the context's destructor (it cannot be interrupted).
 *
 * Works with any Asio executor: the pool is a service of its context
 * (nanorun::runtime, boost::asio::io_context, boost::asio::thread_pool).
 *
 * @param ex the executor whose context owns the pool and whose work the call counts as.
 * @param f the function, called once with no arguments; moved into the pool.
 * @returns the join_handle owning the function's result.
 * @throws std::system_error if the pool has no thread and cannot start one.
 * @throws std::bad_alloc if the call cannot be allocated.
 *
 * @par Thread safety
 * Safe to call from any thread, including a worker of the context.
 */
template <detail::spawn_executor Executor, class F>
  requires std::is_invocable_v<std::decay_t<F>&&>
join_handle<std::invoke_result_t<std::decay_t<F>&&>> spawn_blocking(const Executor& ex, F&& f)
{
  using T = std::invoke_result_t<std::decay_t<F>&&>;
  auto work = boost::asio::prefer(ex, boost::asio::execution::outstanding_work.tracked);
  using job_type = detail::blocking_job<T, std::decay_t<F>, decltype(work)>;
  nanorun::runtime* rt = detail::runtime_of(ex);
  auto* state = new detail::standalone_join<T>(rt ? rt->marker() : nullptr);
  join_handle<T> handle(state);
  auto job = std::make_unique<job_type>(std::forward<F>(f), *state, std::move(work));
  detail::blocking_submit(detail::context_of(ex), job.get());
  job.release(); // the pool owns it now
  return handle;
}

/// Runs a blocking function on the context's blocking pool.
/**
 * The same as `spawn_blocking(ctx.get_executor(), std::forward<F>(f))`.
 * @param ctx the execution context that owns the pool.
 * @param f the function to run.
 * @returns the join_handle owning the function's result.
 */
template <detail::spawn_context Context, class F>
  requires std::is_invocable_v<std::decay_t<F>&&>
join_handle<std::invoke_result_t<std::decay_t<F>&&>> spawn_blocking(Context& ctx, F&& f)
{
  return nanorun::spawn_blocking(ctx.get_executor(), std::forward<F>(f));
}

/// Sets the limits of a context's blocking pool (see spawn_blocking).
/**
 * @param ctx the context whose pool to configure.
 * @param max_threads the most threads the pool runs at once (at least 1).
 * @param keep_alive how long a thread waits for a function before it exits;
 * threads already waiting apply the new value when next woken.
 *
 * @par Thread safety
 * Safe to call from any thread, at any time.
 */
inline void set_blocking_pool_limits(boost::asio::execution_context& ctx, std::size_t max_threads,
                                     std::chrono::nanoseconds keep_alive)
{
  detail::blocking_set_limits(ctx, max_threads, keep_alive);
}

/// How many threads a context's blocking pool has now.
/**
 * @param ctx the context whose pool to look at.
 * @returns the number of threads alive, running a function or idle.
 */
inline std::size_t blocking_pool_threads(boost::asio::execution_context& ctx)
{
  return detail::blocking_threads(ctx);
}

} // namespace nanorun
