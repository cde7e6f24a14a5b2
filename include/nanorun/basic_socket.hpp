// nanorun::basic_socket: the operations every socket has (Asio's
// basic_socket), on nanorun's reactor.
#pragma once

#include <nanorun/detail/socket_actions.hpp>
#include <nanorun/detail/socket_core.hpp>
#include <nanorun/detail/socket_object.hpp>
#include <nanorun/runtime.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/basic_socket.hpp>
#include <boost/asio/detail/throw_error.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/socket_base.hpp>

#include <cstddef>
#include <type_traits>
#include <utility>

namespace nanorun {

/// A socket with the interface of boost::asio::basic_socket, on nanorun's reactor.
/**
 * The executor's execution context must be a nanorun::runtime (any executor
 * of one works: the runtime's own, a strand of it, an any_io_executor
 * wrapping either). Asynchronous operations accept any completion token,
 * never complete inside the initiating call, honour the handler's associated
 * executor, allocator and cancellation slot, and try the I/O at once before
 * waiting for readiness. close() and cancel() complete waiting operations with
 * boost::asio::error::operation_aborted.
 *
 * The constructors are Asio's, one overload per form (so that braced
 * endpoints such as `socket(ctx, {tcp::v4(), 0})` work), each taking an
 * executor or an execution context.
 *
 * Mirrors boost::asio::basic_socket (Asio 1.26); nanorun specialises
 * boost::asio::basic_socket for nanorun::ip::tcp and nanorun::ip::udp to
 * derive from this class. Differences (doc/migrating-from-io_context.md):
 * - the executor must belong to a nanorun::runtime: the constructors throw
 *   std::invalid_argument otherwise (boost::asio::execution::bad_executor
 *   for an empty executor);
 * - the descriptor is non-blocking from open(), so native_non_blocking() is
 *   true from the start, and non_blocking(false) leaves the descriptor
 *   non-blocking (synchronous operations wait with poll() instead);
 * - the socket may outlive its runtime: destroying, closing, releasing or
 *   cancelling it stays safe, and an asynchronous operation started then
 *   throws boost::system::system_error (operation_aborted) without taking
 *   the handler (doc/bad-input.md).
 *
 * @par Members of the common socket base
 * These members come from nanorun::detail::socket_object, shared with
 * basic_socket_acceptor, and behave as Asio's; each has a throwing form and
 * a form taking `boost::system::error_code& ec` (which returns the
 * error_code, or void under BOOST_ASIO_NO_DEPRECATED, as Asio's):
 * - `get_executor()`: the executor given at construction;
 * - `open(protocol)`, `assign(protocol, native_handle)`, `is_open()`,
 *   `native_handle()`: opening an open socket fails with
 *   boost::asio::error::already_open;
 * - `close()`, `cancel()`: waiting operations complete with
 *   boost::asio::error::operation_aborted; `release()` does too, and gives
 *   up the descriptor without closing it;
 * - `bind(endpoint)`, `set_option(option)`, `get_option(option)`,
 *   `io_control(command)`, `local_endpoint()`;
 * - `non_blocking()`, `non_blocking(mode)`, `native_non_blocking()`,
 *   `native_non_blocking(mode)` (see the differences above);
 * - `wait(wait_type)`: blocks until the socket is ready to read, to write, or
 *   has an error condition (with non_blocking(true): would_block if not);
 * - `async_wait(wait_type, token)`: completion signature
 *   `void(boost::system::error_code)`, per-operation cancellation terminal,
 *   partial and total, as the other asynchronous operations.
 *
 * On a closed socket every operation but open() and assign() fails with
 * boost::asio::error::bad_descriptor (asynchronously: the handler gets it,
 * never inside the call).
 *
 * @par Per-Operation Cancellation
 * Every asynchronous operation of the socket supports terminal, partial and
 * total cancellation: a waiting operation has transferred nothing, and
 * completes with boost::asio::error::operation_aborted. A signal that
 * arrives after the operation has completed does nothing.
 *
 * @par Thread safety
 * Distinct objects: safe. Shared objects: unsafe, as with Asio, except that
 * one read-side and one write-side operation may be outstanding at once.
 * Per-operation cancellation may be signalled from any thread.
 */
template <class Protocol, class Executor = boost::asio::any_io_executor>
class basic_socket : public detail::socket_object<Protocol, Executor>
{
  using object = detail::socket_object<Protocol, Executor>;

  template <class Context>
  static constexpr bool is_context = std::is_convertible_v<Context&, boost::asio::execution_context&>;

public:
  using typename object::endpoint_type;
  using typename object::executor_type;
  using typename object::native_handle_type;
  using typename object::protocol_type;
  using typename object::shutdown_type;

