// Name resolution: getaddrinfo and getnameinfo, with errors mapped as Asio
// maps them. See include/nanorun/detail/socket_ops.hpp.
//
// Also the Windows build's: Winsock has the same two calls (ws2tcpip.h), so
// only the headers, Winsock's start-up and the error of last resort differ.
#include <nanorun/detail/socket_ops.hpp>

#include "sys/fault.hpp"

#include <boost/asio/error.hpp>

#if defined(_WIN32)
#include "sys/windows/winsock.hpp"

#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <cerrno>
#include <netdb.h>
#include <sys/socket.h>
#endif

namespace nanorun::detail::socket_ops {

namespace {

void prepare()
{
#if defined(_WIN32)
  sys::windows::ensure_winsock();
#endif
}

error_code addrinfo_error(int e) noexcept
{
  namespace err = boost::asio::error;
  switch (e)
  {
  // The same mapping as Asio's: every "no such name" is host_not_found.
  // (On Windows EAI_NODATA, WSANO_DATA, differs from EAI_NONAME.)
  case EAI_NONAME:
#if defined(EAI_ADDRFAMILY)
  case EAI_ADDRFAMILY:
#endif
#if defined(EAI_NODATA) && EAI_NODATA != EAI_NONAME
  case EAI_NODATA:
#endif
    return err::host_not_found;
  case EAI_AGAIN:
    return err::host_not_found_try_again;
  case EAI_FAIL:
    return err::no_recovery;
  case EAI_SERVICE:
    return err::service_not_found;
  case EAI_SOCKTYPE:
    return err::socket_type_not_supported;
  case EAI_FAMILY:
    return err::address_family_not_supported;
  case EAI_MEMORY:
    return err::no_memory;
  case EAI_BADFLAGS:
    return err::invalid_argument;
#if defined(_WIN32)
  default: // Winsock's error itself, as Asio
    return {e, boost::system::system_category()};
#else
  default: // EAI_SYSTEM and anything unknown: errno, as Asio
    return {errno, boost::system::system_category()};
#endif
  }
}
} // namespace

std::vector<resolved_address> resolve(const std::string& host, const std::string& service, int family,
                                      int socktype, int protocol, int flags, std::string& canonical_name,
                                      error_code& ec)
{
  prepare();
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = socktype;
  hints.ai_protocol = protocol;
  hints.ai_flags = flags;
  addrinfo* list = nullptr;
  int r;
  if (const int e = NANORUN_FAULT(resolve))
    r = e; // the fault build: fails as getaddrinfo would, without asking
  else
    r = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.empty() ? nullptr : service.c_str(), &hints,
                      &list);
  std::vector<resolved_address> out;
  if (r != 0)
  {
    ec = addrinfo_error(r);
    return out;
  }
  canonical_name.clear();
  if (list && list->ai_canonname)
    canonical_name = list->ai_canonname;
  for (addrinfo* a = list; a; a = a->ai_next)
  {
    if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) || a->ai_addrlen > sizeof(resolved_address::bytes))
      continue;
    resolved_address ra{};
    __builtin_memcpy(ra.bytes, a->ai_addr, a->ai_addrlen);
    ra.size = a->ai_addrlen;
    out.push_back(ra);
  }
  ::freeaddrinfo(list);
  ec.clear();
  return out;
}

void resolve_endpoint(const void* addr, std::size_t len, int socktype, std::string& host, std::string& service,
                      error_code& ec)
{
  prepare();
  char h[NI_MAXHOST];
  char s[NI_MAXSERV];
  const int dgram = socktype == SOCK_DGRAM ? NI_DGRAM : 0;
  const auto* sa = static_cast<const sockaddr*>(addr);
  int r = ::getnameinfo(sa, static_cast<socklen_t>(len), h, sizeof h, s, sizeof s, dgram);
  if (r != 0)
    r = ::getnameinfo(sa, static_cast<socklen_t>(len), h, sizeof h, s, sizeof s, dgram | NI_NUMERICSERV);
  if (r != 0)
  {
    ec = addrinfo_error(r);
    return;
  }
  host = h;
  service = s;
  ec.clear();
}

} // namespace nanorun::detail::socket_ops
