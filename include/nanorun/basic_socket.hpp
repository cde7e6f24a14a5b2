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
 * @par Thread safety
 * Distinct objects: safe. Shared objects: unsafe, as with Asio, except that
 * one read-side and one write-side operation may be outstanding at once.
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

  template <class Executor1>
  struct rebind_executor
  {
    using other = basic_socket<Protocol, Executor1>;
  };

  /// What lowest_layer() returns: Asio's basic_socket, which nanorun
  /// specialises for its protocols to derive from this class.
  using lowest_layer_type = boost::asio::basic_socket<Protocol, Executor>;

  explicit basic_socket(const executor_type& ex) : object(ex, "nanorun socket") {}
  template <class ExecutionContext>
    requires is_context<ExecutionContext>
  explicit basic_socket(ExecutionContext& ctx) : basic_socket(executor_type(ctx.get_executor()))
  {
  }

  /// Opens the socket.
  basic_socket(const executor_type& ex, const protocol_type& protocol) : basic_socket(ex) { this->open(protocol); }
  template <class ExecutionContext>
    requires is_context<ExecutionContext>
  basic_socket(ExecutionContext& ctx, const protocol_type& protocol)
      : basic_socket(executor_type(ctx.get_executor()), protocol)
  {
  }

  /// Opens the socket and binds it to `endpoint`.
  basic_socket(const executor_type& ex, const endpoint_type& endpoint) : basic_socket(ex)
  {
    this->open(endpoint.protocol());
    this->bind(endpoint);
  }
  template <class ExecutionContext>
    requires is_context<ExecutionContext>
  basic_socket(ExecutionContext& ctx, const endpoint_type& endpoint)
      : basic_socket(executor_type(ctx.get_executor()), endpoint)
  {
  }

  /// Takes ownership of an open descriptor (which may be in blocking mode).
  basic_socket(const executor_type& ex, const protocol_type& protocol, const native_handle_type& fd)
      : basic_socket(ex)
  {
    this->assign(protocol, fd);
  }
  template <class ExecutionContext>
    requires is_context<ExecutionContext>
  basic_socket(ExecutionContext& ctx, const protocol_type& protocol, const native_handle_type& fd)
      : basic_socket(executor_type(ctx.get_executor()), protocol, fd)
  {
  }

  basic_socket(basic_socket&&) noexcept = default;
  basic_socket& operator=(basic_socket&&) noexcept = default;

  /// Moves from a socket of another protocol or executor type, pending
  /// operations included.
  template <class Protocol1, class Executor1>
    requires std::is_convertible_v<Protocol1, Protocol> && std::is_convertible_v<Executor1, Executor>
  basic_socket(basic_socket<Protocol1, Executor1>&& o) noexcept : object(std::move(o))
  {
  }
  template <class Protocol1, class Executor1>
    requires std::is_convertible_v<Protocol1, Protocol> && std::is_convertible_v<Executor1, Executor>
  basic_socket& operator=(basic_socket<Protocol1, Executor1>&& o) noexcept
  {
    this->move_assign(std::move(o));
    return *this;
  }

  lowest_layer_type& lowest_layer() noexcept { return static_cast<lowest_layer_type&>(*this); }
  const lowest_layer_type& lowest_layer() const noexcept { return static_cast<const lowest_layer_type&>(*this); }

  /// Connects, opening the socket first if it is closed. Blocks until the
  /// connection is made or fails, even with non_blocking(true), as Asio's.
  void connect(const endpoint_type& peer)
  {
    boost::system::error_code ec;
    connect(peer, ec);
    boost::asio::detail::throw_error(ec, "connect");
  }
  BOOST_ASIO_SYNC_OP_VOID connect(const endpoint_type& peer, boost::system::error_code& ec)
  {
    connect_blocking(peer, ec);
    BOOST_ASIO_SYNC_OP_VOID_RETURN(ec);
  }

  /// Connects asynchronously; opens the socket first if it is closed.
  /// @par Completion Signature  @code void(boost::system::error_code) @endcode
  template <detail::wait_token ConnectToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_connect(const endpoint_type& peer,
                     ConnectToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<ConnectToken, void(boost::system::error_code)>(initiate_connect{this},
                                                                                       token, peer);
  }

  /// Whether the read position is at the out-of-band data mark.
  bool at_mark() const
  {
    boost::system::error_code ec;
    const bool b = at_mark(ec);
    boost::asio::detail::throw_error(ec, "at_mark");
    return b;
  }
  bool at_mark(boost::system::error_code& ec) const
  {
    return core().check_open(ec) && detail::socket_ops::at_mark(core().fd(), ec);
  }

  /// The bytes that can be read without blocking.
  std::size_t available() const
  {
    boost::system::error_code ec;
    const std::size_t n = available(ec);
    boost::asio::detail::throw_error(ec, "available");
    return n;
  }
  std::size_t available(boost::system::error_code& ec) const
  {
    return core().check_open(ec) ? detail::socket_ops::available(core().fd(), ec) : 0;
  }

  endpoint_type remote_endpoint() const
  {
    boost::system::error_code ec;
    endpoint_type ep = remote_endpoint(ec);
    boost::asio::detail::throw_error(ec, "remote_endpoint");
    return ep;
  }
  endpoint_type remote_endpoint(boost::system::error_code& ec) const
  {
    return this->endpoint_of(&detail::socket_ops::peer_address, ec);
  }

  void shutdown(shutdown_type what)
  {
    boost::system::error_code ec;
    shutdown(what, ec);
    boost::asio::detail::throw_error(ec, "shutdown");
  }
  BOOST_ASIO_SYNC_OP_VOID shutdown(shutdown_type what, boost::system::error_code& ec)
  {
    if (core().check_open(ec))
      detail::socket_ops::shutdown(core().fd(), static_cast<int>(what), ec);
    BOOST_ASIO_SYNC_OP_VOID_RETURN(ec);
  }

protected:
  ~basic_socket() = default;

  detail::socket_core<Executor>& core() noexcept { return this->core_; }
  const detail::socket_core<Executor>& core() const noexcept { return this->core_; }

  // The synchronous send and receive of both socket kinds. On a stream an
  // empty buffer is done at once (Asio's rule) and zero bytes read is end of
  // file; on a datagram socket an empty buffer is an empty datagram.
  template <class ConstBufferSequence>
  std::size_t send_blocking(const ConstBufferSequence& buffers, int flags, bool stream,
                            boost::system::error_code& ec)
  {
    return transfer_blocking(detail::io_dir::write, buffers, stream, ec, [&](const detail::buffer_view& v) {
      return detail::socket_ops::send(core().fd(), v.data(), v.count(), flags, ec);
    });
  }
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
