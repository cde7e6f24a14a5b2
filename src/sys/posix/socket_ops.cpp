// Every BSD-socket call nanorun makes. See include/nanorun/detail/socket_ops.hpp.
#include <nanorun/detail/socket_ops.hpp>

#include "sys/fault.hpp"

#include <boost/asio/error.hpp>

#include <cerrno>
#include <cstddef>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

namespace nanorun::detail::socket_ops {

static_assert(sizeof(buf) == sizeof(iovec) && offsetof(buf, data) == offsetof(iovec, iov_base) &&
              offsetof(buf, size) == offsetof(iovec, iov_len));

namespace {

void set_errno(error_code& ec) noexcept
{
  const int e = errno;
  if (e == EAGAIN || e == EWOULDBLOCK)
    ec = boost::asio::error::would_block;
  else
    ec.assign(e, boost::system::system_category());
}

iovec* as_iov(const buf* b) noexcept { return reinterpret_cast<iovec*>(const_cast<buf*>(b)); }

#if NANORUN_FAULTS
constexpr std::size_t max_short_iov = 64;

// The fault build's short reads and writes: cuts the transfer described by
// msg to a random length, in `room`. Stream sockets only: a datagram cut
// short would be a different datagram, not a short transfer.
void maybe_shorten(nanorun::sys::fault_call call, int fd, msghdr& msg, iovec* room) noexcept
{
  if (msg.msg_iovlen > max_short_iov)
    return;
  int type = 0;
  socklen_t tl = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_STREAM)
    return;
  std::size_t total = 0;
  for (std::size_t i = 0; i < msg.msg_iovlen; ++i)
    total += msg.msg_iov[i].iov_len;
  std::size_t left = nanorun::sys::fault_short(call, total);
  if (left >= total)
    return;
  std::size_t k = 0;
  for (; k < msg.msg_iovlen && left > 0; ++k)
  {
    room[k] = msg.msg_iov[k];
    if (room[k].iov_len > left)
      room[k].iov_len = left;
    left -= room[k].iov_len;
  }
  msg.msg_iov = room;
  msg.msg_iovlen = k;
}
#define NANORUN_SHORTEN(call, fd, msg)                                                                               \
  iovec short_room[max_short_iov];                                                                                   \
  maybe_shorten(nanorun::sys::fault_call::call, fd, msg, short_room)
#else
#define NANORUN_SHORTEN(call, fd, msg) static_cast<void>(0)
#endif

[[maybe_unused]] bool set_flags(int fd, error_code& ec) noexcept
{
  // For platforms without SOCK_CLOEXEC/SOCK_NONBLOCK at creation.
  const int fl = ::fcntl(fd, F_GETFL, 0);
  if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || ::fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
  {
    set_errno(ec);
    return false;
  }
  return true;
}

} // namespace

int open(int family, int type, int protocol, error_code& ec)
{
#if defined(SOCK_CLOEXEC) && defined(SOCK_NONBLOCK)
  const int fd = NANORUN_SYSCALL(socket, ::socket(family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol));
  if (fd < 0)
  {
    set_errno(ec);
    return -1;
  }
#else
  const int fd = ::socket(family, type, protocol);
  if (fd < 0)
  {
    set_errno(ec);
    return -1;
  }
  if (!set_flags(fd, ec))
  {
    ::close(fd);
    return -1;
  }
#endif
#if defined(SO_NOSIGPIPE)
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
  ec.clear();
  return fd;
}

void close(int fd, error_code& ec) noexcept
{
  // Not retried on EINTR: on Linux the descriptor is gone whatever close says,
  // and retrying could close a descriptor another thread just opened.
  if (::close(fd) < 0 && errno != EINTR)
    set_errno(ec);
  else
    ec.clear();
}

void bind(int fd, const void* addr, std::size_t len, error_code& ec)
{
  if (::bind(fd, static_cast<const sockaddr*>(addr), static_cast<socklen_t>(len)) < 0)
    set_errno(ec);
  else
    ec.clear();
}

void listen(int fd, int backlog, error_code& ec)
{
  if (::listen(fd, backlog) < 0)
    set_errno(ec);
  else
    ec.clear();
}

int accept(int fd, void* addr, std::size_t* len, bool report_aborted, error_code& ec)
{
  sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  for (;;)
  {
#if defined(__linux__)
    const int nfd =
        NANORUN_SYSCALL(accept, ::accept4(fd, reinterpret_cast<sockaddr*>(&ss), &sl, SOCK_CLOEXEC | SOCK_NONBLOCK));
#else
    const int nfd = NANORUN_SYSCALL(accept, ::accept(fd, reinterpret_cast<sockaddr*>(&ss), &sl));
#endif
    if (nfd >= 0)
    {
#if !defined(__linux__)
      if (!set_flags(nfd, ec))
      {
        ::close(nfd);
        return -1;
      }
#endif
      if (addr && len)
      {
        const std::size_t n = sl < *len ? sl : *len;
        __builtin_memcpy(addr, &ss, n);
        *len = sl;
      }
      ec.clear();
      return nfd;
    }
    if (errno == EINTR)
      continue;
    // The connection was reset before we took it: Asio's accept treats this
    // as "nothing yet" and waits for the next one, unless the user asked to
    // see it (enable_connection_aborted).
    if ((errno == ECONNABORTED || errno == EPROTO) && !report_aborted)
    {
      ec = boost::asio::error::would_block;
      return -1;
    }
    set_errno(ec);
    return -1;
  }
}

