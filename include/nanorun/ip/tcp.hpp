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
/**
 * Differs from boost::asio::ip::tcp only in its socket, acceptor and
 * resolver types; it converts to and from Asio's protocol object.
 *
 * @par Thread safety
 * Distinct objects: safe. Shared objects: safe (an immutable value).
 */
class tcp
{
public:
  /// The endpoint type: Asio's TCP endpoint.
  using endpoint = boost::asio::ip::basic_endpoint<boost::asio::ip::tcp>;
  /// The socket type: nanorun's stream socket.
  using socket = nanorun::basic_stream_socket<tcp>;
  /// The acceptor type: nanorun's acceptor.
  using acceptor = nanorun::basic_socket_acceptor<tcp>;
  /// The resolver type: nanorun's resolver.
  using resolver = nanorun::ip::basic_resolver<tcp>;
  /// The TCP_NODELAY socket option, Asio's.
  using no_delay = boost::asio::ip::tcp::no_delay;
#if !defined(BOOST_ASIO_NO_IOSTREAM)
  /// Asio's own TCP iostream. It owns a private boost::asio::io_context and
  /// blocks the calling thread, so it never touches a nanorun runtime; it is
  /// here so that code naming tcp::iostream still compiles after the switch.
  using iostream = boost::asio::ip::tcp::iostream;
#endif

  /// The IPv4 protocol.
  /// @returns an object for IPv4.
  static tcp v4() noexcept { return tcp(boost::asio::ip::tcp::v4()); }
  /// The IPv6 protocol.
  /// @returns an object for IPv6.
  static tcp v6() noexcept { return tcp(boost::asio::ip::tcp::v6()); }

  /// From Asio's protocol object (what an endpoint's protocol() returns).
  /// @param p Asio's protocol object.
  tcp(const boost::asio::ip::tcp& p) noexcept : p_(p) {}
  /// To Asio's, so that `tcp::endpoint{tcp::v4(), port}` works.
  /// @returns Asio's protocol object for the same family.
  operator boost::asio::ip::tcp() const noexcept { return p_; }

  /// The socket type, for the OS.
  /// @returns SOCK_STREAM.
  int type() const noexcept { return p_.type(); }
  /// The protocol number, for the OS.
  /// @returns IPPROTO_TCP.
  int protocol() const noexcept { return p_.protocol(); }
  /// The address family, for the OS.
  /// @returns AF_INET or AF_INET6.
  int family() const noexcept { return p_.family(); }

  /// Whether two protocol objects have the same family.
  /// @param a a protocol object.
  /// @param b another.
  /// @returns true if equal.
  friend bool operator==(const tcp& a, const tcp& b) noexcept { return a.p_ == b.p_; }
  /// Whether two protocol objects differ.
  /// @param a a protocol object.
  /// @param b another.
  /// @returns true if not equal.
  friend bool operator!=(const tcp& a, const tcp& b) noexcept { return a.p_ != b.p_; }

private:
  boost::asio::ip::tcp p_;
};

} // namespace nanorun::ip

namespace boost::asio {

/// Asio's basic_socket for nanorun's TCP is nanorun's socket, so Asio's free
/// functions over a basic_socket& (connect, async_connect) take nanorun
/// sockets.
/**
 * Adds nothing to nanorun::basic_socket; see it for the members.
 *
 * @par Thread safety
 * As nanorun::basic_socket.
 */
template <class Executor>
class basic_socket<nanorun::ip::tcp, Executor> : public nanorun::basic_socket<nanorun::ip::tcp, Executor>
{
  using base = nanorun::basic_socket<nanorun::ip::tcp, Executor>;

public:
  using base::base;
  /// Moves a socket, pending operations included.
  basic_socket(basic_socket&&) noexcept = default;
  /// Move-assigns a socket (this one is closed first).
  /// @returns `*this`.
  basic_socket& operator=(basic_socket&&) noexcept = default;

  /// Move-assigns a socket of another executor type.
  /// @param o the socket to move from.
  /// @returns `*this`.
  template <class Executor1>
    requires std::is_convertible_v<Executor1, Executor>
  basic_socket& operator=(basic_socket<nanorun::ip::tcp, Executor1>&& o) noexcept
  {
    base::operator=(std::move(o));
    return *this;
  }

protected:
  /// Protected, as Asio's: destroyed through the most derived socket type.
  ~basic_socket() = default;
};

} // namespace boost::asio
