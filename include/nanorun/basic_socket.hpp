// nanorun::basic_socket: the operations every socket has (Asio's
// basic_socket), on nanorun's reactor.
#pragma once

#include <nanorun/detail/socket_actions.hpp>
#include <nanorun/detail/socket_core.hpp>
#include <nanorun/runtime.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
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
 * @par Thread safety
 * Distinct objects: safe. Shared objects: unsafe, as with Asio, except that
 * one read-side and one write-side operation may be outstanding at once.
 */
template <class Protocol, class Executor = boost::asio::any_io_executor>
class basic_socket : public boost::asio::socket_base
{
public:
  using executor_type = Executor;
  using protocol_type = Protocol;
  using endpoint_type = typename Protocol::endpoint;
  using native_handle_type = int;

  template <class Executor1>
  struct rebind_executor
  {
    using other = basic_socket<Protocol, Executor1>;
  };

  explicit basic_socket(const executor_type& ex) : core_(ex, "nanorun socket") {}

  template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
  explicit basic_socket(ExecutionContext& ctx) : basic_socket(executor_type(ctx.get_executor()))
  {
  }

  basic_socket(const executor_type& ex, const protocol_type& protocol) : basic_socket(ex) { open(protocol); }

  basic_socket(const executor_type& ex, const endpoint_type& endpoint) : basic_socket(ex)
  {
    open(endpoint.protocol());
    bind(endpoint);
  }

  basic_socket(const executor_type& ex, const protocol_type& protocol, const native_handle_type& fd)
      : basic_socket(ex)
  {
    assign(protocol, fd);
  }

  template <class ExecutionContext, class Arg>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
  basic_socket(ExecutionContext& ctx, const Arg& arg) : basic_socket(executor_type(ctx.get_executor()), arg)
  {
  }

  basic_socket(basic_socket&&) noexcept = default;
  basic_socket& operator=(basic_socket&&) noexcept = default;

  template <class Protocol1, class Executor1>
    requires std::is_convertible_v<Protocol1, Protocol> && std::is_convertible_v<Executor1, Executor>
  basic_socket(basic_socket<Protocol1, Executor1>&& o) noexcept
      : core_(std::move(o.core_)), protocol_(std::move(o.protocol_))
  {
  }

  executor_type get_executor() const noexcept { return core_.executor(); }

  /// The socket itself (Asio's lowest layer of a stream).
  basic_socket& lowest_layer() noexcept { return *this; }
  const basic_socket& lowest_layer() const noexcept { return *this; }
  using lowest_layer_type = basic_socket;

  void open(const protocol_type& protocol = protocol_type())
  {
    boost::system::error_code ec;
    open(protocol, ec);
    boost::asio::detail::throw_error(ec, "open");
  }
  void open(const protocol_type& protocol, boost::system::error_code& ec)
  {
    core_.open(protocol.family(), protocol.type(), protocol.protocol(), ec);
    if (!ec)
      protocol_ = protocol;
  }

  void assign(const protocol_type& protocol, const native_handle_type& fd)
  {
    boost::system::error_code ec;
    assign(protocol, fd, ec);
    boost::asio::detail::throw_error(ec, "assign");
  }
  void assign(const protocol_type& protocol, const native_handle_type& fd, boost::system::error_code& ec)
  {
    core_.assign(fd, ec);
    if (!ec)
      protocol_ = protocol;
  }

  bool is_open() const noexcept { return core_.is_open(); }

  void close()
  {
    boost::system::error_code ec;
    close(ec);
    boost::asio::detail::throw_error(ec, "close");
  }
  void close(boost::system::error_code& ec) { core_.close(ec); }

  native_handle_type release()
  {
    boost::system::error_code ec;
    const int fd = release(ec);
    boost::asio::detail::throw_error(ec, "release");
    return fd;
  }
  native_handle_type release(boost::system::error_code& ec) { return core_.release(ec); }

  native_handle_type native_handle() const noexcept { return core_.fd(); }

  void cancel()
  {
    boost::system::error_code ec;
    cancel(ec);
    boost::asio::detail::throw_error(ec, "cancel");
  }
  void cancel(boost::system::error_code& ec) { core_.cancel(ec); }

