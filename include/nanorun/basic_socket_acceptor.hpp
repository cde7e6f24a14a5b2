// nanorun::basic_socket_acceptor: Asio's basic_socket_acceptor on nanorun's
// reactor.
#pragma once

#include <nanorun/basic_socket.hpp>
#include <nanorun/detail/socket_actions.hpp>
#include <nanorun/detail/socket_core.hpp>
#include <nanorun/detail/socket_object.hpp>
#include <nanorun/runtime.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/detail/throw_error.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/executor.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/is_executor.hpp>
#include <boost/asio/socket_base.hpp>

#include <type_traits>
#include <utility>

namespace nanorun {

namespace detail {
// A completion token for a move-accept, whose handler receives the socket.
template <class T, class Socket>
concept accept_token = boost::asio::completion_token_for<T, void(boost::system::error_code, Socket)>;
} // namespace detail

/// Accepts connections, with the interface of boost::asio::basic_socket_acceptor.
/**
 * Every constructor and accept form of Asio's, resolving as Asio's do:
 * accept(peer) and async_accept(peer, token) fill a closed socket and
 * complete with `void(error_code)`; accept(), accept(ex), accept(ctx),
 * accept(endpoint) and their async forms return (or hand the handler) a new
 * socket of type `Protocol::socket::rebind_executor<Ex>::other`, with the
 * signature `void(error_code, socket)`.
 *
 * As nanorun's sockets: any completion token, never inline, associated
 * executor/allocator/cancellation slot honoured. An accept that fails for
 * lack of descriptors (EMFILE, ENFILE, ENOBUFS) completes with that error
 * rather than retrying in a loop; the caller decides when to try again. A
 * connection reset before it was accepted is skipped unless
 * enable_connection_aborted is set, as in Asio.
 *
 * Mirrors boost::asio::basic_socket_acceptor (Asio 1.26), with the
 * differences listed for nanorun::basic_socket (the executor must belong to
 * a nanorun::runtime; the descriptor is non-blocking from open(); the
 * acceptor may outlive its runtime), and: the accept forms that return a
 * new socket throw boost::system::system_error (operation_aborted) even in
 * their error_code form once the runtime is destroyed, since the socket
 * cannot be built without it (doc/bad-input.md).
 *
 * The acceptor also has the members of the common socket base listed for
 * nanorun::basic_socket (open, assign, bind, close, cancel, release,
 * options, io_control, the non-blocking modes, local_endpoint, wait,
 * async_wait), with the same semantics.
 *
 * @par Per-Operation Cancellation
 * Every asynchronous accept (and async_wait) supports terminal, partial and
 * total cancellation: a waiting accept has accepted nothing, and completes
 * with boost::asio::error::operation_aborted.
 *
 * @par Thread safety
 * Distinct objects: safe. Shared objects: unsafe. Per-operation
 * cancellation may be signalled from any thread.
 */
template <class Protocol, class Executor = boost::asio::any_io_executor>
class basic_socket_acceptor : public detail::socket_object<Protocol, Executor>
{
  using object = detail::socket_object<Protocol, Executor>;

  template <class Context>
  static constexpr bool is_context = std::is_convertible_v<Context&, boost::asio::execution_context&>;
  template <class Ex>
  static constexpr bool is_executor =
      boost::asio::execution::is_executor<Ex>::value || boost::asio::is_executor<Ex>::value;
  // The socket a move-accept hands out on Executor1.
  template <class Executor1>
  using socket_on = typename Protocol::socket::template rebind_executor<Executor1>::other;

public:
  using typename object::endpoint_type;
  using typename object::executor_type;
  using typename object::native_handle_type;
  using typename object::protocol_type;

  /// Rebinds the acceptor type to another executor.
  template <class Executor1>
  struct rebind_executor
  {
    /// The acceptor type when rebound to Executor1.
    using other = basic_socket_acceptor<Protocol, Executor1>;
  };

  /// Constructs a closed acceptor.
  /// @param ex the executor: its context must be a nanorun::runtime.
  /// @throws std::invalid_argument if ex does not belong to a nanorun
  /// runtime; boost::asio::execution::bad_executor if it is empty.
  explicit basic_socket_acceptor(const executor_type& ex) : object(ex, "nanorun acceptor") {}
  /// Constructs a closed acceptor on ctx's executor.
  /// @param ctx the runtime.
  template <class ExecutionContext>
    requires is_context<ExecutionContext>
  explicit basic_socket_acceptor(ExecutionContext& ctx) : basic_socket_acceptor(executor_type(ctx.get_executor()))
  {
  }

