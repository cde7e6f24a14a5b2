// nanorun::ip::udp: boost::asio::ip::udp with nanorun's socket and resolver.
#pragma once

#include <nanorun/basic_datagram_socket.hpp>
#include <nanorun/basic_socket.hpp>
#include <nanorun/ip/basic_resolver.hpp>

#include <boost/asio/basic_socket.hpp>
#include <boost/asio/ip/basic_endpoint.hpp>
#include <boost/asio/ip/udp.hpp>

#include <type_traits>
#include <utility>

namespace nanorun::ip {

/// The UDP protocol, as boost::asio::ip::udp, whose socket and resolver are
/// nanorun's. Endpoints and options are Asio's own types.
/**
 * Differs from boost::asio::ip::udp only in its socket and resolver types;
 * it converts to and from Asio's protocol object.
 *
 * @par Thread safety
 * Distinct objects: safe. Shared objects: safe (an immutable value).
 */
class udp
{
public:
  /// The endpoint type: Asio's UDP endpoint.
  using endpoint = boost::asio::ip::basic_endpoint<boost::asio::ip::udp>;
  /// The socket type: nanorun's datagram socket.
  using socket = nanorun::basic_datagram_socket<udp>;
  /// The resolver type: nanorun's resolver.
  using resolver = nanorun::ip::basic_resolver<udp>;

  /// The IPv4 protocol.
  /// @returns an object for IPv4.
  static udp v4() noexcept { return udp(boost::asio::ip::udp::v4()); }
  /// The IPv6 protocol.
  /// @returns an object for IPv6.
  static udp v6() noexcept { return udp(boost::asio::ip::udp::v6()); }

  /// From Asio's protocol object (what an endpoint's protocol() returns).
  /// @param p Asio's protocol object.
  udp(const boost::asio::ip::udp& p) noexcept : p_(p) {}
  /// To Asio's, so that `udp::endpoint{udp::v4(), port}` works.
  /// @returns Asio's protocol object for the same family.
  operator boost::asio::ip::udp() const noexcept { return p_; }

  /// The socket type, for the OS.
  /// @returns SOCK_DGRAM.
  int type() const noexcept { return p_.type(); }
  /// The protocol number, for the OS.
  /// @returns IPPROTO_UDP.
  int protocol() const noexcept { return p_.protocol(); }
  /// The address family, for the OS.
  /// @returns AF_INET or AF_INET6.
  int family() const noexcept { return p_.family(); }

  /// Whether two protocol objects have the same family.
  /// @param a a protocol object.
  /// @param b another.
  /// @returns true if equal.
  friend bool operator==(const udp& a, const udp& b) noexcept { return a.p_ == b.p_; }
  /// Whether two protocol objects differ.
  /// @param a a protocol object.
  /// @param b another.
  /// @returns true if not equal.
  friend bool operator!=(const udp& a, const udp& b) noexcept { return a.p_ != b.p_; }

private:
  boost::asio::ip::udp p_;
};

} // namespace nanorun::ip

namespace boost::asio {

/// As for nanorun::ip::tcp: Asio's basic_socket for nanorun's UDP is nanorun's.
/**
 * Adds nothing to nanorun::basic_socket; see it for the members.
 *
 * @par Thread safety
 * As nanorun::basic_socket.
 */
template <class Executor>
class basic_socket<nanorun::ip::udp, Executor> : public nanorun::basic_socket<nanorun::ip::udp, Executor>
{
  using base = nanorun::basic_socket<nanorun::ip::udp, Executor>;

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
  basic_socket& operator=(basic_socket<nanorun::ip::udp, Executor1>&& o) noexcept
  {
    base::operator=(std::move(o));
    return *this;
  }

protected:
  /// Protected, as Asio's: destroyed through the most derived socket type.
  ~basic_socket() = default;
};

} // namespace boost::asio
