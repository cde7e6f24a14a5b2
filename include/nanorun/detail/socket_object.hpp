// The members Asio's basic_socket and basic_socket_acceptor both have (open,
// assign, close, release, cancel, bind, options, io_control, the two
// non-blocking modes, local_endpoint, wait), written once for nanorun's
// socket and acceptor. Errors and the order in which they are checked are
// Asio's: a closed object says bad_descriptor, opening an open one
// already_open. The error_code forms return what Asio's return
// (BOOST_ASIO_SYNC_OP_VOID: the error_code, or void under
// BOOST_ASIO_NO_DEPRECATED).
#pragma once

#include <nanorun/detail/socket_actions.hpp>
#include <nanorun/detail/socket_core.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/asio/detail/throw_error.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/socket_base.hpp>

#include <cstddef>
#include <utility>

namespace nanorun::detail {

template <class Protocol, class Executor>
class socket_object : public boost::asio::socket_base
{
public:
  using executor_type = Executor;
  using protocol_type = Protocol;
  using endpoint_type = typename Protocol::endpoint;
  using native_handle_type = detail::native_handle;

  executor_type get_executor() const noexcept { return core_.executor(); }

  void open(const protocol_type& protocol = protocol_type())
  {
    boost::system::error_code ec;
    open(protocol, ec);
    boost::asio::detail::throw_error(ec, "open");
  }
  BOOST_ASIO_SYNC_OP_VOID open(const protocol_type& protocol, boost::system::error_code& ec)
  {
    core_.open(protocol.family(), protocol.type(), protocol.protocol(), ec);
    if (!ec)
      protocol_ = protocol;
    BOOST_ASIO_SYNC_OP_VOID_RETURN(ec);
  }

  void assign(const protocol_type& protocol, const native_handle_type& fd)
  {
    boost::system::error_code ec;
    assign(protocol, fd, ec);
    boost::asio::detail::throw_error(ec, "assign");
  }
  BOOST_ASIO_SYNC_OP_VOID assign(const protocol_type& protocol, const native_handle_type& fd,
                                 boost::system::error_code& ec)
  {
    core_.assign(fd, false, ec);
    if (!ec)
      protocol_ = protocol;
    BOOST_ASIO_SYNC_OP_VOID_RETURN(ec);
  }

  bool is_open() const noexcept { return core_.is_open(); }
  native_handle_type native_handle() const noexcept { return core_.fd(); }

  void close()
  {
    boost::system::error_code ec;
    close(ec);
    boost::asio::detail::throw_error(ec, "close");
  }
  BOOST_ASIO_SYNC_OP_VOID close(boost::system::error_code& ec)
  {
    core_.close(ec);
    BOOST_ASIO_SYNC_OP_VOID_RETURN(ec);
  }

