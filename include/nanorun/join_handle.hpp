// nanorun::join_handle<T>: the result of nanorun::spawn.
#pragma once

#include <nanorun/detail/join_await.hpp>
#include <nanorun/detail/join_state.hpp>

#include <boost/asio/async_result.hpp>

#include <exception>
#include <memory>
#include <stdexcept>
#include <utility>

namespace nanorun {

namespace detail {
template <class T>
struct join_signature
{
  using type = void(std::exception_ptr, T);
};
template <>
struct join_signature<void>
{
  using type = void(std::exception_ptr);
};
} // namespace detail

/// Owns the right to the outcome of a spawned task.
/**
 * - `co_await std::move(handle)` (inside a boost::asio::awaitable) yields the task's value
 *   or rethrows its exception. The handle is an asynchronous operation with
 *   signature void(std::exception_ptr, T), so `handle.async_join(token)` and
 *   `handle(token)` accept any completion token.
 * - get() blocks the calling thread for the value; call it from outside the
 *   runtime that runs the task.
 * - detach() lets the task run on alone; destroying a handle that was not
 *   joined detaches it too. An exception from a detached task is dropped.
 *
 * A task destroyed before it completes (its runtime was destroyed) reports
 * boost::system::system_error with boost::asio::error::operation_aborted.
 * The outcome can be taken once: joining a handle that has no task (moved
 * from, detached, already joined) reports std::logic_error, thrown by get()
 * and delivered to an asynchronous waiter like any other outcome (never from
 * inside the initiating call).
 *
 * Not an Asio type; the nearest is the std::future that co_spawn gives with
 * boost::asio::use_future. Move-only.
 *
 * @par Thread safety
 * Distinct objects: safe. Shared objects: unsafe. The task may complete on
 * any thread while the handle is used on another.
 */
template <class T>
class join_handle
{
public:
  /// The completion signature of async_join: `void(std::exception_ptr)` for
  /// `join_handle<void>`, else `void(std::exception_ptr, T)`.
  using signature = typename detail::join_signature<T>::type;

  /// Constructs a handle that refers to no task (valid() is false).
  join_handle() noexcept = default;
  /// Adopts a reference to a task's join state (used by nanorun::spawn).
  /// @param adopted the state, whose reference the handle takes over; an
  /// internal type: users obtain handles from nanorun::spawn.
  explicit join_handle(detail::join_core<T>* adopted) noexcept : state_(adopted) {}
  /// Moves the right to the outcome; `other` then refers to no task.
  join_handle(join_handle&&) noexcept = default;
  /// Moves the right to the outcome. A task this handle referred to is
  /// detached; the moved-from handle then refers to no task.
  /// @returns `*this`.
  join_handle& operator=(join_handle&&) noexcept = default;

  /// Whether the handle refers to a task.
  /// @returns false once moved from, detached, or joined (get(), async_join,
  /// co_await).
  bool valid() const noexcept { return static_cast<bool>(state_); }

  /// Whether the task has completed.
  /// @returns true once the task's outcome (value or exception) is known;
  /// false if it has not, or if the handle refers to no task.
  bool is_finished() const noexcept { return state_ && state_->is_done(); }

  /// Lets the task run on without anyone waiting for it.
  void detach() noexcept { state_.reset(); }

  /// Blocks until the task completes; returns its value or rethrows its exception.
  /**
   * The handle refers to no task afterwards.
   * @returns the task's value (nothing for `T = void`).
   * @throws std::logic_error if the handle refers to no task, or if called
   * on a thread inside the runtime that runs the task while the task has
   * not completed (it could wait for work only this thread would run; the
   * handle keeps the task then);
   * boost::system::system_error (operation_aborted) if the task was
   * destroyed before completing; otherwise the task's own exception.
   */
  T get()
  {
    if (!state_)
      throw std::logic_error("nanorun::join_handle: no task");
    // Refused before the handle lets go: it can still be awaited.
    if (state_->refuses_blocking())
      throw std::logic_error("nanorun::join_handle::get: called from a thread inside the task's own runtime; "
                             "use co_await instead");
    detail::join_ref<T> s(std::move(state_));
    std::exception_ptr e;
    auto v = s->wait_blocking(e);
    if (e)
      std::rethrow_exception(e);
    if constexpr (!std::is_void_v<T>)
      return std::move(*v.value);
  }

