// nanorun::basic_datagram_socket: Asio's basic_datagram_socket on nanorun's
// reactor.
#pragma once

#include <nanorun/basic_socket.hpp>

#include <boost/asio/basic_socket.hpp>
#include <boost/asio/buffer.hpp>

namespace nanorun {

/// A datagram socket with the interface of boost::asio::basic_datagram_socket.
/**
 * Mirrors boost::asio::basic_datagram_socket (Asio 1.26), with the
 * differences listed for nanorun::basic_socket (whose members it has,
 * through boost::asio::basic_socket<Protocol, Executor>, which nanorun
 * specialises for nanorun::ip::udp). Each operation sends or receives one
 * datagram; an empty buffer sends an empty datagram.
 *
 * @par Per-Operation Cancellation
 * Every asynchronous operation supports terminal, partial and total
 * cancellation (see nanorun::basic_socket).
 *
 * @par Thread safety
 * Distinct objects: safe. Shared objects: unsafe, except that one read-side
 * and one write-side operation may be outstanding at once.
 */
template <class Protocol, class Executor = boost::asio::any_io_executor>
class basic_datagram_socket : public boost::asio::basic_socket<Protocol, Executor>
{
  using base = boost::asio::basic_socket<Protocol, Executor>;

public:
  using typename base::endpoint_type;
  using typename base::executor_type;
  using typename base::message_flags;
  using typename base::protocol_type;

  /// Rebinds the socket type to another executor.
  template <class Executor1>
  struct rebind_executor
  {
    /// The socket type when rebound to Executor1.
    using other = basic_datagram_socket<Protocol, Executor1>;
  };

  // Every constructor of basic_socket: executor or context first, then
  // nothing, a protocol, an endpoint, or a protocol and a native handle.
  using base::base;
  /// Moves a socket, pending operations included; the moved-from socket is
  /// closed.
  basic_datagram_socket(basic_datagram_socket&&) noexcept = default;
  /// Move-assigns a socket: this one is closed first (its waiting operations
  /// complete with operation_aborted).
  /// @returns `*this`.
  basic_datagram_socket& operator=(basic_datagram_socket&&) noexcept = default;

  /// Moves from a datagram socket of another protocol or executor type.
  /// @param o the socket to move from.
  template <class Protocol1, class Executor1>
    requires std::is_convertible_v<Protocol1, Protocol> && std::is_convertible_v<Executor1, Executor>
  basic_datagram_socket(basic_datagram_socket<Protocol1, Executor1>&& o) noexcept : base(std::move(o))
  {
  }
  /// Move-assigns from a datagram socket of another protocol or executor type.
  /// @param o the socket to move from.
  /// @returns `*this`.
  template <class Protocol1, class Executor1>
    requires std::is_convertible_v<Protocol1, Protocol> && std::is_convertible_v<Executor1, Executor>
  basic_datagram_socket& operator=(basic_datagram_socket<Protocol1, Executor1>&& o) noexcept
  {
    base::operator=(std::move(o));
    return *this;
  }

  /// Closes the socket; waiting operations complete with operation_aborted.
  ~basic_datagram_socket() = default;

