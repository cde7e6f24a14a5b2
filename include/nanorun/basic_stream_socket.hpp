// nanorun::basic_stream_socket: Asio's basic_stream_socket on nanorun's
// reactor. Satisfies AsyncReadStream and AsyncWriteStream, so async_read,
// async_write, async_read_until and Boost.Beast run on it unchanged.
#pragma once

#include <nanorun/basic_socket.hpp>

#include <boost/asio/basic_socket.hpp>
#include <boost/asio/buffer.hpp>

namespace nanorun {

/// A stream socket with the interface of boost::asio::basic_stream_socket.
/**
 * Derives from boost::asio::basic_socket<Protocol, Executor>, which nanorun
 * specialises for its own protocols (nanorun::ip::tcp) to be
 * nanorun::basic_socket: Asio's free functions that take a
 * boost::asio::basic_socket&, such as boost::asio::async_connect over a
 * resolver's results, therefore accept nanorun sockets.
 *
 * Mirrors boost::asio::basic_stream_socket (Asio 1.26), with the
 * differences listed for nanorun::basic_socket. Satisfies AsyncReadStream,
 * AsyncWriteStream, SyncReadStream and SyncWriteStream. Asynchronous
 * operations try the transfer at once and wait for readiness only if the
 * socket has nothing (or no room) yet.
 *
 * @par Per-Operation Cancellation
 * Every asynchronous operation supports terminal, partial and total
 * cancellation (see nanorun::basic_socket).
 *
 * @par Thread safety
 * Distinct objects: safe. Shared objects: unsafe, except that one read-side
 * and one write-side operation may be outstanding at once (what
 * async_read and async_write need on one socket).
 */
template <class Protocol, class Executor = boost::asio::any_io_executor>
class basic_stream_socket : public boost::asio::basic_socket<Protocol, Executor>
{
  using base = boost::asio::basic_socket<Protocol, Executor>;

public:
  using typename base::endpoint_type;
  using typename base::executor_type;
  using typename base::message_flags;
  using typename base::native_handle_type;
  using typename base::protocol_type;

  /// Rebinds the socket type to another executor.
  template <class Executor1>
  struct rebind_executor
  {
    /// The socket type when rebound to Executor1.
    using other = basic_stream_socket<Protocol, Executor1>;
  };

  // Every constructor of basic_socket: executor or context first, then
  // nothing, a protocol, an endpoint, or a protocol and a native handle.
  using base::base;
  /// Moves a socket, pending operations included; the moved-from socket is
  /// closed.
  basic_stream_socket(basic_stream_socket&&) noexcept = default;
  /// Move-assigns a socket: this one is closed first (its waiting operations
  /// complete with operation_aborted).
  /// @returns `*this`.
  basic_stream_socket& operator=(basic_stream_socket&&) noexcept = default;

  /// Moves from a stream socket of another protocol or executor type.
  /// @param o the socket to move from.
  template <class Protocol1, class Executor1>
    requires std::is_convertible_v<Protocol1, Protocol> && std::is_convertible_v<Executor1, Executor>
  basic_stream_socket(basic_stream_socket<Protocol1, Executor1>&& o) noexcept : base(std::move(o))
  {
  }
  /// Move-assigns from a stream socket of another protocol or executor type.
  /// @param o the socket to move from.
  /// @returns `*this`.
  template <class Protocol1, class Executor1>
    requires std::is_convertible_v<Protocol1, Protocol> && std::is_convertible_v<Executor1, Executor>
  basic_stream_socket& operator=(basic_stream_socket<Protocol1, Executor1>&& o) noexcept
  {
    base::operator=(std::move(o));
    return *this;
  }

  /// Closes the socket; waiting operations complete with operation_aborted.
  ~basic_stream_socket() = default;

  /// Reads some data: completes as soon as at least one byte is read.
  /**
   * @param buffers where to read; must stay valid until the handler is called.
   * @param token the completion token.
   * @returns what the token's async_result returns.
   * @throws boost::system::system_error (operation_aborted) if the socket's
   * runtime has been destroyed; the handler is not taken.
   *
   * @par Completion Signature
   * @code void(boost::system::error_code, std::size_t) @endcode
   * The number of bytes read. Errors: boost::asio::error::eof when the peer
   * has shut down its side, bad_descriptor on a closed socket,
   * operation_aborted when cancelled or closed, or the OS error
   * (connection_reset, ...). The handler is never invoked from inside this
   * call; empty buffers complete (queued) with 0 bytes and success.
   *
   * @par Per-Operation Cancellation
   * Terminal, partial and total: a waiting operation completes with
   * operation_aborted, having transferred nothing.
   */
  template <class MutableBufferSequence,
            detail::transfer_token Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_read_some(const MutableBufferSequence& buffers,
                       Token&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_receive(buffers, 0, std::forward<Token>(token));
  }

