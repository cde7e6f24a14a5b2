// Every Winsock call nanorun makes, behind the OS-neutral signatures of
// include/nanorun/detail/socket_ops.hpp. Sockets are created overlapped (so
// AFD polls can watch them), non-inheritable and non-blocking; every call
// here is the plain non-blocking one, and readiness comes from the IOCP +
// AFD backend (iocp_poller.hpp), so buffers never leave the caller's hands.
// Errors are WSAGetLastError() values in the system category, which is what
// Asio's error constants are on Windows.
#include <nanorun/detail/socket_ops.hpp>

#include "sys/windows/winsock.hpp"

#include <boost/asio/error.hpp>

#include <winsock2.h>
#include <ws2tcpip.h>

#include <climits>
#include <mutex>
#include <system_error>

namespace nanorun::sys::windows {

void ensure_winsock()
{
  static const int started = [] {
    WSADATA data;
    const int r = ::WSAStartup(MAKEWORD(2, 2), &data);
    if (r != 0)
      throw std::system_error(r, std::system_category(), "nanorun: WSAStartup");
    return 0;
  }();
  (void)started;
}

} // namespace nanorun::sys::windows

namespace nanorun::detail::socket_ops {

namespace {

SOCKET sock(native_handle fd) noexcept { return static_cast<SOCKET>(fd); }

void set_wsa_error(error_code& ec, int e) noexcept
{
  if (e == WSAEWOULDBLOCK)
    ec = boost::asio::error::would_block;
  else
    ec.assign(e, boost::system::system_category());
}
void set_wsa_error(error_code& ec) noexcept { set_wsa_error(ec, ::WSAGetLastError()); }

// The caller's buffers as WSABUFs (ULONG lengths: a piece above 4 GiB is
// cut, and the call moves less than asked, as a short transfer may).
struct wsa_bufs
{
  wsa_bufs(const buf* b, std::size_t n) noexcept : count(static_cast<DWORD>(n < max_bufs ? n : max_bufs))
  {
    for (DWORD i = 0; i < count; ++i)
    {
      bufs[i].buf = static_cast<char*>(b[i].data);
      bufs[i].len = b[i].size > ULONG_MAX ? ULONG_MAX : static_cast<ULONG>(b[i].size);
    }
  }
  WSABUF bufs[max_bufs];
  DWORD count;
};

bool set_nbio(SOCKET s, bool on, error_code& ec) noexcept
{
  u_long arg = on ? 1 : 0;
  if (::ioctlsocket(s, FIONBIO, &arg) != 0)
  {
    set_wsa_error(ec);
    return false;
  }
  return true;
}

} // namespace

native_handle open(int family, int type, int protocol, error_code& ec)
{
  sys::windows::ensure_winsock();
  // Overlapped: AFD polls are overlapped requests on the socket's behalf.
  constexpr DWORD no_inherit = 0x80; // WSA_FLAG_NO_HANDLE_INHERIT (Windows 7 SP1)
  SOCKET s = ::WSASocketW(family, type, protocol, nullptr, 0, WSA_FLAG_OVERLAPPED | no_inherit);
  if (s == INVALID_SOCKET && ::WSAGetLastError() == WSAEINVAL)
  {
    s = ::WSASocketW(family, type, protocol, nullptr, 0, WSA_FLAG_OVERLAPPED);
    if (s != INVALID_SOCKET)
      ::SetHandleInformation(reinterpret_cast<HANDLE>(s), HANDLE_FLAG_INHERIT, 0);
  }
  if (s == INVALID_SOCKET)
  {
    set_wsa_error(ec);
    return invalid_native_handle;
  }
  if (!set_nbio(s, true, ec))
  {
    ::closesocket(s);
    return invalid_native_handle;
  }
  // Dual stack by default, as on Linux and as Asio sets it on Windows.
  if (family == AF_INET6)
  {
    DWORD off = 0;
    ::setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, reinterpret_cast<const char*>(&off), sizeof off);
  }
  ec.clear();
  return static_cast<native_handle>(s);
}