  /// Opens the acceptor.
  /// @param ex the executor (see the executor constructor).
  /// @param protocol the protocol to open it with.
  /// @throws boost::system::system_error if it cannot be opened.
  basic_socket_acceptor(const executor_type& ex, const protocol_type& protocol) : basic_socket_acceptor(ex)
  {
    this->open(protocol);
  }
  /// Opens the acceptor, on ctx's executor.
  /// @param ctx the runtime.
  /// @param protocol the protocol to open it with.
  template <class ExecutionContext>
    requires is_context<ExecutionContext>
  basic_socket_acceptor(ExecutionContext& ctx, const protocol_type& protocol)
      : basic_socket_acceptor(executor_type(ctx.get_executor()), protocol)
  {
  }

  /// Opens, sets reuse_address (if asked), binds and listens, as Asio's does.
  /// @param ex the executor (see the executor constructor).
  /// @param endpoint the local endpoint to bind to.
  /// @param reuse_addr whether to set the reuse_address option first.
  /// @throws boost::system::system_error if a step fails.
  basic_socket_acceptor(const executor_type& ex, const endpoint_type& endpoint, bool reuse_addr = true)
      : basic_socket_acceptor(ex)
  {
    this->open(endpoint.protocol());
    if (reuse_addr)
      this->set_option(boost::asio::socket_base::reuse_address(true));
    this->bind(endpoint);
    listen();
  }
  /// Opens, binds and listens, on ctx's executor.
  /// @param ctx the runtime.
  /// @param endpoint the local endpoint to bind to.
  /// @param reuse_addr whether to set the reuse_address option first.
  template <class ExecutionContext>
    requires is_context<ExecutionContext>
  basic_socket_acceptor(ExecutionContext& ctx, const endpoint_type& endpoint, bool reuse_addr = true)
      : basic_socket_acceptor(executor_type(ctx.get_executor()), endpoint, reuse_addr)
  {
  }

  /// Takes ownership of an open (listening or not) descriptor.
  /// @param ex the executor (see the executor constructor).
  /// @param protocol the descriptor's protocol.
  /// @param fd the descriptor; the acceptor closes it.
  /// @throws boost::system::system_error if it cannot be registered.
  basic_socket_acceptor(const executor_type& ex, const protocol_type& protocol, const native_handle_type& fd)
      : basic_socket_acceptor(ex)
  {
    this->assign(protocol, fd);
  }
  /// Takes ownership of an open descriptor, on ctx's executor.
  /// @param ctx the runtime.
  /// @param protocol the descriptor's protocol.
  /// @param fd the descriptor.
  template <class ExecutionContext>
    requires is_context<ExecutionContext>
  basic_socket_acceptor(ExecutionContext& ctx, const protocol_type& protocol, const native_handle_type& fd)
      : basic_socket_acceptor(executor_type(ctx.get_executor()), protocol, fd)
  {
  }

  /// Moves an acceptor, pending accepts included; the moved-from one is
  /// closed.
  basic_socket_acceptor(basic_socket_acceptor&&) noexcept = default;
  /// Move-assigns an acceptor: this one is closed first (its waiting
  /// operations complete with operation_aborted).
  /// @returns `*this`.
  basic_socket_acceptor& operator=(basic_socket_acceptor&&) noexcept = default;

  /// Moves from an acceptor of another protocol or executor type.
  /// @param o the acceptor to move from.
  template <class Protocol1, class Executor1>
    requires std::is_convertible_v<Protocol1, Protocol> && std::is_convertible_v<Executor1, Executor>
  basic_socket_acceptor(basic_socket_acceptor<Protocol1, Executor1>&& o) noexcept : object(std::move(o))
  {
  }
  /// Move-assigns from an acceptor of another protocol or executor type.
  /// @param o the acceptor to move from.
  /// @returns `*this`.
  template <class Protocol1, class Executor1>
    requires std::is_convertible_v<Protocol1, Protocol> && std::is_convertible_v<Executor1, Executor>
  basic_socket_acceptor& operator=(basic_socket_acceptor<Protocol1, Executor1>&& o) noexcept
  {
    this->move_assign(std::move(o));
    return *this;
  }

