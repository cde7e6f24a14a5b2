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

  template <class Executor1>
  struct rebind_executor
  {
    using other = basic_stream_socket<Protocol, Executor1>;
  };

  // Every constructor of basic_socket: executor or context first, then
  // nothing, a protocol, an endpoint, or a protocol and a native handle.
  using base::base;
  basic_stream_socket(basic_stream_socket&&) noexcept = default;
  basic_stream_socket& operator=(basic_stream_socket&&) noexcept = default;

  /// Moves from a stream socket of another protocol or executor type.
  template <class Protocol1, class Executor1>
    requires std::is_convertible_v<Protocol1, Protocol> && std::is_convertible_v<Executor1, Executor>
  basic_stream_socket(basic_stream_socket<Protocol1, Executor1>&& o) noexcept : base(std::move(o))
  {
  }
  template <class Protocol1, class Executor1>
    requires std::is_convertible_v<Protocol1, Protocol> && std::is_convertible_v<Executor1, Executor>
  basic_stream_socket& operator=(basic_stream_socket<Protocol1, Executor1>&& o) noexcept
  {
    base::operator=(std::move(o));
    return *this;
  }

  ~basic_stream_socket() = default;

  template <class MutableBufferSequence,
            detail::transfer_token Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_read_some(const MutableBufferSequence& buffers,
                       Token&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_receive(buffers, 0, std::forward<Token>(token));
  }

  template <class MutableBufferSequence,
            detail::transfer_token Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_receive(const MutableBufferSequence& buffers,
                     Token&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_receive(buffers, 0, std::forward<Token>(token));
  }

  template <class MutableBufferSequence,
            detail::transfer_token Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_receive(const MutableBufferSequence& buffers, message_flags flags,
                     Token&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        initiate_receive{this}, token, buffers, flags);
  }

  template <class ConstBufferSequence,
            detail::transfer_token Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_write_some(const ConstBufferSequence& buffers,
                        Token&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_send(buffers, 0, std::forward<Token>(token));
  }

  template <class ConstBufferSequence,
            detail::transfer_token Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_send(const ConstBufferSequence& buffers,
                  Token&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_send(buffers, 0, std::forward<Token>(token));
  }

  template <class ConstBufferSequence,
            detail::transfer_token Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_send(const ConstBufferSequence& buffers, message_flags flags,
                  Token&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        initiate_send{this}, token, buffers, flags);
  }

  template <class MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& buffers)
  {
    boost::system::error_code ec;
    const std::size_t n = receive(buffers, 0, ec);
    boost::asio::detail::throw_error(ec, "read_some");
    return n;
  }
  template <class MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& buffers, boost::system::error_code& ec)
  {
    return receive(buffers, 0, ec);
  }
  template <class MutableBufferSequence>
  std::size_t receive(const MutableBufferSequence& buffers, message_flags flags = 0)
  {
    boost::system::error_code ec;
    const std::size_t n = receive(buffers, flags, ec);
    boost::asio::detail::throw_error(ec, "receive");
    return n;
  }
  template <class MutableBufferSequence>
  std::size_t receive(const MutableBufferSequence& buffers, message_flags flags, boost::system::error_code& ec)
  {
    return this->receive_blocking(buffers, flags, true, ec);
  }

  template <class ConstBufferSequence>
  std::size_t write_some(const ConstBufferSequence& buffers)
  {
    boost::system::error_code ec;
    const std::size_t n = send(buffers, 0, ec);
    boost::asio::detail::throw_error(ec, "write_some");
    return n;
  }
  template <class ConstBufferSequence>
  std::size_t write_some(const ConstBufferSequence& buffers, boost::system::error_code& ec)
  {
    return send(buffers, 0, ec);
  }
  template <class ConstBufferSequence>
  std::size_t send(const ConstBufferSequence& buffers, message_flags flags = 0)
  {
    boost::system::error_code ec;
    const std::size_t n = send(buffers, flags, ec);
    boost::asio::detail::throw_error(ec, "send");
    return n;
  }
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
