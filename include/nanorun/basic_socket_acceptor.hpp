// nanorun::basic_socket_acceptor: Asio's basic_socket_acceptor on nanorun's
// reactor.
#pragma once

#include <nanorun/detail/socket_actions.hpp>
#include <nanorun/detail/socket_core.hpp>
#include <nanorun/runtime.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/detail/throw_error.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/socket_base.hpp>

#include <type_traits>
#include <utility>

namespace nanorun {

/// Accepts connections, with the interface of boost::asio::basic_socket_acceptor.
/**
 * As nanorun's sockets: any completion token, never inline, associated
 * executor/allocator/cancellation slot honoured. An accept that fails for
 * lack of descriptors (EMFILE, ENFILE, ENOBUFS) completes with that error
 * rather than retrying in a loop; the caller decides when to try again.
 *
 * @par Thread safety
 * Distinct objects: safe. Shared objects: unsafe.
 */
template <class Protocol, class Executor = boost::asio::any_io_executor>
class basic_socket_acceptor : public boost::asio::socket_base
{
public:
  using executor_type = Executor;
  using protocol_type = Protocol;
  using endpoint_type = typename Protocol::endpoint;
  using native_handle_type = int;

  template <class Executor1>
  struct rebind_executor
  {
    using other = basic_socket_acceptor<Protocol, Executor1>;
  };

  explicit basic_socket_acceptor(const executor_type& ex) : core_(ex, "nanorun acceptor") {}

  template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
  explicit basic_socket_acceptor(ExecutionContext& ctx) : basic_socket_acceptor(executor_type(ctx.get_executor()))
  {
  }

  basic_socket_acceptor(const executor_type& ex, const protocol_type& protocol) : basic_socket_acceptor(ex)
  {
    open(protocol);
  }

  /// Opens, sets reuse_address (if asked), binds and listens, as Asio's does.
  basic_socket_acceptor(const executor_type& ex, const endpoint_type& endpoint, bool reuse_addr = true)
      : basic_socket_acceptor(ex)
  {
    open(endpoint.protocol());
    if (reuse_addr)
      set_option(reuse_address(true));
    bind(endpoint);
    listen();
  }

  basic_socket_acceptor(const executor_type& ex, const protocol_type& protocol, const native_handle_type& fd)
      : basic_socket_acceptor(ex)
  {
    assign(protocol, fd);
  }

  template <class ExecutionContext, class... Args>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
  basic_socket_acceptor(ExecutionContext& ctx, const Args&... args)
      : basic_socket_acceptor(executor_type(ctx.get_executor()), args...)
  {
  }

  basic_socket_acceptor(basic_socket_acceptor&&) noexcept = default;
  basic_socket_acceptor& operator=(basic_socket_acceptor&&) noexcept = default;
  ~basic_socket_acceptor() = default;

  executor_type get_executor() const noexcept { return core_.executor(); }

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
  native_handle_type native_handle() const noexcept { return core_.fd(); }

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

  void listen(int backlog = max_listen_connections)
  {
    boost::system::error_code ec;
    listen(backlog, ec);
    boost::asio::detail::throw_error(ec, "listen");
  }
  void listen(int backlog, boost::system::error_code& ec)
  {
    if (!check_open(ec))
      return;
    detail::socket_ops::listen(core_.fd(), backlog, ec);
  }

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

  void cancel()
  {
    boost::system::error_code ec;
    cancel(ec);
    boost::asio::detail::throw_error(ec, "cancel");
  }
  void cancel(boost::system::error_code& ec) { core_.cancel(ec); }

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

  bool non_blocking() const noexcept { return core_.user_non_blocking(); }
  void non_blocking(bool mode)
  {
    boost::system::error_code ec;
    non_blocking(mode, ec);
    boost::asio::detail::throw_error(ec, "non_blocking");
  }
  void non_blocking(bool mode, boost::system::error_code& ec) { core_.user_non_blocking(mode, ec); }

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

  /// Accepts into `peer`, which must be closed.
  template <class Socket>
  void accept(Socket& peer)
  {
    boost::system::error_code ec;
    accept(peer, ec);
    boost::asio::detail::throw_error(ec, "accept");
  }
  template <class Socket>
    requires(!std::is_same_v<Socket, endpoint_type>)
  void accept(Socket& peer, boost::system::error_code& ec)
  {
    accept_impl(peer, static_cast<endpoint_type*>(nullptr), ec);
  }
  template <class Socket>
  void accept(Socket& peer, endpoint_type& peer_endpoint, boost::system::error_code& ec)
  {
    accept_impl(peer, &peer_endpoint, ec);
  }