  /// Rebinds the socket type to another executor.
  template <class Executor1>
  struct rebind_executor
  {
    /// The socket type when rebound to Executor1.
    using other = basic_socket<Protocol, Executor1>;
  };

  /// What lowest_layer() returns: Asio's basic_socket, which nanorun
  /// specialises for its protocols to derive from this class.
  using lowest_layer_type = boost::asio::basic_socket<Protocol, Executor>;

  /// Constructs a closed socket.
  /// @param ex the executor: its context must be a nanorun::runtime; it is
  /// the default executor of the socket's handlers.
  /// @throws std::invalid_argument if ex does not belong to a nanorun
  /// runtime; boost::asio::execution::bad_executor if it is empty.
  explicit basic_socket(const executor_type& ex) : object(ex, "nanorun socket") {}
  /// Constructs a closed socket on ctx's executor.
  /// @param ctx the runtime.
  template <class ExecutionContext>
    requires is_context<ExecutionContext>
  explicit basic_socket(ExecutionContext& ctx) : basic_socket(executor_type(ctx.get_executor()))
  {
  }

  /// Opens the socket.
  /// @param ex the executor (see the executor constructor).
  /// @param protocol the protocol to open the socket with.
  /// @throws boost::system::system_error if it cannot be opened.
  basic_socket(const executor_type& ex, const protocol_type& protocol) : basic_socket(ex) { this->open(protocol); }
  /// Opens the socket, on ctx's executor.
  /// @param ctx the runtime.
  /// @param protocol the protocol to open the socket with.
  template <class ExecutionContext>
    requires is_context<ExecutionContext>
  basic_socket(ExecutionContext& ctx, const protocol_type& protocol)
      : basic_socket(executor_type(ctx.get_executor()), protocol)
  {
  }

  /// Opens the socket and binds it to `endpoint`.
  /// @param ex the executor (see the executor constructor).
  /// @param endpoint the local endpoint; its protocol opens the socket.
  /// @throws boost::system::system_error if opening or binding fails.
  basic_socket(const executor_type& ex, const endpoint_type& endpoint) : basic_socket(ex)
  {
    this->open(endpoint.protocol());
    this->bind(endpoint);
  }
  /// Opens the socket and binds it to `endpoint`, on ctx's executor.
  /// @param ctx the runtime.
  /// @param endpoint the local endpoint.
  template <class ExecutionContext>
    requires is_context<ExecutionContext>
  basic_socket(ExecutionContext& ctx, const endpoint_type& endpoint)
      : basic_socket(executor_type(ctx.get_executor()), endpoint)
  {
  }

  /// Takes ownership of an open descriptor (which may be in blocking mode).
  /// @param ex the executor (see the executor constructor).
  /// @param protocol the descriptor's protocol.
  /// @param fd the descriptor; the socket closes it.
  /// @throws boost::system::system_error if it cannot be registered.
  basic_socket(const executor_type& ex, const protocol_type& protocol, const native_handle_type& fd)
      : basic_socket(ex)
  {
    this->assign(protocol, fd);
  }
  /// Takes ownership of an open descriptor, on ctx's executor.
  /// @param ctx the runtime.
  /// @param protocol the descriptor's protocol.
  /// @param fd the descriptor.
  template <class ExecutionContext>
    requires is_context<ExecutionContext>
  basic_socket(ExecutionContext& ctx, const protocol_type& protocol, const native_handle_type& fd)
      : basic_socket(executor_type(ctx.get_executor()), protocol, fd)
  {
  }

  /// Moves a socket, pending operations included; the moved-from socket is
  /// closed.
  basic_socket(basic_socket&&) noexcept = default;
  /// Move-assigns a socket: this socket is closed first (its waiting
  /// operations complete with operation_aborted), then takes the other's
  /// descriptor and pending operations.
  /// @returns `*this`.
  basic_socket& operator=(basic_socket&&) noexcept = default;

  /// Moves from a socket of another protocol or executor type, pending
  /// operations included.
  /// @param o the socket to move from.
  template <class Protocol1, class Executor1>
    requires std::is_convertible_v<Protocol1, Protocol> && std::is_convertible_v<Executor1, Executor>
  basic_socket(basic_socket<Protocol1, Executor1>&& o) noexcept : object(std::move(o))
  {
  }
  /// Move-assigns from a socket of another protocol or executor type.
  /// @param o the socket to move from.
  /// @returns `*this`.
  template <class Protocol1, class Executor1>
    requires std::is_convertible_v<Protocol1, Protocol> && std::is_convertible_v<Executor1, Executor>
  basic_socket& operator=(basic_socket<Protocol1, Executor1>&& o) noexcept
  {
    this->move_assign(std::move(o));
    return *this;
  }