bool connect(int fd, const void* addr, std::size_t len, error_code& ec)
{
  if (NANORUN_SYSCALL(connect, ::connect(fd, static_cast<const sockaddr*>(addr), static_cast<socklen_t>(len))) == 0)
  {
    ec.clear();
    return true;
  }
  // EINTR: the connect goes on asynchronously, like EINPROGRESS.
  if (errno == EINPROGRESS || errno == EINTR)
  {
    ec.clear();
    return false;
  }
#if defined(__linux__)
  // Linux says EAGAIN when no local port is left (for TCP; a full backlog for
  // AF_UNIX, which is in progress). Asio reports no_buffer_space, not a
  // would_block that a caller would retry forever.
  if (errno == EAGAIN)
  {
    if (static_cast<const sockaddr*>(addr)->sa_family == AF_UNIX)
    {
      ec.clear();
      return false;
    }
    ec = boost::asio::error::no_buffer_space;
    return true;
  }
#endif
  set_errno(ec);
  return true;
}

bool connect_finished(int fd, int event_error, error_code& ec)
{
  if (event_error != 0)
  {
    ec.assign(event_error, boost::system::system_category());
    return true;
  }
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
  {
    set_errno(ec);
    return true;
  }
  if (err != 0)
  {
    ec.assign(err, boost::system::system_category());
    return true;
  }
  // No error yet: connected, or still in progress (a stale readiness report).
  sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &sl) == 0)
  {
    ec.clear();
    return true;
  }
  if (errno == ENOTCONN)
    return false;
  set_errno(ec);
  return true;
}

std::ptrdiff_t recv(int fd, const buf* b, std::size_t n, int flags, bool stream, error_code& ec)
{
  msghdr msg{};
  msg.msg_iov = as_iov(b);
  msg.msg_iovlen = n;
  NANORUN_SHORTEN(recv, fd, msg);
  for (;;)
  {
    // One buffer (the common case: a coroutine's read_some, a composed read's
    // step) through recv(2), as Asio does: recvmsg(2) also copies in and
    // checks the message header and the vector, measurably more per call on
    // a request-response loop.
    const ssize_t r = msg.msg_iovlen == 1
                          ? NANORUN_SYSCALL(recv, ::recv(fd, msg.msg_iov[0].iov_base, msg.msg_iov[0].iov_len, flags))
                          : NANORUN_SYSCALL(recv, ::recvmsg(fd, &msg, flags));
    if (r >= 0)
    {
      ec.clear();
      if (r == 0 && stream)
      {
        bool want = false;
        for (std::size_t i = 0; i < n; ++i)
          want = want || b[i].size != 0;
        if (want)
        {
          ec = boost::asio::error::eof;
          return -1;
        }
      }
      return r;
    }
    if (errno != EINTR)
    {
      set_errno(ec);
      return -1;
    }
  }
}

std::ptrdiff_t send(int fd, const buf* b, std::size_t n, int flags, error_code& ec)
{
  msghdr msg{};
  msg.msg_iov = as_iov(b);
  msg.msg_iovlen = n;
#if defined(MSG_NOSIGNAL)
  flags |= MSG_NOSIGNAL;
#endif
  NANORUN_SHORTEN(send, fd, msg);
  for (;;)
  {
    // One buffer through send(2), as in recv() above.
    const ssize_t r = msg.msg_iovlen == 1
                          ? NANORUN_SYSCALL(send, ::send(fd, msg.msg_iov[0].iov_base, msg.msg_iov[0].iov_len, flags))
                          : NANORUN_SYSCALL(send, ::sendmsg(fd, &msg, flags));
    if (r >= 0)
    {
      ec.clear();
      return r;
    }
    if (errno != EINTR)
    {
      set_errno(ec);
      return -1;
    }
  }
}

std::ptrdiff_t recvfrom(int fd, const buf* b, std::size_t n, int flags, void* addr, std::size_t* len,
                        error_code& ec)
{
  msghdr msg{};
  msg.msg_name = addr;
  msg.msg_namelen = static_cast<socklen_t>(*len);
  msg.msg_iov = as_iov(b);
  msg.msg_iovlen = n;
  for (;;)
  {
    const ssize_t r = NANORUN_SYSCALL(recv, ::recvmsg(fd, &msg, flags));
    if (r >= 0)
    {
      *len = msg.msg_namelen;
      ec.clear();
      return r;
    }
    if (errno != EINTR)
    {
      set_errno(ec);
      return -1;
    }
  }
}

