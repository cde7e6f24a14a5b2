// nanorun::basic_signal_set: Asio's signal set, delivered through nanorun's
// reactor.
#pragma once

#include <nanorun/detail/handler_work.hpp>
#include <nanorun/detail/runtime_ref.hpp>
#include <nanorun/detail/signal_op.hpp>
#include <nanorun/runtime.hpp>
#include <nanorun/signal_set_base.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/detail/throw_error.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/system/error_code.hpp>

#include <type_traits>
#include <utility>

namespace nanorun {

/// A set of signals to wait for, with the interface of boost::asio::basic_signal_set.
/**
 * A signal that arrives while no wait is pending is counted, per set, and
 * completes the set's next wait (never inside the call that starts it: the
 * completion is queued on the runtime). Queued signals are taken in ascending
 * signal number. Every set registered for a signal gets it, on any runtime of
 * the process. Removing a signal discards its queued occurrences; when no set
 * registers a signal any more, its default disposition is restored.
 *
 * On POSIX systems the handler, installed with sigaction(), writes the signal
 * number into a process-wide pipe that the reactor of every runtime with
 * signal sets watches. On Windows the C runtime's signal() is used, as Asio
 * does there: CTRL_C arrives as SIGINT, CTRL_BREAK (and the console's close,
 * logoff and shutdown events) as SIGBREAK, and raise() is delivered too.
 *
 * As with Asio, only signals registered through signal sets (nanorun's or
 * Asio's, but not both for the same signal) may be used: the application must
 * not install its own handler for them. Blocked signals (sigprocmask) must be
 * unblocked in at least one thread.
 *
 * A wait is outstanding work of the runtime: run() does not return while one
 * is pending. The executor's execution context must be a nanorun::runtime;
 * constructing a set on anything else throws std::invalid_argument.
 *
 * After a fork(), the child's signal sets keep working once the runtime has
 * been told with notify_fork() (fork_prepare before, fork_child after), as
 * with Asio: the child then gets a pipe of its own.
 *
 * @par Thread safety
 * Distinct objects: safe. Shared objects: unsafe, as with Asio. Per-operation
 * cancellation may be signalled from any thread.
 *
 * @par Example
 * @code
 * nanorun::signal_set signals(rt, SIGINT, SIGTERM);
 * signals.async_wait([&](boost::system::error_code ec, int) {
 *   if (!ec)
 *     acceptor.close(); // graceful shutdown
 * });
 * @endcode
 */
template <class Executor = boost::asio::any_io_executor>
class basic_signal_set : public signal_set_base
{
public:
  /// The type of the executor associated with the object.
  using executor_type = Executor;

  /// Rebinds the signal set type to another executor.
  template <class Executor1>
  struct rebind_executor
  {
    /// The signal set type when rebound to the specified executor.
    using other = basic_signal_set<Executor1>;
  };

  /// Constructs a signal set without adding any signals.
  /**
   * @param ex The I/O executor that the set's handlers are dispatched to by
   * default. Its execution context must be a nanorun::runtime.
   */
  explicit basic_signal_set(const executor_type& ex)
      : executor_(ex), rt_(detail::runtime_of_executor(ex, "nanorun::basic_signal_set").ref()),
        impl_(detail::signal_open(*rt_.get()))
  {
  }

  /// Constructs a signal set on ctx's executor, without adding any signals.
  /**
   * @param ctx The runtime (or io_context alias) whose executor the set uses.
   */
  template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
  explicit basic_signal_set(ExecutionContext& ctx) : basic_signal_set(executor_type(ctx.get_executor()))
  {
  }

  /// Constructs a signal set and adds one signal.
  /**
   * @param ex The I/O executor, as for basic_signal_set(const executor_type&).
   * @param signal_number_1 The signal number to add.
   * @throws boost::system::system_error as add() does.
   */
  basic_signal_set(const executor_type& ex, int signal_number_1) : basic_signal_set(ex) { add(signal_number_1); }

  /// Constructs a signal set on ctx's executor and adds one signal.
  /**
   * @param ctx The runtime whose executor the set uses.
   * @param signal_number_1 The signal number to add.
   * @throws boost::system::system_error as add() does.
   */
  template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
  basic_signal_set(ExecutionContext& ctx, int signal_number_1)
      : basic_signal_set(executor_type(ctx.get_executor()), signal_number_1)
  {
  }

  /// Constructs a signal set and adds two signals.
  /**
   * @param ex The I/O executor, as for basic_signal_set(const executor_type&).
   * @param signal_number_1 The first signal number to add.
   * @param signal_number_2 The second signal number to add.
   * @throws boost::system::system_error as add() does.
   */
  basic_signal_set(const executor_type& ex, int signal_number_1, int signal_number_2) : basic_signal_set(ex)
  {
    add(signal_number_1);
    add(signal_number_2);
  }