  /// The lowest layer of the socket (layers of stream wrappers end here).
  /// @returns this socket, as Asio's basic_socket.
  lowest_layer_type& lowest_layer() noexcept { return static_cast<lowest_layer_type&>(*this); }
  /// The lowest layer of the socket.
  /// @returns this socket, as Asio's basic_socket.
  const lowest_layer_type& lowest_layer() const noexcept { return static_cast<const lowest_layer_type&>(*this); }

  /// Connects, opening the socket first if it is closed. Blocks until the
  /// connection is made or fails, even with non_blocking(true), as Asio's.
  /// @param peer the remote endpoint.
  /// @throws boost::system::system_error on failure.
  void connect(const endpoint_type& peer)
  {
    boost::system::error_code ec;
    connect(peer, ec);
    boost::asio::detail::throw_error(ec, "connect");
  }
  /// Connects, opening the socket first if it is closed; blocks.
  /// @param peer the remote endpoint.
  /// @param ec set to the error, if any (e.g. connection_refused).
  /// @returns `ec` (nothing under BOOST_ASIO_NO_DEPRECATED).
  BOOST_ASIO_SYNC_OP_VOID connect(const endpoint_type& peer, boost::system::error_code& ec)
  {
    connect_blocking(peer, ec);
    BOOST_ASIO_SYNC_OP_VOID_RETURN(ec);
  }

  /// Connects asynchronously; opens the socket first if it is closed.
  /**
   * Tries the connection at once, then waits for the socket to become
   * writable. The handler is never invoked from inside this call.
   *
   * @param peer the remote endpoint.
   * @param token the completion token.
   * @returns what the token's async_result returns.
   * @throws boost::system::system_error (operation_aborted) if the socket's
   * runtime has been destroyed; the handler is not taken and no connection
   * is started.
   *
   * @par Completion Signature
   * @code void(boost::system::error_code) @endcode
   * Errors: the OS's (connection_refused, timed_out, network_unreachable,
   * ...; an endpoint of the wrong family, EAFNOSUPPORT or EINVAL), an error
   * opening the socket, or operation_aborted when cancelled or closed.
   *
   * @par Per-Operation Cancellation
   * Terminal, partial and total: the operation completes with
   * operation_aborted and the socket stays open.
   */
  template <detail::wait_token ConnectToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_connect(const endpoint_type& peer,
                     ConnectToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<ConnectToken, void(boost::system::error_code)>(initiate_connect{this},
                                                                                       token, peer);
  }

  /// Whether the read position is at the out-of-band data mark.
  /// @returns true at the mark.
  /// @throws boost::system::system_error on failure (bad_descriptor if closed).
  bool at_mark() const
  {
    boost::system::error_code ec;
    const bool b = at_mark(ec);
    boost::asio::detail::throw_error(ec, "at_mark");
    return b;
  }
  /// Whether the read position is at the out-of-band data mark.
  /// @param ec set to the error, if any.
  /// @returns true at the mark; false on error.
  bool at_mark(boost::system::error_code& ec) const
  {
    return core().check_open(ec) && detail::socket_ops::at_mark(core().fd(), ec);
  }

  /// The bytes that can be read without blocking.
  /// @returns the number of bytes.
  /// @throws boost::system::system_error on failure (bad_descriptor if closed).
  std::size_t available() const
  {
    boost::system::error_code ec;
    const std::size_t n = available(ec);
    boost::asio::detail::throw_error(ec, "available");
    return n;
  }
  /// The bytes that can be read without blocking.
  /// @param ec set to the error, if any.
  /// @returns the number of bytes; 0 on error.
  std::size_t available(boost::system::error_code& ec) const
  {
    return core().check_open(ec) ? detail::socket_ops::available(core().fd(), ec) : 0;
  }

  /// The remote endpoint of a connected socket.
  /// @returns the peer's endpoint.
  /// @throws boost::system::system_error on failure (not_connected,
  /// bad_descriptor).
  endpoint_type remote_endpoint() const
  {
    boost::system::error_code ec;
    endpoint_type ep = remote_endpoint(ec);
    boost::asio::detail::throw_error(ec, "remote_endpoint");
    return ep;
  }
  /// The remote endpoint of a connected socket.
  /// @param ec set to the error, if any.
  /// @returns the peer's endpoint; a default-constructed one on error.
  endpoint_type remote_endpoint(boost::system::error_code& ec) const
  {
    return this->endpoint_of(&detail::socket_ops::peer_address, ec);
  }