  /// Waits asynchronously for the task. Completion signature:
  /// void(std::exception_ptr) for join_handle<void>, else void(std::exception_ptr, T).
  /// The handler is never invoked from inside this call.
  /**
   * Takes the right to the outcome: the handle refers to no task afterwards.
   * The handler is posted to its associated executor (which counts as
   * outstanding work until then) once the task completes.
   *
   * @param token the completion token.
   * @returns what the token's async_result returns.
   *
   * @par Completion Signature
   * @code void(std::exception_ptr, T) @endcode
   * or `void(std::exception_ptr)` for `join_handle<void>`. The exception_ptr
   * is null on success; otherwise it holds the task's exception,
   * boost::system::system_error (operation_aborted) if the task was
   * destroyed unrun or unfinished (its runtime was destroyed), or
   * std::logic_error if the handle referred to no task. On failure the value
   * argument is a value-initialised T.
   *
   * @par Per-Operation Cancellation
   * Not supported: the handler's cancellation slot is not used, and the wait
   * ends only when the task does. (Cancel the task itself instead, e.g. by
   * spawning it with a token whose slot you control.)
   */
  template <boost::asio::completion_token_for<signature> Token>
  auto async_join(Token&& token)
  {
    return boost::asio::async_initiate<Token, signature>(initiate<false>{std::move(state_)}, token);
  }

  /// Same as async_join: makes the handle an asynchronous operation, so that
  /// `co_await std::move(handle)` (or `co_await nanorun::spawn(...)`) works
  /// inside a boost::asio::awaitable. Asio 1.26 awaits only rvalue operations.
  /**
   * With boost::asio::use_awaitable (what `co_await` uses), the coroutine
   * receives the task's value or has its exception rethrown, as async_join
   * reports them. Unlike async_join's handler, a coroutine that awaits a task
   * that has already finished resumes at once, without going through its
   * executor's queue (the coroutine is suspended meanwhile, so nothing can
   * tell, except that other work does not run in between). Sixteen such
   * resumptions in a row on one thread at most: the next is posted, so a
   * loop over many finished handles still lets other work run.
   *
   * @param token the completion token.
   * @returns what the token's async_result returns.
   *
   * @par Completion Signature
   * @code void(nanorun::detail::join_result<T>) @endcode
   * An internal type that carries the outcome of async_join; under
   * `co_await` it is unpacked into a value or a rethrown exception.
   *
   * @par Per-Operation Cancellation
   * Not supported, as for async_join.
   */
  template <boost::asio::completion_token_for<void(detail::join_result<T>)> Token>
  auto operator()(Token&& token) &&
  {
    return boost::asio::async_initiate<Token, void(detail::join_result<T>)>(initiate<true>{std::move(state_)},
                                                                            token);
  }

private:
  // AsResult: the co_await path, one join_result<T> carrying either outcome
  // (join_await.hpp); otherwise (exception_ptr[, T]).
  template <bool AsResult>
  struct initiate
  {
    detail::join_ref<T> state;

    template <class Handler>
    void operator()(Handler&& h)
    {
      if (!state)
        detail::fail_join<T, AsResult>(std::forward<Handler>(h),
                                       "nanorun::join_handle: no task to join (moved from, detached or already "
                                       "joined)");
      else
        state->template wait_async<AsResult>(std::forward<Handler>(h));
    }
  };

  detail::join_ref<T> state_;
};

} // namespace nanorun