  /// Receives some data; the same as async_read_some().
  /**
   * @param buffers where to receive; must stay valid until the handler is called.
   * @param token the completion token.
   * @returns what the token's async_result returns.
   * @throws boost::system::system_error (operation_aborted) if the socket's
   * runtime has been destroyed; the handler is not taken.
   *
   * @par Completion Signature
   * @code void(boost::system::error_code, std::size_t) @endcode
   * The number of bytes read. Errors: boost::asio::error::eof when the peer
   * has shut down its side, bad_descriptor on a closed socket,
   * operation_aborted when cancelled or closed, or the OS error
   * (connection_reset, ...). The handler is never invoked from inside this
   * call; empty buffers complete (queued) with 0 bytes and success.
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

  /// Receives some data with message flags (e.g. message_peek, message_out_of_band).
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
   * The number of bytes read. Errors: boost::asio::error::eof when the peer
   * has shut down its side, bad_descriptor on a closed socket,
   * operation_aborted when cancelled or closed, or the OS error
   * (connection_reset, ...). The handler is never invoked from inside this
   * call; empty buffers complete (queued) with 0 bytes and success.
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

  /// Writes some data: completes as soon as at least one byte is written.
  /**
   * @param buffers the data; must stay valid until the handler is called.
   * @param token the completion token.
   * @returns what the token's async_result returns.
   * @throws boost::system::system_error (operation_aborted) if the socket's
   * runtime has been destroyed; the handler is not taken.
   *
   * @par Completion Signature
   * @code void(boost::system::error_code, std::size_t) @endcode
   * The number of bytes written, which may be fewer than asked (use
   * boost::asio::async_write for all of it). Errors: bad_descriptor on a
   * closed socket, operation_aborted when cancelled or closed, or the OS
   * error (broken_pipe, connection_reset, ...). The handler is never invoked
   * from inside this call; empty buffers complete (queued) with 0 bytes and
   * success.
   *
   * @par Per-Operation Cancellation
   * Terminal, partial and total: a waiting operation completes with
   * operation_aborted, having transferred nothing.
   */
  template <class ConstBufferSequence,
            detail::transfer_token Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_write_some(const ConstBufferSequence& buffers,
                        Token&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_send(buffers, 0, std::forward<Token>(token));
  }