  /// Sends one datagram to the connected peer.
  /**
   * @param buffers the datagram; must stay valid until the handler is called.
   * @param token the completion token.
   * @returns what the token's async_result returns.
   * @throws boost::system::system_error (operation_aborted) if the socket's
   * runtime has been destroyed; the handler is not taken.
   *
   * @par Completion Signature
   * @code void(boost::system::error_code, std::size_t) @endcode
   * The number of bytes sent. Errors: bad_descriptor on a closed socket (the
   * socket is not opened for you, as in Asio), operation_aborted when
   * cancelled or closed, or the OS error (message_size, an endpoint of the
   * wrong family, ...). Never invoked from inside this call.
   *
   * @par Per-Operation Cancellation
   * Terminal, partial and total: a waiting operation completes with
   * operation_aborted, having transferred nothing.
   */
  template <class ConstBufferSequence,
            detail::transfer_token Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_send(const ConstBufferSequence& buffers,
                  Token&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_send(buffers, 0, std::forward<Token>(token));
  }
  /// Sends one datagram to the connected peer, with message flags.
  /**
   * @param buffers the datagram; must stay valid until the handler is called.
   * @param flags the message flags.
   * @param token the completion token.
   * @returns what the token's async_result returns.
   * @throws boost::system::system_error (operation_aborted) if the socket's
   * runtime has been destroyed; the handler is not taken.
   *
   * @par Completion Signature
   * @code void(boost::system::error_code, std::size_t) @endcode
   * The number of bytes sent. Errors: bad_descriptor on a closed socket (the
   * socket is not opened for you, as in Asio), operation_aborted when
   * cancelled or closed, or the OS error (message_size, an endpoint of the
   * wrong family, ...). Never invoked from inside this call.
   *
   * @par Per-Operation Cancellation
   * Terminal, partial and total: a waiting operation completes with
   * operation_aborted, having transferred nothing.
   */
  template <class ConstBufferSequence,
            detail::transfer_token Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_send(const ConstBufferSequence& buffers, message_flags flags,
                  Token&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        initiate_send{this}, token, buffers, flags);
  }