  /// Accepts and returns a new socket on this acceptor's executor.
  typename Protocol::socket::template rebind_executor<executor_type>::other accept()
  {
    typename Protocol::socket::template rebind_executor<executor_type>::other peer(get_executor());
    accept(peer);
    return peer;
  }

  /// Accepts into `peer`, which must be closed.
  template <class Socket, class Token = boost::asio::default_completion_token_t<executor_type>>
    requires requires(Socket& s) { s.native_handle(); }
  auto async_accept(Socket& peer, Token&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        initiate_accept_into<Socket>{this}, token, &peer, static_cast<endpoint_type*>(nullptr));
  }

  template <class Socket, class Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_accept(Socket& peer, endpoint_type& peer_endpoint,
                    Token&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        initiate_accept_into<Socket>{this}, token, &peer, &peer_endpoint);
  }

  /// Accepts a new socket, which uses this acceptor's executor.
  template <class Token = boost::asio::default_completion_token_t<executor_type>>
    requires(!requires(Token& t) { t.native_handle(); })
  auto async_accept(Token&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_accept(get_executor(), std::forward<Token>(token));
  }

  /// Accepts a new socket, which uses the executor ex.
  template <class Executor1, class Token = boost::asio::default_completion_token_t<executor_type>>
    requires boost::asio::execution::is_executor<Executor1>::value || boost::asio::is_executor<Executor1>::value
  auto async_accept(const Executor1& ex, Token&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    using socket_type = typename Protocol::socket::template rebind_executor<Executor1>::other;
    return boost::asio::async_initiate<Token, void(boost::system::error_code, socket_type)>(
        initiate_accept_new<socket_type>{this}, token, ex);
  }

  /// Accepts a new socket on ctx's executor.
  template <class ExecutionContext, class Token = boost::asio::default_completion_token_t<executor_type>>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
  auto async_accept(ExecutionContext& ctx,
                    Token&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_accept(ctx.get_executor(), std::forward<Token>(token));
  }

private:
  bool check_open(boost::system::error_code& ec) const
  {
    if (core_.is_open())
      return true;
    ec = boost::asio::error::bad_descriptor;
    return false;
  }

  template <class Socket>
  void accept_impl(Socket& peer, endpoint_type* ep, boost::system::error_code& ec)
  {
    if (!check_open(ec))
      return;
    if (peer.is_open())
    {
      ec = boost::asio::error::already_open;
      return;
    }
    detail::accepted_fd accepted;
    core_.blocking(detail::io_dir::read, ec, [&] {
      std::size_t len = ep ? ep->capacity() : 0;
      const int fd = detail::socket_ops::accept(core_.fd(), ep ? ep->data() : nullptr, ep ? &len : nullptr, ec);
      if (fd >= 0)
      {
        accepted.reset(fd);
        if (ep)
          ep->resize(len);
      }
      return fd;
    });
    if (!ec)
      detail::adopt(peer, protocol_, accepted, ec);
  }

  template <class Socket>
  struct initiate_accept_into
  {
    basic_socket_acceptor* self;
    using executor_type = Executor;
    executor_type get_executor() const noexcept { return self->get_executor(); }

    template <class Handler>
    void operator()(Handler&& h, Socket* peer, endpoint_type* ep) const
    {
      detail::accept_into_action<Socket, endpoint_type> a{self->core_.fd(), peer, self->protocol_, ep};
      if (peer->is_open())
        return self->core_.fail(std::forward<Handler>(h), std::move(a), boost::asio::error::already_open);
      self->core_.start(std::forward<Handler>(h), detail::io_dir::read, std::move(a));
    }
  };

  template <class Socket>
  struct initiate_accept_new
  {
    basic_socket_acceptor* self;
    using executor_type = Executor;
    executor_type get_executor() const noexcept { return self->get_executor(); }

    template <class Handler, class Executor1>
    void operator()(Handler&& h, const Executor1& ex) const
    {
      detail::accept_action<Socket, endpoint_type> a{self->core_.fd(), typename Socket::executor_type(ex),
                                                     self->protocol_, nullptr};
      self->core_.start(std::forward<Handler>(h), detail::io_dir::read, std::move(a));
    }
  };

  detail::socket_core<Executor> core_;
  Protocol protocol_ = Protocol::v4();
};

} // namespace nanorun