  /// Sends some data; the same as async_write_some().
  /**
   * @param buffers the data; must stay valid until the handler is called.
   * @param token the completion token.
   * @returns what the token's async_result returns.
   * @throws boost::system::system_error (operation_aborted) if the socket's
   * runtime has been destroyed; the handler is not taken.
   *
   * @par Completion Signature
   * @code void(boost::system::error_code, std::size_t) @endcode
   * The number of bytes written, which may be fewer than asked (use
   * boost::asio::async_write for all of it). Errors: bad_descriptor on a
   * closed socket, operation_aborted when cancelled or closed, or the OS
   * error (broken_pipe, connection_reset, ...). The handler is never invoked
   * from inside this call; empty buffers complete (queued) with 0 bytes and
   * success.
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

  /// Sends some data with message flags (e.g. message_out_of_band).
  /**
   * @param buffers the data; must stay valid until the handler is called.
   * @param flags the message flags.
   * @param token the completion token.
   * @returns what the token's async_result returns.
   * @throws boost::system::system_error (operation_aborted) if the socket's
   * runtime has been destroyed; the handler is not taken.
   *
   * @par Completion Signature
   * @code void(boost::system::error_code, std::size_t) @endcode
   * The number of bytes written, which may be fewer than asked (use
   * boost::asio::async_write for all of it). Errors: bad_descriptor on a
   * closed socket, operation_aborted when cancelled or closed, or the OS
   * error (broken_pipe, connection_reset, ...). The handler is never invoked
   * from inside this call; empty buffers complete (queued) with 0 bytes and
   * success.
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

  /// Reads some data, blocking until at least one byte is read.
  /// @param buffers where to read.
  /// @returns the number of bytes read (0 for empty buffers).
  /// @throws boost::system::system_error on failure (eof when the peer has
  /// shut down its side).
  template <class MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& buffers)
  {
    boost::system::error_code ec;
    const std::size_t n = receive(buffers, 0, ec);
    boost::asio::detail::throw_error(ec, "read_some");
    return n;
  }
  /// Reads some data, blocking until at least one byte is read.
  /// @param buffers where to read.
  /// @param ec set to the error, if any (eof when the peer has shut down).
  /// @returns the number of bytes read; 0 on error.
  template <class MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& buffers, boost::system::error_code& ec)
  {
    return receive(buffers, 0, ec);
  }
  /// Receives some data, blocking until at least one byte is received.
  /// @param buffers where to receive.
  /// @param flags the message flags.
  /// @returns the number of bytes received.
  /// @throws boost::system::system_error on failure.
  template <class MutableBufferSequence>
  std::size_t receive(const MutableBufferSequence& buffers, message_flags flags = 0)
  {
    boost::system::error_code ec;
    const std::size_t n = receive(buffers, flags, ec);
    boost::asio::detail::throw_error(ec, "receive");
    return n;
  }
  /// Receives some data, blocking until at least one byte is received.
  /// @param buffers where to receive.
  /// @param flags the message flags.
  /// @param ec set to the error, if any.
  /// @returns the number of bytes received; 0 on error.
  template <class MutableBufferSequence>
  std::size_t receive(const MutableBufferSequence& buffers, message_flags flags, boost::system::error_code& ec)
  {
    return this->receive_blocking(buffers, flags, true, ec);
  }

  /// Writes some data, blocking until at least one byte is written.
  /// @param buffers the data.
  /// @returns the number of bytes written (0 for empty buffers).
  /// @throws boost::system::system_error on failure.
  template <class ConstBufferSequence>
  std::size_t write_some(const ConstBufferSequence& buffers)
  {
    boost::system::error_code ec;
    const std::size_t n = send(buffers, 0, ec);
    boost::asio::detail::throw_error(ec, "write_some");
    return n;
  }
  /// Writes some data, blocking until at least one byte is written.
  /// @param buffers the data.
  /// @param ec set to the error, if any.
  /// @returns the number of bytes written; 0 on error.
  template <class ConstBufferSequence>
  std::size_t write_some(const ConstBufferSequence& buffers, boost::system::error_code& ec)
  {
    return send(buffers, 0, ec);
  }
  /// Sends some data, blocking until at least one byte is sent.
  /// @param buffers the data.
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
  /// Sends some data, blocking until at least one byte is sent.
  /// @param buffers the data.
  /// @param flags the message flags.
  /// @param ec set to the error, if any.
  /// @returns the number of bytes sent; 0 on error.
  template <class ConstBufferSequence>
  std::size_t send(const ConstBufferSequence& buffers, message_flags flags, boost::system::error_code& ec)
  {
    return this->send_blocking(buffers, flags, true, ec);
  }

private:
  struct initiate_receive
  {
    basic_stream_socket* self;
    using executor_type = Executor;
    executor_type get_executor() const noexcept { return self->get_executor(); }

    template <class Handler, class MutableBufferSequence>
    void operator()(Handler&& h, const MutableBufferSequence& buffers, message_flags flags) const
    {
      using action = detail::receive_action<MutableBufferSequence>;
      action a{self->core_.fd(), buffers, flags, true};
      // Asio completes a read of nothing at once, with nothing.
      if (self->is_open() && boost::asio::buffer_size(buffers) == 0)
        return self->core_.fail(std::forward<Handler>(h), std::move(a), {});
      self->core_.start(std::forward<Handler>(h), detail::receive_dir(flags), std::move(a));
    }
  };

  struct initiate_send
  {
    basic_stream_socket* self;
    using executor_type = Executor;
    executor_type get_executor() const noexcept { return self->get_executor(); }

    template <class Handler, class ConstBufferSequence>
    void operator()(Handler&& h, const ConstBufferSequence& buffers, message_flags flags) const
    {
      using action = detail::send_action<ConstBufferSequence>;
      action a{self->core_.fd(), buffers, flags};
      if (self->is_open() && boost::asio::buffer_size(buffers) == 0)
        return self->core_.fail(std::forward<Handler>(h), std::move(a), {});
      self->core_.start(std::forward<Handler>(h), detail::io_dir::write, std::move(a));
    }
  };
};

} // namespace nanorun