void close(native_handle fd, error_code& ec) noexcept
{
  if (::closesocket(sock(fd)) == 0)
  {
    ec.clear();
    return;
  }
  const int e = ::WSAGetLastError();
  // A lingering close of a non-blocking socket says "would block" and
  // leaves the socket open: close it blocking, as Asio does.
  if (e == WSAEWOULDBLOCK)
  {
    u_long off = 0;
    ::ioctlsocket(sock(fd), FIONBIO, &off);
    if (::closesocket(sock(fd)) == 0)
    {
      ec.clear();
      return;
    }
  }
  set_wsa_error(ec);
}

void bind(native_handle fd, const void* addr, std::size_t len, error_code& ec)
{
  if (::bind(sock(fd), static_cast<const sockaddr*>(addr), static_cast<int>(len)) != 0)
    set_wsa_error(ec);
  else
    ec.clear();
}

void listen(native_handle fd, int backlog, error_code& ec)
{
  if (::listen(sock(fd), backlog) != 0)
    set_wsa_error(ec);
  else
    ec.clear();
}

native_handle accept(native_handle fd, void* addr, std::size_t* len, bool report_aborted, error_code& ec)
{
  sockaddr_storage ss;
  int sl = sizeof ss;
  const SOCKET s = ::accept(sock(fd), reinterpret_cast<sockaddr*>(&ss), &sl);
  if (s == INVALID_SOCKET)
  {
    const int e = ::WSAGetLastError();
    // Reset before it was taken: skipped unless asked for, as in Asio.
    if (e == WSAECONNRESET || e == WSAECONNABORTED)
    {
      if (report_aborted)
        ec = boost::asio::error::connection_aborted;
      else
        ec = boost::asio::error::would_block;
      return invalid_native_handle;
    }
    set_wsa_error(ec, e);
    return invalid_native_handle;
  }
  ::SetHandleInformation(reinterpret_cast<HANDLE>(s), HANDLE_FLAG_INHERIT, 0);
  if (!set_nbio(s, true, ec))
  {
    ::closesocket(s);
    return invalid_native_handle;
  }
  if (addr && len)
  {
    const std::size_t n = static_cast<std::size_t>(sl) < *len ? static_cast<std::size_t>(sl) : *len;
    __builtin_memcpy(addr, &ss, n);
    *len = static_cast<std::size_t>(sl);
  }
  ec.clear();
  return static_cast<native_handle>(s);
}

bool connect(native_handle fd, const void* addr, std::size_t len, error_code& ec)
{
  if (::connect(sock(fd), static_cast<const sockaddr*>(addr), static_cast<int>(len)) == 0)
  {
    ec.clear();
    return true;
  }
  const int e = ::WSAGetLastError();
  // A non-blocking connect in progress; its end is reported by AFD as
  // SEND (connected) or CONNECT_FAIL (with the error).
  if (e == WSAEWOULDBLOCK || e == WSAEINPROGRESS)
  {
    ec.clear();
    return false;
  }
  set_wsa_error(ec, e);
  return true;
}

bool connect_finished(native_handle fd, int event_error, error_code& ec)
{
  if (event_error != 0)
  {
    ec.assign(event_error, boost::system::system_category());
    return true;
  }
  int err = 0;
  int len = sizeof err;
  if (::getsockopt(sock(fd), SOL_SOCKET, SO_ERROR, reinterpret_cast<char*>(&err), &len) != 0)
  {
    set_wsa_error(ec);
    return true;
  }
  if (err != 0)
  {
    ec.assign(err, boost::system::system_category());
    return true;
  }
  sockaddr_storage ss;
  int sl = sizeof ss;
  if (::getpeername(sock(fd), reinterpret_cast<sockaddr*>(&ss), &sl) == 0)
  {
    ec.clear();
    return true;
  }
  if (::WSAGetLastError() == WSAENOTCONN)
    return false; // still connecting: a stale readiness report
  set_wsa_error(ec);
  return true;
}

