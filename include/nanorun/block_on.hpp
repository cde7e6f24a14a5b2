// nanorun::block_on: run an awaitable to completion on the calling thread.
#pragma once

#include <nanorun/runtime.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace nanorun {

namespace detail {

template <class T>
struct block_on_state
{
  std::atomic<bool> done{false}; // store(release) after the outcome; load(acquire) by the runner
  std::exception_ptr error;
  std::optional<std::conditional_t<std::is_void_v<T>, char, T>> value;
};

} // namespace detail

/// Runs the awaitable on this runtime, with the calling thread as a worker,
/// until it completes; returns its value or rethrows its exception.
/**
 * Other threads may be running the runtime too; other work keeps running.
 * Calling it from a thread inside the run functions of this runtime (it
 * would wait on itself) or of any other nanorun runtime (a worker must not
 * block) throws std::logic_error. A runtime that stopped because it ran out of
 * work is restarted; if stop() was called, or is called before the awaitable
 * completes, throws boost::system::system_error(operation_aborted).
 *
 * Not an io_context member: with Asio one would co_spawn and then run().
 *
 * @param a the awaitable to run; it is started with boost::asio::co_spawn on
 * the runtime's executor.
 * @returns the awaitable's value (nothing for `T = void`).
 * @throws std::logic_error if called from a thread inside the run functions
 * of this or any other nanorun runtime (a worker must never block); boost::system::system_error (operation_aborted) if the
 * runtime is or becomes stopped by stop() first; otherwise whatever the
 * awaitable throws.
 *
 * @par Thread safety
 * May be called from several outside threads at once, each for its own
 * awaitable.
 */
template <class T, class Executor>
T runtime::block_on(boost::asio::awaitable<T, Executor> a)
{
  if (running_in_this_thread())
    throw std::logic_error("nanorun::runtime::block_on: called from inside the runtime's own run()");
  // Blocking a worker of another runtime would stall everything queued on it
  // (and deadlock if the awaitable waits for that runtime).
  if (detail::this_thread_run_marker)
    throw std::logic_error("nanorun::runtime::block_on: called from a worker of another nanorun runtime; "
                           "co_await the work there, or use nanorun::spawn_blocking for blocking calls");
  auto state = std::make_shared<detail::block_on_state<T>>();
  auto finish = [state, this](std::exception_ptr e, auto&&... v) {
    state->error = e;
    if constexpr (sizeof...(v) > 0)
      if (!e)
        state->value.emplace(std::forward<decltype(v)>(v)...);
    state->done.store(true, std::memory_order_seq_cst);
    interrupt();
  };
  boost::asio::co_spawn(get_executor(), std::move(a), std::move(finish));
  // A runtime that stopped because it ran out of work (perhaps another
  // block_on's task just finished) has work again now: run_until_done carries
  // on. One stopped by stop() stays stopped.
  run_until_done(state->done);
  if (!state->done.load(std::memory_order_acquire))
    throw boost::system::system_error(boost::asio::error::operation_aborted,
                                      "nanorun::runtime::block_on: runtime stopped first");
  if (state->error)
    std::rethrow_exception(state->error);
  if constexpr (!std::is_void_v<T>)
    return std::move(*state->value);
}

/// Runs the awaitable to completion on the calling thread, on a runtime of its
/// own, and returns its value or rethrows its exception.
/**
 * Makes a `runtime(1)`, calls runtime::block_on on it, and destroys it
 * before returning: I/O objects the awaitable creates on its own executor
 * must not be used afterwards except as doc/bad-input.md allows.
 *
 * @param a the awaitable to run.
 * @returns the awaitable's value (nothing for `T = void`).
 * @throws whatever the awaitable throws.
 */
template <class T, class Executor>
T block_on(boost::asio::awaitable<T, Executor> a)
{
  runtime rt(1);
  return rt.block_on(std::move(a));
}

} // namespace nanorun