  /// Closes the acceptor; waiting accepts complete with operation_aborted.
  ~basic_socket_acceptor() = default;

  /// Puts the acceptor in the listening state.
  /// @param backlog the length of the queue of pending connections.
  /// @throws boost::system::system_error on failure (bad_descriptor if closed).
  void listen(int backlog = boost::asio::socket_base::max_listen_connections)
  {
    boost::system::error_code ec;
    listen(backlog, ec);
    boost::asio::detail::throw_error(ec, "listen");
  }
  /// Puts the acceptor in the listening state.
  /// @param backlog the length of the queue of pending connections.
  /// @param ec set to the error, if any.
  /// @returns `ec` (nothing under BOOST_ASIO_NO_DEPRECATED).
  BOOST_ASIO_SYNC_OP_VOID listen(int backlog, boost::system::error_code& ec)
  {
    if (this->core_.check_open(ec))
      detail::socket_ops::listen(this->core_.fd(), backlog, ec);
    BOOST_ASIO_SYNC_OP_VOID_RETURN(ec);
  }

  /// @name Synchronous accepts into an existing, closed socket
  /// A peer that is open fails with already_open (checked first, as Asio).
  /// @{

  /// Accepts a connection into `peer`, blocking until one comes.
  /// @param peer the socket to accept into; must be closed.
  /// @throws boost::system::system_error on failure.
  template <class Protocol1, class Executor1>
    requires std::is_convertible_v<Protocol, Protocol1>
  void accept(basic_socket<Protocol1, Executor1>& peer)
  {
    boost::system::error_code ec;
    accept_into(peer, nullptr, ec);
    boost::asio::detail::throw_error(ec, "accept");
  }
  /// Accepts a connection into `peer`, blocking until one comes.
  /// @param peer the socket to accept into; must be closed.
  /// @param ec set to the error, if any.
  /// @returns `ec` (nothing under BOOST_ASIO_NO_DEPRECATED).
  template <class Protocol1, class Executor1>
    requires std::is_convertible_v<Protocol, Protocol1>
  BOOST_ASIO_SYNC_OP_VOID accept(basic_socket<Protocol1, Executor1>& peer, boost::system::error_code& ec)
  {
    accept_into(peer, nullptr, ec);
    BOOST_ASIO_SYNC_OP_VOID_RETURN(ec);
  }
  /// Accepts a connection into `peer`, blocking until one comes.
  /// @param peer the socket to accept into; must be closed.
  /// @param peer_endpoint set to the peer's endpoint.
  /// @throws boost::system::system_error on failure.
  template <class Executor1>
  void accept(basic_socket<protocol_type, Executor1>& peer, endpoint_type& peer_endpoint)
  {
    boost::system::error_code ec;
    accept_into(peer, &peer_endpoint, ec);
    boost::asio::detail::throw_error(ec, "accept");
  }
  /// Accepts a connection into `peer`, blocking until one comes.
  /// @param peer the socket to accept into; must be closed.
  /// @param peer_endpoint set to the peer's endpoint.
  /// @param ec set to the error, if any.
  /// @returns `ec` (nothing under BOOST_ASIO_NO_DEPRECATED).
  template <class Executor1>
  BOOST_ASIO_SYNC_OP_VOID accept(basic_socket<protocol_type, Executor1>& peer, endpoint_type& peer_endpoint,
                                 boost::system::error_code& ec)
  {
    accept_into(peer, &peer_endpoint, ec);
    BOOST_ASIO_SYNC_OP_VOID_RETURN(ec);
  }
  /// @}

  /// @name Synchronous accepts returning a new socket
  /// On this acceptor's executor, on `ex`, or on `ctx`'s executor; with the
  /// peer's endpoint if one is given. On error the socket is closed.
  /// @{