  /// Constructs a signal set on ctx's executor and adds two signals.
  /**
   * @param ctx The runtime whose executor the set uses.
   * @param signal_number_1 The first signal number to add.
   * @param signal_number_2 The second signal number to add.
   * @throws boost::system::system_error as add() does.
   */
  template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
  basic_signal_set(ExecutionContext& ctx, int signal_number_1, int signal_number_2)
      : basic_signal_set(executor_type(ctx.get_executor()), signal_number_1, signal_number_2)
  {
  }

  /// Constructs a signal set and adds three signals.
  /**
   * @param ex The I/O executor, as for basic_signal_set(const executor_type&).
   * @param signal_number_1 The first signal number to add.
   * @param signal_number_2 The second signal number to add.
   * @param signal_number_3 The third signal number to add.
   * @throws boost::system::system_error as add() does.
   */
  basic_signal_set(const executor_type& ex, int signal_number_1, int signal_number_2, int signal_number_3)
      : basic_signal_set(ex)
  {
    add(signal_number_1);
    add(signal_number_2);
    add(signal_number_3);
  }

  /// Constructs a signal set on ctx's executor and adds three signals.
  /**
   * @param ctx The runtime whose executor the set uses.
   * @param signal_number_1 The first signal number to add.
   * @param signal_number_2 The second signal number to add.
   * @param signal_number_3 The third signal number to add.
   * @throws boost::system::system_error as add() does.
   */
  template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
  basic_signal_set(ExecutionContext& ctx, int signal_number_1, int signal_number_2, int signal_number_3)
      : basic_signal_set(executor_type(ctx.get_executor()), signal_number_1, signal_number_2, signal_number_3)
  {
  }

  /// Destroys the signal set.
  /**
   * Removes every signal (restoring the default disposition of those no other
   * set registers) and completes pending waits with operation_aborted; they
   * run later, on their executors. Safe after the runtime's destruction.
   */
  ~basic_signal_set() { detail::signal_close(impl_); }

  basic_signal_set(const basic_signal_set&) = delete;
  basic_signal_set& operator=(const basic_signal_set&) = delete;

  /// Gets the executor associated with the object.
  /// @returns the executor the set's waits complete on.
  const executor_type& get_executor() noexcept { return executor_; }

  /// Adds a signal to the set.
  /**
   * Adding a signal the set already holds does nothing. Equivalent to
   * add(signal_number, signal_set_base::flags::dont_care).
   *
   * @param signal_number The signal to be added.
   * @throws boost::system::system_error invalid_argument for a number outside
   * the OS's range, or the OS's error from installing the handler.
   */
  void add(int signal_number)
  {
    boost::system::error_code ec;
    add(signal_number, ec);
    boost::asio::detail::throw_error(ec, "add");
  }

  /// Adds a signal to the set.
  /**
   * @param signal_number The signal to be added.
   * @param ec Set to indicate what error occurred, if any: invalid_argument
   * for a number outside the OS's range, operation_aborted once the runtime
   * has been destroyed, or the OS's error.
   * @returns `ec` (nothing under BOOST_ASIO_NO_DEPRECATED).
   */
  BOOST_ASIO_SYNC_OP_VOID add(int signal_number, boost::system::error_code& ec)
  {
    detail::signal_add(impl_, signal_number, dont_care, ec);
    BOOST_ASIO_SYNC_OP_VOID_RETURN(ec);
  }

  /// Adds a signal to the set, with flags for its handler.
  /**
   * The first registration of a signal in the process sets its flags. A
   * later one with other flags fails with invalid_argument, unless one of
   * the two is dont_care (a later registration with flags then applies them).
   * Adding a signal the set already holds does nothing, whatever the flags.
   *
   * @param signal_number The signal to be added.
   * @param f Flags for the signal's handler (sigaction's sa_flags).
   * @throws boost::system::system_error as the error_code overload reports;
   * on Windows any flags but dont_care fail with operation_not_supported.
   */
  void add(int signal_number, flags_t f)
  {
    boost::system::error_code ec;
    add(signal_number, f, ec);
    boost::asio::detail::throw_error(ec, "add");
  }

  /// Adds a signal to the set, with flags for its handler.
  /**
   * @param signal_number The signal to be added.
   * @param f Flags for the signal's handler (sigaction's sa_flags).
   * @param ec Set to indicate what error occurred, if any (see add(int, flags_t)).
   * @returns `ec` (nothing under BOOST_ASIO_NO_DEPRECATED).
   */
  BOOST_ASIO_SYNC_OP_VOID add(int signal_number, flags_t f, boost::system::error_code& ec)
  {
    detail::signal_add(impl_, signal_number, static_cast<int>(f), ec);
    BOOST_ASIO_SYNC_OP_VOID_RETURN(ec);
  }

  /// Removes a signal from the set.
  /**
   * Queued occurrences of the signal are discarded. Removing a signal the set
   * does not hold does nothing. When no set registers the signal any more, its
   * default disposition is restored.
   *
   * @param signal_number The signal to be removed.
   * @throws boost::system::system_error invalid_argument for a number outside
   * the OS's range, or the OS's error from restoring the disposition.
   */
  void remove(int signal_number)
  {
    boost::system::error_code ec;
    remove(signal_number, ec);
    boost::asio::detail::throw_error(ec, "remove");
  }