  void bind(const endpoint_type& endpoint)
  {
    boost::system::error_code ec;
    bind(endpoint, ec);
    boost::asio::detail::throw_error(ec, "bind");
  }
  void bind(const endpoint_type& endpoint, boost::system::error_code& ec)
  {
    if (!check_open(ec))
      return;
    detail::socket_ops::bind(core_.fd(), endpoint.data(), endpoint.size(), ec);
  }

  void connect(const endpoint_type& peer)
  {
    boost::system::error_code ec;
    connect(peer, ec);
    boost::asio::detail::throw_error(ec, "connect");
  }
  void connect(const endpoint_type& peer, boost::system::error_code& ec)
  {
    if (!is_open())
    {
      open(peer.protocol(), ec);
      if (ec)
        return;
    }
    if (detail::socket_ops::connect(core_.fd(), peer.data(), peer.size(), ec))
      return;
    if (core_.user_non_blocking())
    {
      ec = boost::asio::error::in_progress;
      return;
    }
    while (detail::socket_ops::poll_ready(core_.fd(), 1, -1, ec) || !ec)
      if (detail::socket_ops::connect_finished(core_.fd(), ec))
        return;
  }

  /// Connects asynchronously; opens the socket first if it is closed.
  template <class Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_connect(const endpoint_type& peer,
                     Token&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(initiate_connect{this}, token,
                                                                                peer);
  }

  template <class Option>
  void set_option(const Option& option)
  {
    boost::system::error_code ec;
    set_option(option, ec);
    boost::asio::detail::throw_error(ec, "set_option");
  }
  template <class Option>
  void set_option(const Option& option, boost::system::error_code& ec)
  {
    if (!check_open(ec))
      return;
    detail::socket_ops::set_option(core_.fd(), option.level(protocol_), option.name(protocol_),
                                   option.data(protocol_), option.size(protocol_), ec);
  }

  template <class Option>
  void get_option(Option& option) const
  {
    boost::system::error_code ec;
    get_option(option, ec);
    boost::asio::detail::throw_error(ec, "get_option");
  }
  template <class Option>
  void get_option(Option& option, boost::system::error_code& ec) const
  {
    if (!check_open(ec))
      return;
    std::size_t size = option.size(protocol_);
    detail::socket_ops::get_option(core_.fd(), option.level(protocol_), option.name(protocol_),
                                   option.data(protocol_), &size, ec);
    if (!ec)
      option.resize(protocol_, size);
  }

  /// Whether synchronous operations return would_block instead of waiting.
  bool non_blocking() const noexcept { return core_.user_non_blocking(); }
  void non_blocking(bool mode)
  {
    boost::system::error_code ec;
    non_blocking(mode, ec);
    boost::asio::detail::throw_error(ec, "non_blocking");
  }
  void non_blocking(bool mode, boost::system::error_code& ec) { core_.user_non_blocking(mode, ec); }

  std::size_t available() const
  {
    boost::system::error_code ec;
    const std::size_t n = available(ec);
    boost::asio::detail::throw_error(ec, "available");
    return n;
  }
  std::size_t available(boost::system::error_code& ec) const
  {
    if (!check_open(ec))
      return 0;
    return detail::socket_ops::available(core_.fd(), ec);
  }

  endpoint_type local_endpoint() const
  {
    boost::system::error_code ec;
    endpoint_type ep = local_endpoint(ec);
    boost::asio::detail::throw_error(ec, "local_endpoint");
    return ep;
  }
  endpoint_type local_endpoint(boost::system::error_code& ec) const
  {
    endpoint_type ep;
    if (!check_open(ec))
      return ep;
    std::size_t len = ep.capacity();
    detail::socket_ops::local_address(core_.fd(), ep.data(), &len, ec);
    if (ec)
      return endpoint_type();
    ep.resize(len);
    return ep;
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
    endpoint_type ep;
    if (!check_open(ec))
      return ep;
    std::size_t len = ep.capacity();
    detail::socket_ops::peer_address(core_.fd(), ep.data(), &len, ec);
    if (ec)
      return endpoint_type();
    ep.resize(len);
    return ep;
  }