  /// Accepts a connection, blocking until one comes, into a new socket on this acceptor's executor.
  /// @returns the connected socket (closed on error).
  /// @throws boost::system::system_error on failure.
  socket_on<executor_type> accept() { return accept_new<executor_type>(this->get_executor(), nullptr); }
  /// Accepts a connection, blocking until one comes, into a new socket on this acceptor's executor.
  /// @param ec set to the error, if any.
  /// @returns the connected socket (closed on error).
  /// @throws boost::system::system_error (operation_aborted) if the runtime
  /// has been destroyed.
  socket_on<executor_type> accept(boost::system::error_code& ec)
  {
    return accept_new<executor_type>(this->get_executor(), nullptr, ec);
  }
  /// Accepts a connection, blocking until one comes, into a new socket on this acceptor's executor.
  /// @param peer_endpoint set to the peer's endpoint.
  /// @returns the connected socket (closed on error).
  /// @throws boost::system::system_error on failure.
  socket_on<executor_type> accept(endpoint_type& peer_endpoint)
  {
    return accept_new<executor_type>(this->get_executor(), &peer_endpoint);
  }
  /// Accepts a connection, blocking until one comes, into a new socket on this acceptor's executor.
  /// @param peer_endpoint set to the peer's endpoint.
  /// @param ec set to the error, if any.
  /// @returns the connected socket (closed on error).
  /// @throws boost::system::system_error (operation_aborted) if the runtime
  /// has been destroyed.
  socket_on<executor_type> accept(endpoint_type& peer_endpoint, boost::system::error_code& ec)
  {
    return accept_new<executor_type>(this->get_executor(), &peer_endpoint, ec);
  }

  /// Accepts a connection, blocking until one comes, into a new socket on `ex`.
  /// @param ex the new socket's executor.
  /// @returns the connected socket (closed on error).
  /// @throws boost::system::system_error on failure.
  template <class Executor1>
    requires is_executor<Executor1>
  socket_on<Executor1> accept(const Executor1& ex)
  {
    return accept_new<Executor1>(ex, nullptr);
  }
  /// Accepts a connection, blocking until one comes, into a new socket on `ex`.
  /// @param ex the new socket's executor.
  /// @param ec set to the error, if any.
  /// @returns the connected socket (closed on error).
  /// @throws boost::system::system_error (operation_aborted) if the runtime
  /// has been destroyed.
  template <class Executor1>
    requires is_executor<Executor1>
  socket_on<Executor1> accept(const Executor1& ex, boost::system::error_code& ec)
  {
    return accept_new<Executor1>(ex, nullptr, ec);
  }
  /// Accepts a connection, blocking until one comes, into a new socket on `ex`.
  /// @param ex the new socket's executor.
  /// @param peer_endpoint set to the peer's endpoint.
  /// @returns the connected socket (closed on error).
  /// @throws boost::system::system_error on failure.
  template <class Executor1>
    requires is_executor<Executor1>
  socket_on<Executor1> accept(const Executor1& ex, endpoint_type& peer_endpoint)
  {
    return accept_new<Executor1>(ex, &peer_endpoint);
  }
  /// Accepts a connection, blocking until one comes, into a new socket on `ex`.
  /// @param ex the new socket's executor.
  /// @param peer_endpoint set to the peer's endpoint.
  /// @param ec set to the error, if any.
  /// @returns the connected socket (closed on error).
  /// @throws boost::system::system_error (operation_aborted) if the runtime
  /// has been destroyed.
  template <class Executor1>
    requires is_executor<Executor1>
  socket_on<Executor1> accept(const Executor1& ex, endpoint_type& peer_endpoint, boost::system::error_code& ec)
  {
    return accept_new<Executor1>(ex, &peer_endpoint, ec);
  }