  /// Receives one datagram from the connected peer.
  /**
   * @param buffers where to receive; must stay valid until the handler is called.
   * @param token the completion token.
   * @returns what the token's async_result returns.
   * @throws boost::system::system_error (operation_aborted) if the socket's
   * runtime has been destroyed; the handler is not taken.
   *
   * @par Completion Signature
   * @code void(boost::system::error_code, std::size_t) @endcode
   * The size of the datagram received (0 for an empty datagram: not end of
   * file). Errors: bad_descriptor on a closed socket, operation_aborted when
   * cancelled or closed, or the OS error (connection_refused after an ICMP
   * error on a connected socket, ...). Never invoked from inside this call.
   *
   * @par Per-Operation Cancellation
   * Terminal, partial and total: a waiting operation completes with
   * operation_aborted, having transferred nothing.
   */
  template <class MutableBufferSequence,
            detail::transfer_token Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_receive(const MutableBufferSequence& buffers,
                     Token&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_receive(buffers, 0, std::forward<Token>(token));
  }
  /// Receives one datagram from the connected peer, with message flags.
  /**
   * @param buffers where to receive; must stay valid until the handler is called.
   * @param flags the message flags.
   * @param token the completion token.
   * @returns what the token's async_result returns.
   * @throws boost::system::system_error (operation_aborted) if the socket's
   * runtime has been destroyed; the handler is not taken.
   *
   * @par Completion Signature
   * @code void(boost::system::error_code, std::size_t) @endcode
   * The size of the datagram received (0 for an empty datagram: not end of
   * file). Errors: bad_descriptor on a closed socket, operation_aborted when
   * cancelled or closed, or the OS error (connection_refused after an ICMP
   * error on a connected socket, ...). Never invoked from inside this call.
   *
   * @par Per-Operation Cancellation
   * Terminal, partial and total: a waiting operation completes with
   * operation_aborted, having transferred nothing.
   */
  template <class MutableBufferSequence,
            detail::transfer_token Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_receive(const MutableBufferSequence& buffers, message_flags flags,
                     Token&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        initiate_receive{this}, token, buffers, flags);
  }

  /// Sends one datagram to `destination`.
  /**
   * @param buffers the datagram; must stay valid until the handler is called.
   * @param destination the endpoint to send to.
   * @param token the completion token.
   * @returns what the token's async_result returns.
   * @throws boost::system::system_error (operation_aborted) if the socket's
   * runtime has been destroyed; the handler is not taken.
   *
   * @par Completion Signature
   * @code void(boost::system::error_code, std::size_t) @endcode
   * The number of bytes sent. Errors: bad_descriptor on a closed socket (the
   * socket is not opened for you, as in Asio), operation_aborted when
   * cancelled or closed, or the OS error (message_size, an endpoint of the
   * wrong family, ...). Never invoked from inside this call.
   *
   * @par Per-Operation Cancellation
   * Terminal, partial and total: a waiting operation completes with
   * operation_aborted, having transferred nothing.
   */
  template <class ConstBufferSequence,
            detail::transfer_token Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_send_to(const ConstBufferSequence& buffers, const endpoint_type& destination,
                     Token&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_send_to(buffers, destination, 0, std::forward<Token>(token));
  }
  /// Sends one datagram to `destination`, with message flags.
  /**
   * @param buffers the datagram; must stay valid until the handler is called.
   * @param destination the endpoint to send to.
   * @param flags the message flags.
   * @param token the completion token.
   * @returns what the token's async_result returns.
   * @throws boost::system::system_error (operation_aborted) if the socket's
   * runtime has been destroyed; the handler is not taken.
   *
   * @par Completion Signature
   * @code void(boost::system::error_code, std::size_t) @endcode
   * The number of bytes sent. Errors: bad_descriptor on a closed socket (the
   * socket is not opened for you, as in Asio), operation_aborted when
   * cancelled or closed, or the OS error (message_size, an endpoint of the
   * wrong family, ...). Never invoked from inside this call.
   *
   * @par Per-Operation Cancellation
   * Terminal, partial and total: a waiting operation completes with
   * operation_aborted, having transferred nothing.
   */
  template <class ConstBufferSequence,
            detail::transfer_token Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_send_to(const ConstBufferSequence& buffers, const endpoint_type& destination, message_flags flags,
                     Token&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        initiate_send_to{this}, token, buffers, destination, flags);
  }

  /// Receives one datagram and the endpoint it came from.
  /**
   * @param buffers where to receive; must stay valid until the handler is called.
   * @param sender set to the endpoint the datagram came from; must stay valid until the handler is called.
   * @param token the completion token.
   * @returns what the token's async_result returns.
   * @throws boost::system::system_error (operation_aborted) if the socket's
   * runtime has been destroyed; the handler is not taken.
   *
   * @par Completion Signature
   * @code void(boost::system::error_code, std::size_t) @endcode
   * The size of the datagram received (0 for an empty datagram: not end of
   * file). Errors: bad_descriptor on a closed socket, operation_aborted when
   * cancelled or closed, or the OS error (connection_refused after an ICMP
   * error on a connected socket, ...). Never invoked from inside this call.
   *
   * @par Per-Operation Cancellation
   * Terminal, partial and total: a waiting operation completes with
   * operation_aborted, having transferred nothing.
   */
  template <class MutableBufferSequence,
            detail::transfer_token Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_receive_from(const MutableBufferSequence& buffers, endpoint_type& sender,
                          Token&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_receive_from(buffers, sender, 0, std::forward<Token>(token));
  }
  /// Receives one datagram and the endpoint it came from, with message flags.
  /**
   * @param buffers where to receive; must stay valid until the handler is called.
   * @param sender set to the endpoint the datagram came from; must stay valid until the handler is called.
   * @param flags the message flags.
   * @param token the completion token.
   * @returns what the token's async_result returns.
   * @throws boost::system::system_error (operation_aborted) if the socket's
   * runtime has been destroyed; the handler is not taken.
   *
   * @par Completion Signature
   * @code void(boost::system::error_code, std::size_t) @endcode
   * The size of the datagram received (0 for an empty datagram: not end of
   * file). Errors: bad_descriptor on a closed socket, operation_aborted when
   * cancelled or closed, or the OS error (connection_refused after an ICMP
   * error on a connected socket, ...). Never invoked from inside this call.
   *
   * @par Per-Operation Cancellation
   * Terminal, partial and total: a waiting operation completes with
   * operation_aborted, having transferred nothing.
   */
  template <class MutableBufferSequence,
            detail::transfer_token Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_receive_from(const MutableBufferSequence& buffers, endpoint_type& sender, message_flags flags,
                          Token&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        initiate_receive_from{this}, token, buffers, &sender, flags);
  }

  /// Sends one datagram to the connected peer, blocking until it is sent.
  /// @param buffers the datagram.
  /// @param flags the message flags.
  /// @returns the number of bytes sent.
  /// @throws boost::system::system_error on failure.
  template <class ConstBufferSequence>
  std::size_t send(const ConstBufferSequence& buffers, message_flags flags = 0)
  {
    boost::system::error_code ec;
    const std::size_t n = send(buffers, flags, ec);
    boost::asio::detail::throw_error(ec, "send");
    return n;
  }
  /// Sends one datagram to the connected peer, blocking until it is sent.
  /// @param buffers the datagram.
  /// @param flags the message flags.
  /// @param ec set to the error, if any.
  /// @returns the number of bytes sent; 0 on error.
  template <class ConstBufferSequence>
  std::size_t send(const ConstBufferSequence& buffers, message_flags flags, boost::system::error_code& ec)
  {
    return this->send_blocking(buffers, flags, false, ec);
  }

  /// Receives one datagram from the connected peer, blocking until one comes.
  /// @param buffers where to receive.
  /// @param flags the message flags.
  /// @returns the datagram's size (0 for an empty datagram).
  /// @throws boost::system::system_error on failure.
  template <class MutableBufferSequence>
  std::size_t receive(const MutableBufferSequence& buffers, message_flags flags = 0)
  {
    boost::system::error_code ec;
    const std::size_t n = receive(buffers, flags, ec);
    boost::asio::detail::throw_error(ec, "receive");
    return n;
  }
  /// Receives one datagram from the connected peer, blocking until one comes.
  /// @param buffers where to receive.
  /// @param flags the message flags.
  /// @param ec set to the error, if any.
  /// @returns the datagram's size; 0 on error.
  template <class MutableBufferSequence>
  std::size_t receive(const MutableBufferSequence& buffers, message_flags flags, boost::system::error_code& ec)
  {
    // A datagram may be empty: zero bytes is not end of file here.
    return this->receive_blocking(buffers, flags, false, ec);
  }

  /// Sends one datagram to `destination`, blocking until it is sent.
  /// @param buffers the datagram.
  /// @param destination the endpoint to send to.
  /// @param flags the message flags.
  /// @returns the number of bytes sent.
  /// @throws boost::system::system_error on failure.
  template <class ConstBufferSequence>
  std::size_t send_to(const ConstBufferSequence& buffers, const endpoint_type& destination,
                      message_flags flags = 0)
  {
    boost::system::error_code ec;
    const std::size_t n = send_to(buffers, destination, flags, ec);
    boost::asio::detail::throw_error(ec, "send_to");
    return n;
  }
  /// Sends one datagram to `destination`, blocking until it is sent.
  /// @param buffers the datagram.
  /// @param destination the endpoint to send to.
  /// @param flags the message flags.
  /// @param ec set to the error, if any.
  /// @returns the number of bytes sent; 0 on error.
  template <class ConstBufferSequence>
  std::size_t send_to(const ConstBufferSequence& buffers, const endpoint_type& destination, message_flags flags,
                      boost::system::error_code& ec)
  {
    if (!this->core_.check_open(ec))
      return 0;
    const detail::buffer_view v(buffers);
    const std::ptrdiff_t r = this->core_.blocking(detail::io_dir::write, ec, [&] {
      return detail::socket_ops::sendto(this->core_.fd(), v.data(), v.count(), flags, destination.data(),
                                        destination.size(), ec);
    });
    return r < 0 ? 0 : static_cast<std::size_t>(r);
  }

  /// Receives one datagram and the endpoint it came from, blocking until one comes.
  /// @param buffers where to receive.
  /// @param sender set to the endpoint the datagram came from.
  /// @param flags the message flags.
  /// @returns the datagram's size.
  /// @throws boost::system::system_error on failure.
  template <class MutableBufferSequence>
  std::size_t receive_from(const MutableBufferSequence& buffers, endpoint_type& sender, message_flags flags = 0)
  {
    boost::system::error_code ec;
    const std::size_t n = receive_from(buffers, sender, flags, ec);
    boost::asio::detail::throw_error(ec, "receive_from");
    return n;
  }
  /// Receives one datagram and the endpoint it came from, blocking until one comes.
  /// @param buffers where to receive.
  /// @param sender set to the endpoint the datagram came from.
  /// @param flags the message flags.
  /// @param ec set to the error, if any.
  /// @returns the datagram's size; 0 on error.
  template <class MutableBufferSequence>
  std::size_t receive_from(const MutableBufferSequence& buffers, endpoint_type& sender, message_flags flags,
                           boost::system::error_code& ec)
  {
    if (!this->core_.check_open(ec))
      return 0;
    const detail::buffer_view v(buffers);
    const std::ptrdiff_t r = this->core_.blocking(detail::io_dir::read, ec, [&] {
      std::size_t len = sender.capacity();
      const std::ptrdiff_t n =
          detail::socket_ops::recvfrom(this->core_.fd(), v.data(), v.count(), flags, sender.data(), &len, ec);
      if (n >= 0)
        sender.resize(len);
      return n;
    });
    return r < 0 ? 0 : static_cast<std::size_t>(r);
  }

