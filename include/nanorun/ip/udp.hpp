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
class udp
{
public:
  using endpoint = boost::asio::ip::basic_endpoint<boost::asio::ip::udp>;
  using socket = nanorun::basic_datagram_socket<udp>;
  using resolver = nanorun::ip::basic_resolver<udp>;

  static udp v4() noexcept { return udp(boost::asio::ip::udp::v4()); }
  static udp v6() noexcept { return udp(boost::asio::ip::udp::v6()); }

  udp(const boost::asio::ip::udp& p) noexcept : p_(p) {}
  operator boost::asio::ip::udp() const noexcept { return p_; }

  int type() const noexcept { return p_.type(); }
  int protocol() const noexcept { return p_.protocol(); }
  int family() const noexcept { return p_.family(); }

  friend bool operator==(const udp& a, const udp& b) noexcept { return a.p_ == b.p_; }
  friend bool operator!=(const udp& a, const udp& b) noexcept { return a.p_ != b.p_; }

private:
  boost::asio::ip::udp p_;
};

} // namespace nanorun::ip

namespace boost::asio {

/// As for nanorun::ip::tcp: Asio's basic_socket for nanorun's UDP is nanorun's.
template <class Executor>
class basic_socket<nanorun::ip::udp, Executor> : public nanorun::basic_socket<nanorun::ip::udp, Executor>
{
  using base = nanorun::basic_socket<nanorun::ip::udp, Executor>;

public:
  using base::base;
  basic_socket(basic_socket&&) noexcept = default;
  basic_socket& operator=(basic_socket&&) noexcept = default;

  template <class Executor1>
    requires std::is_convertible_v<Executor1, Executor>
  basic_socket& operator=(basic_socket<nanorun::ip::udp, Executor1>&& o) noexcept
  {
    base::operator=(std::move(o));
    return *this;
  }

protected:
  ~basic_socket() = default;
};

} // namespace boost::asio