  /// Accepts a connection, blocking until one comes, into a new socket on ctx's executor.
  /// @param ctx the context whose executor the new socket gets.
  /// @returns the connected socket (closed on error).
  /// @throws boost::system::system_error on failure.
  template <class ExecutionContext>
    requires is_context<ExecutionContext>
  socket_on<typename ExecutionContext::executor_type> accept(ExecutionContext& ctx)
  {
    return accept_new<typename ExecutionContext::executor_type>(ctx.get_executor(), nullptr);
  }
  /// Accepts a connection, blocking until one comes, into a new socket on ctx's executor.
  /// @param ctx the context whose executor the new socket gets.
  /// @param ec set to the error, if any.
  /// @returns the connected socket (closed on error).
  /// @throws boost::system::system_error (operation_aborted) if the runtime
  /// has been destroyed.
  template <class ExecutionContext>
    requires is_context<ExecutionContext>
  socket_on<typename ExecutionContext::executor_type> accept(ExecutionContext& ctx, boost::system::error_code& ec)
  {
    return accept_new<typename ExecutionContext::executor_type>(ctx.get_executor(), nullptr, ec);
  }
  /// Accepts a connection, blocking until one comes, into a new socket on ctx's executor.
  /// @param ctx the context whose executor the new socket gets.
  /// @param peer_endpoint set to the peer's endpoint.
  /// @returns the connected socket (closed on error).
  /// @throws boost::system::system_error on failure.
  template <class ExecutionContext>
    requires is_context<ExecutionContext>
  socket_on<typename ExecutionContext::executor_type> accept(ExecutionContext& ctx, endpoint_type& peer_endpoint)
  {
    return accept_new<typename ExecutionContext::executor_type>(ctx.get_executor(), &peer_endpoint);
  }
  /// Accepts a connection, blocking until one comes, into a new socket on ctx's executor.
  /// @param ctx the context whose executor the new socket gets.
  /// @param peer_endpoint set to the peer's endpoint.
  /// @param ec set to the error, if any.
  /// @returns the connected socket (closed on error).
  /// @throws boost::system::system_error (operation_aborted) if the runtime
  /// has been destroyed.
  template <class ExecutionContext>
    requires is_context<ExecutionContext>
  socket_on<typename ExecutionContext::executor_type> accept(ExecutionContext& ctx, endpoint_type& peer_endpoint,
                                                             boost::system::error_code& ec)
  {
    return accept_new<typename ExecutionContext::executor_type>(ctx.get_executor(), &peer_endpoint, ec);
  }
  /// @}

  /// @name Asynchronous accepts into an existing, closed socket
  /// @{

  /// Accepts a connection into `peer`, asynchronously.
  /// @param peer the socket to accept into; must be closed, and stay valid
  /// until the handler is called.
  /// @param token the completion token.
  /// @returns what the token's async_result returns.
  /// @throws boost::system::system_error (operation_aborted) if the
  /// acceptor's runtime has been destroyed; the handler is not taken.
  ///
  /// @par Completion Signature
  /// @code void(boost::system::error_code) @endcode
  /// Errors: already_open if `peer` is open (checked first), bad_descriptor on
  /// a closed acceptor, operation_aborted when cancelled or closed, or the
  /// OS error (no_descriptors and no_buffer_space are reported, not retried;
  /// connection_aborted only with enable_connection_aborted). Never invoked
  /// from inside this call.
  ///
  /// @par Per-Operation Cancellation
  /// Terminal, partial and total: the accept completes with
  /// operation_aborted, having accepted nothing.
  template <class Protocol1, class Executor1,
            detail::wait_token AcceptToken = boost::asio::default_completion_token_t<executor_type>>
    requires std::is_convertible_v<Protocol, Protocol1>
  auto async_accept(basic_socket<Protocol1, Executor1>& peer,
                    AcceptToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<AcceptToken, void(boost::system::error_code)>(
        initiate_accept_into{this}, token, &peer, static_cast<endpoint_type*>(nullptr));
  }
  /// Accepts a connection into `peer`, asynchronously.
  /// @param peer the socket to accept into; must be closed, and stay valid
  /// until the handler is called.
  /// @param peer_endpoint set to the peer's endpoint; must stay valid until
  /// the handler is called.
  /// @param token the completion token.
  /// @returns what the token's async_result returns.
  /// @throws boost::system::system_error (operation_aborted) if the
  /// acceptor's runtime has been destroyed; the handler is not taken.
  ///
  /// @par Completion Signature
  /// @code void(boost::system::error_code) @endcode
  /// Errors: already_open if `peer` is open (checked first), bad_descriptor on
  /// a closed acceptor, operation_aborted when cancelled or closed, or the
  /// OS error (no_descriptors and no_buffer_space are reported, not retried;
  /// connection_aborted only with enable_connection_aborted). Never invoked
  /// from inside this call.
  ///
  /// @par Per-Operation Cancellation
  /// Terminal, partial and total: the accept completes with
  /// operation_aborted, having accepted nothing.
  template <class Executor1, detail::wait_token AcceptToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_accept(basic_socket<protocol_type, Executor1>& peer, endpoint_type& peer_endpoint,
                    AcceptToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<AcceptToken, void(boost::system::error_code)>(initiate_accept_into{this},
                                                                                      token, &peer, &peer_endpoint);
  }
  /// @}