  /// Disables sends, receives or both.
  /// @param what shutdown_receive, shutdown_send or shutdown_both.
  /// @throws boost::system::system_error on failure.
  void shutdown(shutdown_type what)
  {
    boost::system::error_code ec;
    shutdown(what, ec);
    boost::asio::detail::throw_error(ec, "shutdown");
  }
  /// Disables sends, receives or both.
  /// @param what shutdown_receive, shutdown_send or shutdown_both.
  /// @param ec set to the error, if any.
  /// @returns `ec` (nothing under BOOST_ASIO_NO_DEPRECATED).
  BOOST_ASIO_SYNC_OP_VOID shutdown(shutdown_type what, boost::system::error_code& ec)
  {
    if (core().check_open(ec))
      detail::socket_ops::shutdown(core().fd(), static_cast<int>(what), ec);
    BOOST_ASIO_SYNC_OP_VOID_RETURN(ec);
  }

protected:
  /// Protected, as Asio's: a socket is destroyed through its most derived type.
  ~basic_socket() = default;

  /// Internal: the descriptor's state, for the derived socket classes.
  /// @returns the socket's core, an implementation type.
  detail::socket_core<Executor>& core() noexcept { return this->core_; }
  /// Internal: the descriptor's state, for the derived socket classes.
  /// @returns the socket's core, an implementation type.
  const detail::socket_core<Executor>& core() const noexcept { return this->core_; }

  /// Internal: the synchronous send of both socket kinds.
  /// On a stream an empty buffer is done at once (Asio's rule); on a
  /// datagram socket an empty buffer is an empty datagram.
  /// @param buffers the data to send.
  /// @param flags the message flags.
  /// @param stream true for a stream socket.
  /// @param ec set to the error, if any.
  /// @returns the number of bytes sent.
  template <class ConstBufferSequence>
  std::size_t send_blocking(const ConstBufferSequence& buffers, int flags, bool stream,
                            boost::system::error_code& ec)
  {
    return transfer_blocking(detail::io_dir::write, buffers, stream, ec, [&](const detail::buffer_view& v) {
      return detail::socket_ops::send(core().fd(), v.data(), v.count(), flags, ec);
    });
  }
  /// Internal: the synchronous receive of both socket kinds.
  /// On a stream an empty buffer is done at once and zero bytes read is end
  /// of file; on a datagram socket zero bytes is an empty datagram.
  /// @param buffers where to receive.
  /// @param flags the message flags.
  /// @param stream true for a stream socket.
  /// @param ec set to the error, if any.
  /// @returns the number of bytes received.
  template <class MutableBufferSequence>
  std::size_t receive_blocking(const MutableBufferSequence& buffers, int flags, bool stream,
                               boost::system::error_code& ec)
  {
    return transfer_blocking(detail::io_dir::read, buffers, stream, ec, [&](const detail::buffer_view& v) {
      return detail::socket_ops::recv(core().fd(), v.data(), v.count(), flags, stream, ec);
    });
  }

private:
  void connect_blocking(const endpoint_type& peer, boost::system::error_code& ec)
  {
    if (!this->is_open())
    {
      this->open(peer.protocol(), ec);
      if (ec)
        return;
    }
    if (detail::socket_ops::connect(core().fd(), peer.data(), peer.size(), ec))
      return;
    while (detail::socket_ops::poll_ready(core().fd(), 1, -1, ec) || !ec)
      if (detail::socket_ops::connect_finished(core().fd(), 0, ec))
        return;
  }

  template <class Buffers, class Call>
  std::size_t transfer_blocking(detail::io_dir dir, const Buffers& buffers, bool stream,
                                boost::system::error_code& ec, Call call)
  {
    if (!core().check_open(ec))
      return 0;
    const detail::buffer_view v(buffers);
    if (stream && v.total() == 0)
    {
      ec.clear();
      return 0;
    }
    const std::ptrdiff_t r = core().blocking(dir, ec, [&] { return call(v); });
    return r < 0 ? 0 : static_cast<std::size_t>(r);
  }

  struct initiate_connect
  {
    basic_socket* self;
    using executor_type = Executor;
    executor_type get_executor() const noexcept { return self->get_executor(); }

    template <class Handler>
    void operator()(Handler&& h, const endpoint_type& peer) const
    {
      auto& c = self->core();
      // Before the connect starts: refused on a dead runtime, it must not
      // leave a connection in progress.
      c.require_runtime("nanorun socket");
      const detail::connect_action action{detail::invalid_native_handle};
      boost::system::error_code ec;
      if (!self->is_open())
        self->open(peer.protocol(), ec);
      if (!ec)
        c.prepare_async(ec);
      if (ec)
        return c.fail(std::forward<Handler>(h), action, ec);
      if (detail::socket_ops::connect(c.fd(), peer.data(), peer.size(), ec))
        return c.fail(std::forward<Handler>(h), action, ec); // done at once: queued
      // Tried at once as well: the connection may have completed, and its
      // edge been consumed by another worker, before the op is queued.
      c.start(std::forward<Handler>(h), detail::io_dir::write, detail::connect_action{c.fd()});
    }
  };
};

} // namespace nanorun