std::ptrdiff_t recv(native_handle fd, const buf* b, std::size_t n, int flags, bool stream, error_code& ec)
{
  wsa_bufs w(b, n);
  DWORD got = 0;
  DWORD fl = static_cast<DWORD>(flags);
  if (::WSARecv(sock(fd), w.bufs, w.count, &got, &fl, nullptr, nullptr) != 0)
  {
    const int e = ::WSAGetLastError();
    // A datagram larger than the buffers: Asio returns what fitted.
    if (e != WSAEMSGSIZE || stream)
    {
      set_wsa_error(ec, e);
      return -1;
    }
  }
  ec.clear();
  if (got == 0 && stream)
  {
    for (DWORD i = 0; i < w.count; ++i)
      if (w.bufs[i].len != 0)
      {
        ec = boost::asio::error::eof;
        return -1;
      }
  }
  return static_cast<std::ptrdiff_t>(got);
}

std::ptrdiff_t send(native_handle fd, const buf* b, std::size_t n, int flags, error_code& ec)
{
  wsa_bufs w(b, n);
  DWORD sent = 0;
  if (::WSASend(sock(fd), w.bufs, w.count, &sent, static_cast<DWORD>(flags), nullptr, nullptr) != 0)
  {
    set_wsa_error(ec);
    return -1;
  }
  ec.clear();
  return static_cast<std::ptrdiff_t>(sent);
}

std::ptrdiff_t recvfrom(native_handle fd, const buf* b, std::size_t n, int flags, void* addr, std::size_t* len,
                        error_code& ec)
{
  wsa_bufs w(b, n);
  DWORD got = 0;
  DWORD fl = static_cast<DWORD>(flags);
  int al = static_cast<int>(*len);
  if (::WSARecvFrom(sock(fd), w.bufs, w.count, &got, &fl, static_cast<sockaddr*>(addr), &al, nullptr, nullptr) != 0)
  {
    const int e = ::WSAGetLastError();
    if (e != WSAEMSGSIZE)
    {
      set_wsa_error(ec, e);
      return -1;
    }
  }
  *len = static_cast<std::size_t>(al);
  ec.clear();
  return static_cast<std::ptrdiff_t>(got);
}

std::ptrdiff_t sendto(native_handle fd, const buf* b, std::size_t n, int flags, const void* addr, std::size_t len,
                      error_code& ec)
{
  wsa_bufs w(b, n);
  DWORD sent = 0;
  if (::WSASendTo(sock(fd), w.bufs, w.count, &sent, static_cast<DWORD>(flags), static_cast<const sockaddr*>(addr),
                  static_cast<int>(len), nullptr, nullptr) != 0)
  {
    set_wsa_error(ec);
    return -1;
  }
  ec.clear();
  return static_cast<std::ptrdiff_t>(sent);
}

void shutdown(native_handle fd, int what, error_code& ec)
{
  if (::shutdown(sock(fd), what) != 0)
    set_wsa_error(ec);
  else
    ec.clear();
}

std::size_t available(native_handle fd, error_code& ec)
{
  u_long n = 0;
  if (::ioctlsocket(sock(fd), FIONREAD, &n) != 0)
  {
    set_wsa_error(ec);
    return 0;
  }
  ec.clear();
  return static_cast<std::size_t>(n);
}

bool at_mark(native_handle fd, error_code& ec)
{
  u_long v = 0;
  if (::ioctlsocket(sock(fd), SIOCATMARK, &v) != 0)
  {
    set_wsa_error(ec);
    return false;
  }
  ec.clear();
  return v != 0;
}