  /// @name Asynchronous accepts of a new socket
  /// On this acceptor's executor, on `ex`, or on `ctx`'s executor; with the
  /// peer's endpoint if one is given.
  /// @{

  /// Accepts a connection into a new socket on this acceptor's executor, asynchronously.
  /// @param token the completion token.
  /// @returns what the token's async_result returns.
  /// @throws boost::system::system_error (operation_aborted) if the
  /// acceptor's runtime has been destroyed; the handler is not taken.
  ///
  /// @par Completion Signature
  /// @code void(boost::system::error_code, Protocol::socket::rebind_executor<Ex>::other) @endcode
  /// (Ex: this acceptor's executor type, Executor1, or the context's executor type);
  /// the socket is closed on error.
  /// Errors: already_open if `peer` is open (checked first), bad_descriptor on
  /// a closed acceptor, operation_aborted when cancelled or closed, or the
  /// OS error (no_descriptors and no_buffer_space are reported, not retried;
  /// connection_aborted only with enable_connection_aborted). Never invoked
  /// from inside this call.
  ///
  /// @par Per-Operation Cancellation
  /// Terminal, partial and total: the accept completes with
  /// operation_aborted, having accepted nothing.
  template <detail::accept_token<socket_on<Executor>> MoveAcceptToken =
                boost::asio::default_completion_token_t<executor_type>>
  auto async_accept(MoveAcceptToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_accept_new<executor_type>(token, this->get_executor(), nullptr);
  }
  /// Accepts a connection into a new socket on this acceptor's executor, asynchronously.
  /// @param peer_endpoint set to the peer's endpoint; must stay valid until
  /// the handler is called.
  /// @param token the completion token.
  /// @returns what the token's async_result returns.
  /// @throws boost::system::system_error (operation_aborted) if the
  /// acceptor's runtime has been destroyed; the handler is not taken.
  ///
  /// @par Completion Signature
  /// @code void(boost::system::error_code, Protocol::socket::rebind_executor<Ex>::other) @endcode
  /// (Ex: this acceptor's executor type, Executor1, or the context's executor type);
  /// the socket is closed on error.
  /// Errors: already_open if `peer` is open (checked first), bad_descriptor on
  /// a closed acceptor, operation_aborted when cancelled or closed, or the
  /// OS error (no_descriptors and no_buffer_space are reported, not retried;
  /// connection_aborted only with enable_connection_aborted). Never invoked
  /// from inside this call.
  ///
  /// @par Per-Operation Cancellation
  /// Terminal, partial and total: the accept completes with
  /// operation_aborted, having accepted nothing.
  template <detail::accept_token<socket_on<Executor>> MoveAcceptToken =
                boost::asio::default_completion_token_t<executor_type>>
  auto async_accept(endpoint_type& peer_endpoint,
                    MoveAcceptToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_accept_new<executor_type>(token, this->get_executor(), &peer_endpoint);
  }
  /// Accepts a connection into a new socket on `ex`, asynchronously.
  /// @param ex the new socket's executor.
  /// @param token the completion token.
  /// @returns what the token's async_result returns.
  /// @throws boost::system::system_error (operation_aborted) if the
  /// acceptor's runtime has been destroyed; the handler is not taken.
  ///
  /// @par Completion Signature
  /// @code void(boost::system::error_code, Protocol::socket::rebind_executor<Ex>::other) @endcode
  /// (Ex: this acceptor's executor type, Executor1, or the context's executor type);
  /// the socket is closed on error.
  /// Errors: already_open if `peer` is open (checked first), bad_descriptor on
  /// a closed acceptor, operation_aborted when cancelled or closed, or the
  /// OS error (no_descriptors and no_buffer_space are reported, not retried;
  /// connection_aborted only with enable_connection_aborted). Never invoked
  /// from inside this call.
  ///
  /// @par Per-Operation Cancellation
  /// Terminal, partial and total: the accept completes with
  /// operation_aborted, having accepted nothing.
  template <class Executor1, detail::accept_token<socket_on<Executor1>> MoveAcceptToken =
                                 boost::asio::default_completion_token_t<executor_type>>
    requires is_executor<Executor1>
  auto async_accept(const Executor1& ex,
                    MoveAcceptToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_accept_new<Executor1>(token, ex, nullptr);
  }
  /// Accepts a connection into a new socket on `ex`, asynchronously.
  /// @param ex the new socket's executor.
  /// @param peer_endpoint set to the peer's endpoint; must stay valid until
  /// the handler is called.
  /// @param token the completion token.
  /// @returns what the token's async_result returns.
  /// @throws boost::system::system_error (operation_aborted) if the
  /// acceptor's runtime has been destroyed; the handler is not taken.
  ///
  /// @par Completion Signature
  /// @code void(boost::system::error_code, Protocol::socket::rebind_executor<Ex>::other) @endcode
  /// (Ex: this acceptor's executor type, Executor1, or the context's executor type);
  /// the socket is closed on error.
  /// Errors: already_open if `peer` is open (checked first), bad_descriptor on
  /// a closed acceptor, operation_aborted when cancelled or closed, or the
  /// OS error (no_descriptors and no_buffer_space are reported, not retried;
  /// connection_aborted only with enable_connection_aborted). Never invoked
  /// from inside this call.
  ///
  /// @par Per-Operation Cancellation
  /// Terminal, partial and total: the accept completes with
  /// operation_aborted, having accepted nothing.
  template <class Executor1, detail::accept_token<socket_on<Executor1>> MoveAcceptToken =
                                 boost::asio::default_completion_token_t<executor_type>>
    requires is_executor<Executor1>
  auto async_accept(const Executor1& ex, endpoint_type& peer_endpoint,
                    MoveAcceptToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_accept_new<Executor1>(token, ex, &peer_endpoint);
  }
  /// Accepts a connection into a new socket on ctx's executor, asynchronously.
  /// @param ctx the context whose executor the new socket gets.
  /// @param token the completion token.
  /// @returns what the token's async_result returns.
  /// @throws boost::system::system_error (operation_aborted) if the
  /// acceptor's runtime has been destroyed; the handler is not taken.
  ///
  /// @par Completion Signature
  /// @code void(boost::system::error_code, Protocol::socket::rebind_executor<Ex>::other) @endcode
  /// (Ex: this acceptor's executor type, Executor1, or the context's executor type);
  /// the socket is closed on error.
  /// Errors: already_open if `peer` is open (checked first), bad_descriptor on
  /// a closed acceptor, operation_aborted when cancelled or closed, or the
  /// OS error (no_descriptors and no_buffer_space are reported, not retried;
  /// connection_aborted only with enable_connection_aborted). Never invoked
  /// from inside this call.
  ///
  /// @par Per-Operation Cancellation
  /// Terminal, partial and total: the accept completes with
  /// operation_aborted, having accepted nothing.
  template <class ExecutionContext,
            detail::accept_token<socket_on<typename ExecutionContext::executor_type>> MoveAcceptToken =
                boost::asio::default_completion_token_t<executor_type>>
    requires is_context<ExecutionContext>
  auto async_accept(ExecutionContext& ctx,
                    MoveAcceptToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_accept_new<typename ExecutionContext::executor_type>(token, ctx.get_executor(), nullptr);
  }
  /// Accepts a connection into a new socket on ctx's executor, asynchronously.
  /// @param ctx the context whose executor the new socket gets.
  /// @param peer_endpoint set to the peer's endpoint; must stay valid until
  /// the handler is called.
  /// @param token the completion token.
  /// @returns what the token's async_result returns.
  /// @throws boost::system::system_error (operation_aborted) if the
  /// acceptor's runtime has been destroyed; the handler is not taken.
  ///
  /// @par Completion Signature
  /// @code void(boost::system::error_code, Protocol::socket::rebind_executor<Ex>::other) @endcode
  /// (Ex: this acceptor's executor type, Executor1, or the context's executor type);
  /// the socket is closed on error.
  /// Errors: already_open if `peer` is open (checked first), bad_descriptor on
  /// a closed acceptor, operation_aborted when cancelled or closed, or the
  /// OS error (no_descriptors and no_buffer_space are reported, not retried;
  /// connection_aborted only with enable_connection_aborted). Never invoked
  /// from inside this call.
  ///
  /// @par Per-Operation Cancellation
  /// Terminal, partial and total: the accept completes with
  /// operation_aborted, having accepted nothing.
  template <class ExecutionContext,
            detail::accept_token<socket_on<typename ExecutionContext::executor_type>> MoveAcceptToken =
                boost::asio::default_completion_token_t<executor_type>>
    requires is_context<ExecutionContext>
  auto async_accept(ExecutionContext& ctx, endpoint_type& peer_endpoint,
                    MoveAcceptToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_accept_new<typename ExecutionContext::executor_type>(token, ctx.get_executor(), &peer_endpoint);
  }
  /// @}

private:
  // Asio's order: an open peer is already_open before a closed acceptor is
  // bad_descriptor.
  template <class Socket>
  void accept_into(Socket& peer, endpoint_type* ep, boost::system::error_code& ec)
  {
    if (peer.is_open())
    {
      ec = boost::asio::error::already_open;
      return;
    }
    auto& core = this->core_;
    if (!core.check_open(ec))
      return;
    detail::accepted_fd accepted;
    core.blocking(detail::io_dir::read, ec, [&] {
      std::size_t len = ep ? ep->capacity() : 0;
      const detail::native_handle fd = detail::socket_ops::accept(core.fd(), ep ? ep->data() : nullptr, ep ? &len : nullptr,
                                                core.report_connection_aborted(), ec);
      if (fd != detail::invalid_native_handle)
      {
        accepted.reset(fd);
        if (ep)
          ep->resize(len);
      }
      return fd;
    });
    if (!ec)
      detail::adopt(peer, this->protocol_, accepted, ec);
  }