  /// Gives up the descriptor; waiting operations complete with operation_aborted.
  native_handle_type release()
  {
    boost::system::error_code ec;
    const native_handle_type fd = release(ec);
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
  BOOST_ASIO_SYNC_OP_VOID cancel(boost::system::error_code& ec)
  {
    core_.cancel(ec);
    BOOST_ASIO_SYNC_OP_VOID_RETURN(ec);
  }

  void bind(const endpoint_type& endpoint)
  {
    boost::system::error_code ec;
    bind(endpoint, ec);
    boost::asio::detail::throw_error(ec, "bind");
  }
  BOOST_ASIO_SYNC_OP_VOID bind(const endpoint_type& endpoint, boost::system::error_code& ec)
  {
    if (core_.check_open(ec))
      socket_ops::bind(core_.fd(), endpoint.data(), endpoint.size(), ec);
    BOOST_ASIO_SYNC_OP_VOID_RETURN(ec);
  }

  template <class SettableSocketOption>
  void set_option(const SettableSocketOption& option)
  {
    boost::system::error_code ec;
    set_option(option, ec);
    boost::asio::detail::throw_error(ec, "set_option");
  }
  template <class SettableSocketOption>
  BOOST_ASIO_SYNC_OP_VOID set_option(const SettableSocketOption& option, boost::system::error_code& ec)
  {
    core_.set_option(option.level(protocol_), option.name(protocol_), option.data(protocol_),
                     option.size(protocol_), ec);
    BOOST_ASIO_SYNC_OP_VOID_RETURN(ec);
  }

  template <class GettableSocketOption>
  void get_option(GettableSocketOption& option) const
  {
    boost::system::error_code ec;
    get_option(option, ec);
    boost::asio::detail::throw_error(ec, "get_option");
  }
  template <class GettableSocketOption>
  BOOST_ASIO_SYNC_OP_VOID get_option(GettableSocketOption& option, boost::system::error_code& ec) const
  {
    std::size_t size = option.size(protocol_);
    core_.get_option(option.level(protocol_), option.name(protocol_), option.data(protocol_), &size, ec);
    if (!ec)
      option.resize(protocol_, size);
    BOOST_ASIO_SYNC_OP_VOID_RETURN(ec);
  }

  /// Runs an I/O control command (bytes_readable, or one of the user's).
  template <class IoControlCommand>
  void io_control(IoControlCommand& command)
  {
    boost::system::error_code ec;
    io_control(command, ec);
    boost::asio::detail::throw_error(ec, "io_control");
  }
  template <class IoControlCommand>
  BOOST_ASIO_SYNC_OP_VOID io_control(IoControlCommand& command, boost::system::error_code& ec)
  {
    core_.io_control(command.name(), command.data(), ec);
    BOOST_ASIO_SYNC_OP_VOID_RETURN(ec);
  }

  /// Whether synchronous operations return would_block instead of waiting.
  bool non_blocking() const noexcept { return core_.user_non_blocking(); }
  void non_blocking(bool mode)
  {
    boost::system::error_code ec;
    non_blocking(mode, ec);
    boost::asio::detail::throw_error(ec, "non_blocking");
  }
  BOOST_ASIO_SYNC_OP_VOID non_blocking(bool mode, boost::system::error_code& ec)
  {
    core_.user_non_blocking(mode, ec);
    BOOST_ASIO_SYNC_OP_VOID_RETURN(ec);
  }

  /// Whether the descriptor itself is in non-blocking mode. nanorun's are
  /// from the start (Asio's from the first asynchronous operation); one made
  /// blocking is switched back before the next asynchronous operation.
  bool native_non_blocking() const noexcept { return core_.native_non_blocking(); }
  void native_non_blocking(bool mode)
  {
    boost::system::error_code ec;
    native_non_blocking(mode, ec);
    boost::asio::detail::throw_error(ec, "native_non_blocking");
  }
  BOOST_ASIO_SYNC_OP_VOID native_non_blocking(bool mode, boost::system::error_code& ec)
  {
    core_.native_non_blocking(mode, ec);
    BOOST_ASIO_SYNC_OP_VOID_RETURN(ec);
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
    return endpoint_of(&socket_ops::local_address, ec);
  }

  /// Blocks until the descriptor is ready to read, write, or has an error
  /// condition (with non_blocking(true): would_block if it is not).
  void wait(wait_type w)
  {
    boost::system::error_code ec;
    wait(w, ec);
    boost::asio::detail::throw_error(ec, "wait");
  }
  BOOST_ASIO_SYNC_OP_VOID wait(wait_type w, boost::system::error_code& ec)
  {
    if (core_.check_open(ec))
    {
      const bool nb = core_.user_non_blocking();
      if (!socket_ops::poll_ready(core_.fd(), static_cast<int>(w), nb ? 0 : -1, ec) && !ec && nb)
        ec = boost::asio::error::would_block;
    }
    BOOST_ASIO_SYNC_OP_VOID_RETURN(ec);
  }

  /// @par Completion Signature  @code void(boost::system::error_code) @endcode
  template <wait_token WaitToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_wait(wait_type w, WaitToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<WaitToken, void(boost::system::error_code)>(initiate_wait{this}, token, w);
  }

protected:
  explicit socket_object(const executor_type& ex, const char* what) : core_(ex, what) {}
  socket_object(socket_object&&) noexcept = default;
  socket_object& operator=(socket_object&&) noexcept = default;

  // Converting moves (another protocol or executor type).
  template <class Protocol1, class Executor1>
  explicit socket_object(socket_object<Protocol1, Executor1>&& o) noexcept
      : core_(std::move(o.core_)), protocol_(std::move(o.protocol_))
  {
  }
  template <class Protocol1, class Executor1>
  void move_assign(socket_object<Protocol1, Executor1>&& o) noexcept
  {
    core_.move_assign(std::move(o.core_));
    protocol_ = std::move(o.protocol_);
  }

  ~socket_object() = default;

  template <class Address>
  endpoint_type endpoint_of(Address address, boost::system::error_code& ec) const
  {
    endpoint_type ep;
    if (!core_.check_open(ec))
      return ep;
    std::size_t len = ep.capacity();
    address(core_.fd(), ep.data(), &len, ec);
    if (ec)
      return endpoint_type();
    ep.resize(len);
    return ep;
  }

  socket_core<Executor> core_;
  Protocol protocol_ = Protocol::v4();

private:
  template <class, class>
  friend class socket_object;
  template <class Socket, class Protocol1>
  friend void adopt(Socket&, const Protocol1&, accepted_fd&, boost::system::error_code&);

  // Takes a descriptor from accept, already non-blocking.
  void adopt_accepted(const protocol_type& protocol, native_handle_type fd, boost::system::error_code& ec)
  {
    core_.assign(fd, true, ec);
    if (!ec)
      protocol_ = protocol;
  }

  struct initiate_wait
  {
    socket_object* self;
    using executor_type = Executor;
    executor_type get_executor() const noexcept { return self->get_executor(); }

    template <class Handler>
    void operator()(Handler&& h, wait_type w) const
    {
      const int dir = static_cast<int>(w);
      const io_dir d = dir == 0 ? io_dir::read : dir == 1 ? io_dir::write : io_dir::error;
      self->core_.start(std::forward<Handler>(h), d, wait_action{self->core_.fd(), dir});
    }
  };
};

} // namespace nanorun::detail