std::ptrdiff_t sendto(int fd, const buf* b, std::size_t n, int flags, const void* addr, std::size_t len,
                      error_code& ec)
{
  msghdr msg{};
  msg.msg_name = const_cast<void*>(addr);
  msg.msg_namelen = static_cast<socklen_t>(len);
  msg.msg_iov = as_iov(b);
  msg.msg_iovlen = n;
#if defined(MSG_NOSIGNAL)
  flags |= MSG_NOSIGNAL;
#endif
  for (;;)
  {
    const ssize_t r = NANORUN_SYSCALL(send, ::sendmsg(fd, &msg, flags));
    if (r >= 0)
    {
      ec.clear();
      return r;
    }
    if (errno != EINTR)
    {
      set_errno(ec);
      return -1;
    }
  }
}

void shutdown(int fd, int what, error_code& ec)
{
  if (::shutdown(fd, what) < 0)
    set_errno(ec);
  else
    ec.clear();
}

namespace {
void set_ioctl_errno(error_code& ec) noexcept
{
  if (errno == ENOTTY)
    ec = boost::asio::error::not_socket;
  else
    set_errno(ec);
}
} // namespace

std::size_t available(int fd, error_code& ec)
{
  int n = 0;
  if (::ioctl(fd, FIONREAD, &n) < 0)
  {
    set_ioctl_errno(ec);
    return 0;
  }
  ec.clear();
  return static_cast<std::size_t>(n);
}

bool at_mark(int fd, error_code& ec)
{
  int v = 0;
  if (::ioctl(fd, SIOCATMARK, &v) < 0)
  {
    set_ioctl_errno(ec);
    return false;
  }
  ec.clear();
  return v != 0;
}

void io_control(int fd, int cmd, void* arg, error_code& ec)
{
  if (::ioctl(fd, static_cast<unsigned long>(cmd), arg) < 0)
    set_ioctl_errno(ec);
  else
    ec.clear();
}

int non_blocking_command() noexcept { return static_cast<int>(FIONBIO); }

bool is_non_blocking(int fd) noexcept
{
  const int fl = ::fcntl(fd, F_GETFL, 0);
  return fl >= 0 && (fl & O_NONBLOCK);
}

void set_non_blocking(int fd, bool on, error_code& ec)
{
  int arg = on ? 1 : 0;
  if (::ioctl(fd, FIONBIO, &arg) < 0)
    set_errno(ec);
  else
    ec.clear();
}

void local_address(int fd, void* addr, std::size_t* len, error_code& ec)
{
  socklen_t sl = static_cast<socklen_t>(*len);
  if (::getsockname(fd, static_cast<sockaddr*>(addr), &sl) < 0)
    set_errno(ec);
  else
  {
    *len = sl;
    ec.clear();
  }
}

void peer_address(int fd, void* addr, std::size_t* len, error_code& ec)
{
  socklen_t sl = static_cast<socklen_t>(*len);
  if (::getpeername(fd, static_cast<sockaddr*>(addr), &sl) < 0)
    set_errno(ec);
  else
  {
    *len = sl;
    ec.clear();
  }
}

void set_option(int fd, int level, int name, const void* value, std::size_t size, error_code& ec)
{
  if (::setsockopt(fd, level, name, value, static_cast<socklen_t>(size)) < 0)
    set_errno(ec);
  else
    ec.clear();
}

void get_option(int fd, int level, int name, void* value, std::size_t* size, error_code& ec)
{
  socklen_t sl = static_cast<socklen_t>(*size);
  if (::getsockopt(fd, level, name, value, &sl) < 0)
  {
    set_errno(ec);
    return;
  }
  *size = sl;
  ec.clear();
#if defined(__linux__)
  if (level == SOL_SOCKET && (name == SO_RCVBUF || name == SO_SNDBUF) && sl == sizeof(int))
    *static_cast<int*>(value) /= 2;
#endif
}

bool poll_ready(int fd, int dir, int timeout_ms, error_code& ec)
{
  pollfd p{};
  p.fd = fd;
  p.events = static_cast<short>(dir == 0 ? POLLIN : dir == 1 ? POLLOUT : POLLPRI);
  for (;;)
  {
    const int r = ::poll(&p, 1, timeout_ms);
    if (r >= 0)
    {
      ec.clear();
      return r > 0;
    }
    if (errno != EINTR)
    {
      set_errno(ec);
      return false;
    }
  }
}

// poll() reports a reset as POLLERR whatever was asked for: the event's
// error adds nothing.
bool wait_ready(int fd, int dir, int, error_code& ec) { return poll_ready(fd, dir, 0, ec); }

int max_listen_connections() noexcept { return SOMAXCONN; }

} // namespace nanorun::detail::socket_ops