  template <class Executor1>
  socket_on<Executor1> accept_new(const Executor1& ex, endpoint_type* ep, boost::system::error_code& ec)
  {
    // The new socket needs a live runtime to be built at all: with the
    // acceptor's gone, even the error_code forms throw (operation_aborted),
    // as its asynchronous operations do.
    this->core_.require_runtime("accept");
    socket_on<Executor1> peer(ex);
    accept_into(peer, ep, ec);
    return peer;
  }
  template <class Executor1>
  socket_on<Executor1> accept_new(const Executor1& ex, endpoint_type* ep)
  {
    boost::system::error_code ec;
    socket_on<Executor1> peer = accept_new<Executor1>(ex, ep, ec);
    boost::asio::detail::throw_error(ec, "accept");
    return peer;
  }

  template <class Executor1, class Token>
  auto async_accept_new(Token& token, const Executor1& ex, endpoint_type* ep)
  {
    using socket_type = socket_on<Executor1>;
    return boost::asio::async_initiate<Token, void(boost::system::error_code, socket_type)>(
        initiate_accept_new<socket_type>{this}, token, ex, ep);
  }

  struct initiate_accept_into
  {
    basic_socket_acceptor* self;
    using executor_type = Executor;
    executor_type get_executor() const noexcept { return self->get_executor(); }

    template <class Handler, class Socket>
    void operator()(Handler&& h, Socket* peer, endpoint_type* ep) const
    {
      auto& core = self->core_;
      detail::accept_into_action<Socket, endpoint_type> a{core.fd(), core.report_connection_aborted(), peer,
                                                          self->protocol_, ep};
      if (peer->is_open())
        return core.fail(std::forward<Handler>(h), std::move(a), boost::asio::error::already_open);
      core.start(std::forward<Handler>(h), detail::io_dir::read, std::move(a));
    }
  };

  template <class Socket>
  struct initiate_accept_new
  {
    basic_socket_acceptor* self;
    using executor_type = Executor;
    executor_type get_executor() const noexcept { return self->get_executor(); }

    template <class Handler, class Executor1>
    void operator()(Handler&& h, const Executor1& ex, endpoint_type* ep) const
    {
      auto& core = self->core_;
      detail::accept_action<Socket, endpoint_type> a{core.fd(), core.report_connection_aborted(),
                                                     typename Socket::executor_type(ex), self->protocol_, ep};
      core.start(std::forward<Handler>(h), detail::io_dir::read, std::move(a));
    }
  };
};

} // namespace nanorun