  void shutdown(shutdown_type what)
  {
    boost::system::error_code ec;
    shutdown(what, ec);
    boost::asio::detail::throw_error(ec, "shutdown");
  }
  void shutdown(shutdown_type what, boost::system::error_code& ec)
  {
    if (!check_open(ec))
      return;
    detail::socket_ops::shutdown(core_.fd(), static_cast<int>(what), ec);
  }

  /// Blocks until the socket is ready to read, write, or has an error condition.
  void wait(wait_type w)
  {
    boost::system::error_code ec;
    wait(w, ec);
    boost::asio::detail::throw_error(ec, "wait");
  }
  void wait(wait_type w, boost::system::error_code& ec)
  {
    if (!check_open(ec))
      return;
    detail::socket_ops::poll_ready(core_.fd(), static_cast<int>(w), -1, ec);
  }

  template <class Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_wait(wait_type w, Token&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(initiate_wait{this}, token, w);
  }

protected:
  ~basic_socket() = default;

  bool check_open(boost::system::error_code& ec) const
  {
    if (core_.is_open())
      return true;
    ec = boost::asio::error::bad_descriptor;
    return false;
  }

  // The synchronous send and receive of both socket kinds. On a stream an
  // empty buffer is done at once (Asio's rule) and zero bytes read is end of
  // file; on a datagram socket an empty buffer is an empty datagram.
  template <class ConstBufferSequence>
  std::size_t send_blocking(const ConstBufferSequence& buffers, message_flags flags, bool stream,
                            boost::system::error_code& ec)
  {
    return transfer_blocking(detail::io_dir::write, buffers, stream, ec, [&](const detail::buffer_view& v) {
      return detail::socket_ops::send(core_.fd(), v.data(), v.count(), flags, ec);
    });
  }
  template <class MutableBufferSequence>
  std::size_t receive_blocking(const MutableBufferSequence& buffers, message_flags flags, bool stream,
                               boost::system::error_code& ec)
  {
    return transfer_blocking(detail::io_dir::read, buffers, stream, ec, [&](const detail::buffer_view& v) {
      return detail::socket_ops::recv(core_.fd(), v.data(), v.count(), flags, stream, ec);
    });
  }

  detail::socket_core<Executor> core_;
  Protocol protocol_ = Protocol::v4();

private:
  template <class Buffers, class Call>
  std::size_t transfer_blocking(detail::io_dir dir, const Buffers& buffers, bool stream,
                                boost::system::error_code& ec, Call call)
  {
    if (!check_open(ec))
      return 0;
    const detail::buffer_view v(buffers);
    if (stream && v.total() == 0)
    {
      ec.clear();
      return 0;
    }
    const std::ptrdiff_t r = core_.blocking(dir, ec, [&] { return call(v); });
    return r < 0 ? 0 : static_cast<std::size_t>(r);
  }

  template <class, class>
  friend class basic_socket;

  struct initiate_connect
  {
    basic_socket* self;
    using executor_type = Executor;
    executor_type get_executor() const noexcept { return self->get_executor(); }

    template <class Handler>
    void operator()(Handler&& h, const endpoint_type& peer) const
    {
      const detail::connect_action action{-1};
      boost::system::error_code ec;
      if (!self->is_open())
        self->open(peer.protocol(), ec);
      if (ec)
        return self->core_.fail(std::forward<Handler>(h), action, ec);
      if (detail::socket_ops::connect(self->core_.fd(), peer.data(), peer.size(), ec))
        return self->core_.fail(std::forward<Handler>(h), action, ec); // done at once: queued
      // Tried at once as well: the connection may have completed, and its
      // edge been consumed by another worker, before the op is queued.
      self->core_.start(std::forward<Handler>(h), detail::io_dir::write, detail::connect_action{self->core_.fd()});
    }
  };

  struct initiate_wait
  {
    basic_socket* self;
    using executor_type = Executor;
    executor_type get_executor() const noexcept { return self->get_executor(); }

    template <class Handler>
    void operator()(Handler&& h, wait_type w) const
    {
      const int dir = static_cast<int>(w);
      const detail::io_dir d = dir == 0 ? detail::io_dir::read : dir == 1 ? detail::io_dir::write : detail::io_dir::error;
      self->core_.start(std::forward<Handler>(h), d, detail::wait_action{self->core_.fd(), dir});
    }
  };
};

} // namespace nanorun