  /// Removes a signal from the set.
  /**
   * @param signal_number The signal to be removed.
   * @param ec Set to indicate what error occurred, if any.
   * @returns `ec` (nothing under BOOST_ASIO_NO_DEPRECATED).
   */
  BOOST_ASIO_SYNC_OP_VOID remove(int signal_number, boost::system::error_code& ec)
  {
    detail::signal_remove(impl_, signal_number, ec);
    BOOST_ASIO_SYNC_OP_VOID_RETURN(ec);
  }

  /// Removes every signal from the set.
  /**
   * Queued occurrences are discarded; pending waits stay pending.
   *
   * @throws boost::system::system_error the OS's error from restoring a
   * disposition.
   */
  void clear()
  {
    boost::system::error_code ec;
    clear(ec);
    boost::asio::detail::throw_error(ec, "clear");
  }

  /// Removes every signal from the set.
  /**
   * @param ec Set to indicate what error occurred, if any.
   * @returns `ec` (nothing under BOOST_ASIO_NO_DEPRECATED).
   */
  BOOST_ASIO_SYNC_OP_VOID clear(boost::system::error_code& ec)
  {
    detail::signal_clear(impl_, ec);
    BOOST_ASIO_SYNC_OP_VOID_RETURN(ec);
  }

  /// Cancels every pending wait of the set.
  /**
   * The waits complete with operation_aborted (queued on the runtime, never
   * run inside this call). Queued signals stay queued for the next wait.
   *
   * @throws boost::system::system_error never in practice (kept for Asio's
   * signature).
   */
  void cancel()
  {
    boost::system::error_code ec;
    cancel(ec);
    boost::asio::detail::throw_error(ec, "cancel");
  }

  /// Cancels every pending wait of the set.
  /**
   * @param ec Cleared: cancelling cannot fail.
   * @returns `ec` (nothing under BOOST_ASIO_NO_DEPRECATED).
   */
  BOOST_ASIO_SYNC_OP_VOID cancel(boost::system::error_code& ec)
  {
    detail::signal_cancel(impl_, ec);
    BOOST_ASIO_SYNC_OP_VOID_RETURN(ec);
  }

  /// Starts an asynchronous wait for one of the set's signals.
  /**
   * Completes with the next signal the set receives, or at once (queued on the
   * runtime) with a signal that arrived while no wait was pending. Several
   * waits may be pending: a signal completes all of them.
   *
   * Started after the set's runtime was destroyed, it throws
   * boost::system::system_error (operation_aborted) and the handler is not
   * taken.
   *
   * @param token The completion token: a callback, use_awaitable, use_future,
   * deferred, as_tuple(...), or any other token.
   *
   * @par Completion Signature
   * @code void(boost::system::error_code, int) @endcode
   * The error is success, with the signal's number, or operation_aborted
   * (cancel(), the set's destruction, per-operation cancellation), with 0.
   *
   * @par Per-Operation Cancellation
   * terminal, partial and total cancellation all end the wait with
   * operation_aborted.
   * @returns what the token's async_result returns (nothing for a callback).
   */
  template <BOOST_ASIO_COMPLETION_TOKEN_FOR(void(boost::system::error_code, int))
                SignalToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_wait(SignalToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<SignalToken, void(boost::system::error_code, int)>(initiate_async_wait(this),
                                                                                          token);
  }

private:
  class initiate_async_wait
  {
  public:
    using executor_type = Executor;
    explicit initiate_async_wait(basic_signal_set* self) noexcept : self_(self) {}
    const executor_type& get_executor() const noexcept { return self_->executor_; }

    template <class SignalHandler>
    void operator()(SignalHandler&& handler) const
    {
      self_->start_wait(std::forward<SignalHandler>(handler));
    }

  private:
    basic_signal_set* self_;
  };

  template <class Handler>
  void start_wait(Handler&& handler)
  {
    using op_type = detail::signal_wait_op<std::decay_t<Handler>, Executor>;
    runtime& rt = rt_.checked("nanorun::basic_signal_set::async_wait");
    op_type* op = op_type::create(std::forward<Handler>(handler), executor_, rt);
    auto slot = boost::asio::get_associated_cancellation_slot(op->handler());
    try
    {
      if (slot.is_connected())
        op->cancel_key = &slot.template emplace<detail::signal_cancel_handler>(rt_);
    }
    catch (...)
    {
      op->destroy();
      throw;
    }
    if (!detail::signal_start_wait(impl_, op))
    {
      if (slot.is_connected())
        slot.clear();
      op->destroy();
      detail::throw_runtime_destroyed("nanorun::basic_signal_set::async_wait");
    }
  }

  Executor executor_;
  detail::runtime_ref rt_;
  detail::signal_set_impl* impl_;
};

} // namespace nanorun