void io_control(native_handle fd, int cmd, void* arg, error_code& ec)
{
  if (::ioctlsocket(sock(fd), static_cast<long>(cmd), static_cast<u_long*>(arg)) != 0)
    set_wsa_error(ec);
  else
    ec.clear();
}

int non_blocking_command() noexcept { return static_cast<int>(FIONBIO); }

// Windows cannot tell a socket's mode: a socket assigned by the user is
// taken to be blocking until nanorun sets it (as Asio does).
bool is_non_blocking(native_handle) noexcept { return false; }

void set_non_blocking(native_handle fd, bool on, error_code& ec)
{
  if (set_nbio(sock(fd), on, ec))
    ec.clear();
}

void local_address(native_handle fd, void* addr, std::size_t* len, error_code& ec)
{
  int sl = static_cast<int>(*len);
  if (::getsockname(sock(fd), static_cast<sockaddr*>(addr), &sl) != 0)
    set_wsa_error(ec);
  else
  {
    *len = static_cast<std::size_t>(sl);
    ec.clear();
  }
}

void peer_address(native_handle fd, void* addr, std::size_t* len, error_code& ec)
{
  int sl = static_cast<int>(*len);
  if (::getpeername(sock(fd), static_cast<sockaddr*>(addr), &sl) != 0)
    set_wsa_error(ec);
  else
  {
    *len = static_cast<std::size_t>(sl);
    ec.clear();
  }
}

void set_option(native_handle fd, int level, int name, const void* value, std::size_t size, error_code& ec)
{
  if (::setsockopt(sock(fd), level, name, static_cast<const char*>(value), static_cast<int>(size)) != 0)
    set_wsa_error(ec);
  else
    ec.clear();
}

void get_option(native_handle fd, int level, int name, void* value, std::size_t* size, error_code& ec)
{
  int sl = static_cast<int>(*size);
  if (::getsockopt(sock(fd), level, name, static_cast<char*>(value), &sl) != 0)
  {
    set_wsa_error(ec);
    return;
  }
  // Some options are BOOLs that Winsock may return as one byte: widen them
  // to the int the option object holds, as Asio does.
  if (sl == 1 && *size == sizeof(int))
  {
    *static_cast<int*>(value) = *static_cast<unsigned char*>(value);
    sl = sizeof(int);
  }
  *size = static_cast<std::size_t>(sl);
  ec.clear();
}

bool poll_ready(native_handle fd, int dir, int timeout_ms, error_code& ec)
{
  // select(), not WSAPoll: WSAPoll has no POLLPRI, and before Windows 10
  // 2004 did not report a failed connect at all. A failed connect shows in
  // the exception set, so a wait for writing watches both.
  fd_set rd, wr, ex;
  FD_ZERO(&rd);
  FD_ZERO(&wr);
  FD_ZERO(&ex);
  if (dir == 0)
    FD_SET(sock(fd), &rd);
  else if (dir == 1)
  {
    FD_SET(sock(fd), &wr);
    FD_SET(sock(fd), &ex);
  }
  else
    FD_SET(sock(fd), &ex);
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  const int r = ::select(0, &rd, &wr, &ex, timeout_ms < 0 ? nullptr : &tv);
  if (r < 0)
  {
    set_wsa_error(ec);
    return false;
  }
  ec.clear();
  return r > 0;
}

// select() has no set for a reset connection: its exception set holds
// out-of-band data and failed connects only. The reactor hands the reset
// over as the event's error (AFD_POLL_ABORT, see iocp_poller), and an error
// wait completes on it, as it does on Linux where poll() reports POLLERR.
// (Asio's own IOCP sockets never complete a wait_error on a reset.)
bool wait_ready(native_handle fd, int dir, int event_error, error_code& ec)
{
  if (dir == 2 && event_error != 0)
  {
    ec.clear();
    return true;
  }
  return poll_ready(fd, dir, 0, ec);
}

int max_listen_connections() noexcept { return SOMAXCONN; }

} // namespace nanorun::detail::socket_ops
