// nanorun::ip::tcp: boost::asio::ip::tcp with nanorun's sockets. Moving Asio
// code over takes `using nanorun::ip::tcp;` in place of
// `using boost::asio::ip::tcp;`.
#pragma once

#include <nanorun/basic_socket.hpp>
#include <nanorun/basic_socket_acceptor.hpp>
#include <nanorun/basic_stream_socket.hpp>
#include <nanorun/ip/basic_resolver.hpp>

#include <boost/asio/basic_socket.hpp>
#include <boost/asio/ip/basic_endpoint.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <type_traits>
#include <utility>

namespace nanorun::ip {

/// The TCP protocol, as boost::asio::ip::tcp, whose socket, acceptor and
/// resolver are nanorun's. Endpoints and options are Asio's own types.
class tcp
{
public:
  using endpoint = boost::asio::ip::basic_endpoint<boost::asio::ip::tcp>;
  using socket = nanorun::basic_stream_socket<tcp>;
  using acceptor = nanorun::basic_socket_acceptor<tcp>;
  using resolver = nanorun::ip::basic_resolver<tcp>;
  using no_delay = boost::asio::ip::tcp::no_delay;
#if !defined(BOOST_ASIO_NO_IOSTREAM)
  /// Asio's own TCP iostream. It owns a private boost::asio::io_context and
  /// blocks the calling thread, so it never touches a nanorun runtime; it is
  /// here so that code naming tcp::iostream still compiles after the switch.
  using iostream = boost::asio::ip::tcp::iostream;
#endif

  static tcp v4() noexcept { return tcp(boost::asio::ip::tcp::v4()); }
  static tcp v6() noexcept { return tcp(boost::asio::ip::tcp::v6()); }

  /// From Asio's protocol object (what an endpoint's protocol() returns).
  tcp(const boost::asio::ip::tcp& p) noexcept : p_(p) {}
  /// To Asio's, so that `tcp::endpoint{tcp::v4(), port}` works.
  operator boost::asio::ip::tcp() const noexcept { return p_; }

  int type() const noexcept { return p_.type(); }
  int protocol() const noexcept { return p_.protocol(); }
  int family() const noexcept { return p_.family(); }

  friend bool operator==(const tcp& a, const tcp& b) noexcept { return a.p_ == b.p_; }
  friend bool operator!=(const tcp& a, const tcp& b) noexcept { return a.p_ != b.p_; }

private:
  boost::asio::ip::tcp p_;
};

} // namespace nanorun::ip

namespace boost::asio {

/// Asio's basic_socket for nanorun's TCP is nanorun's socket, so Asio's free
/// functions over a basic_socket& (connect, async_connect) take nanorun
/// sockets.
template <class Executor>
class basic_socket<nanorun::ip::tcp, Executor> : public nanorun::basic_socket<nanorun::ip::tcp, Executor>
{
  using base = nanorun::basic_socket<nanorun::ip::tcp, Executor>;

public:
  using base::base;
  basic_socket(basic_socket&&) noexcept = default;
  basic_socket& operator=(basic_socket&&) noexcept = default;

  template <class Executor1>
    requires std::is_convertible_v<Executor1, Executor>
  basic_socket& operator=(basic_socket<nanorun::ip::tcp, Executor1>&& o) noexcept
  {
    base::operator=(std::move(o));
    return *this;
  }

protected:
  ~basic_socket() = default;
};

} // namespace boost::asio