private:
  struct initiate_send
  {
    basic_datagram_socket* self;
    using executor_type = Executor;
    executor_type get_executor() const noexcept { return self->get_executor(); }
    template <class Handler, class Buffers>
    void operator()(Handler&& h, const Buffers& buffers, message_flags flags) const
    {
      self->core_.start(std::forward<Handler>(h), detail::io_dir::write,
                        detail::send_action<Buffers>{self->core_.fd(), buffers, flags});
    }
  };

  struct initiate_receive
  {
    basic_datagram_socket* self;
    using executor_type = Executor;
    executor_type get_executor() const noexcept { return self->get_executor(); }
    template <class Handler, class Buffers>
    void operator()(Handler&& h, const Buffers& buffers, message_flags flags) const
    {
      self->core_.start(std::forward<Handler>(h), detail::receive_dir(flags),
                        detail::receive_action<Buffers>{self->core_.fd(), buffers, flags, false});
    }
  };

  struct initiate_send_to
  {
    basic_datagram_socket* self;
    using executor_type = Executor;
    executor_type get_executor() const noexcept { return self->get_executor(); }
    // A closed socket completes with bad_descriptor: unlike async_connect,
    // Asio's async_send_to does not open the socket.
    template <class Handler, class Buffers>
    void operator()(Handler&& h, const Buffers& buffers, const endpoint_type& to, message_flags flags) const
    {
      self->core_.start(std::forward<Handler>(h), detail::io_dir::write,
                        detail::send_to_action<Buffers, endpoint_type>{self->core_.fd(), buffers, flags, to});
    }
  };

  struct initiate_receive_from
  {
    basic_datagram_socket* self;
    using executor_type = Executor;
    executor_type get_executor() const noexcept { return self->get_executor(); }
    template <class Handler, class Buffers>
    void operator()(Handler&& h, const Buffers& buffers, endpoint_type* from, message_flags flags) const
    {
      self->core_.start(std::forward<Handler>(h), detail::receive_dir(flags),
                        detail::receive_from_action<Buffers, endpoint_type>{self->core_.fd(), buffers, flags, from});
    }
  };
};

} // namespace nanorun
