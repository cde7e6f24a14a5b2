// nanorun::basic_datagram_socket: Asio's basic_datagram_socket on nanorun's
// reactor.
#pragma once

#include <nanorun/basic_socket.hpp>

#include <boost/asio/basic_socket.hpp>
#include <boost/asio/buffer.hpp>

namespace nanorun {

/// A datagram socket with the interface of boost::asio::basic_datagram_socket.
template <class Protocol, class Executor = boost::asio::any_io_executor>
class basic_datagram_socket : public boost::asio::basic_socket<Protocol, Executor>
{
  using base = boost::asio::basic_socket<Protocol, Executor>;

public:
  using typename base::endpoint_type;
  using typename base::executor_type;
  using typename base::message_flags;
  using typename base::protocol_type;

  template <class Executor1>
  struct rebind_executor
  {
    using other = basic_datagram_socket<Protocol, Executor1>;
  };

  // Every constructor of basic_socket: executor or context first, then
  // nothing, a protocol, an endpoint, or a protocol and a native handle.
  using base::base;
  basic_datagram_socket(basic_datagram_socket&&) noexcept = default;
  basic_datagram_socket& operator=(basic_datagram_socket&&) noexcept = default;

  /// Moves from a datagram socket of another protocol or executor type.
  template <class Protocol1, class Executor1>
    requires std::is_convertible_v<Protocol1, Protocol> && std::is_convertible_v<Executor1, Executor>
  basic_datagram_socket(basic_datagram_socket<Protocol1, Executor1>&& o) noexcept : base(std::move(o))
  {
  }
  template <class Protocol1, class Executor1>
    requires std::is_convertible_v<Protocol1, Protocol> && std::is_convertible_v<Executor1, Executor>
  basic_datagram_socket& operator=(basic_datagram_socket<Protocol1, Executor1>&& o) noexcept
  {
    base::operator=(std::move(o));
    return *this;
  }

  ~basic_datagram_socket() = default;

  /// Sends to the connected peer.
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

  /// Receives from the connected peer.
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
  auto async_send_to(const ConstBufferSequence& buffers, const endpoint_type& destination,
                     Token&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_send_to(buffers, destination, 0, std::forward<Token>(token));
  }
  template <class ConstBufferSequence,
            detail::transfer_token Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_send_to(const ConstBufferSequence& buffers, const endpoint_type& destination, message_flags flags,
                     Token&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        initiate_send_to{this}, token, buffers, destination, flags);
  }

  template <class MutableBufferSequence,
            detail::transfer_token Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_receive_from(const MutableBufferSequence& buffers, endpoint_type& sender,
                          Token&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_receive_from(buffers, sender, 0, std::forward<Token>(token));
  }
  template <class MutableBufferSequence,
            detail::transfer_token Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_receive_from(const MutableBufferSequence& buffers, endpoint_type& sender, message_flags flags,
                          Token&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        initiate_receive_from{this}, token, buffers, &sender, flags);
  }

  /// Sends one datagram to the connected peer, blocking until it is sent.
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
    return this->send_blocking(buffers, flags, false, ec);
  }

  /// Receives one datagram from the connected peer, blocking until one comes.
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
    // A datagram may be empty: zero bytes is not end of file here.
    return this->receive_blocking(buffers, flags, false, ec);
  }

  template <class ConstBufferSequence>
  std::size_t send_to(const ConstBufferSequence& buffers, const endpoint_type& destination,
                      message_flags flags = 0)
  {
    boost::system::error_code ec;
    const std::size_t n = send_to(buffers, destination, flags, ec);
    boost::asio::detail::throw_error(ec, "send_to");
    return n;
  }
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

  template <class MutableBufferSequence>
  std::size_t receive_from(const MutableBufferSequence& buffers, endpoint_type& sender, message_flags flags = 0)
  {
    boost::system::error_code ec;
    const std::size_t n = receive_from(buffers, sender, flags, ec);
    boost::asio::detail::throw_error(ec, "receive_from");
    return n;
  }
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
