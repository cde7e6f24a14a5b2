// Non-blocking socket calls with OS-neutral signatures, for the I/O objects'
// templates. Defined in src/sys/posix/socket_ops.cpp, the only place that
// makes the calls. Every descriptor is created with close-on-exec and
// non-blocking set; sends never raise SIGPIPE. EINTR is retried inside.
// Errors are reported as Asio's codes: system_category errno values (which
// compare equal to boost::asio::error::connection_reset, broken_pipe, ...),
// would_block for EAGAIN, and boost::asio::error::eof for an orderly shutdown
// seen by a stream read.
#pragma once

#include <boost/system/error_code.hpp>

#include <cstddef>

namespace nanorun::detail::socket_ops {

using boost::system::error_code;

// Layout-compatible with struct iovec (checked where it is used).
struct buf
{
  void* data;
  std::size_t size;
};
inline constexpr std::size_t max_bufs = 64;

int open(int family, int type, int protocol, error_code& ec);
void close(int fd, error_code& ec) noexcept;
void bind(int fd, const void* addr, std::size_t len, error_code& ec);
void listen(int fd, int backlog, error_code& ec);
// -1 and would_block when nothing is pending. The new descriptor is
// non-blocking and close-on-exec. len: in, capacity of addr; out, its size.
int accept(int fd, void* addr, std::size_t* len, error_code& ec);
// Starts a connect. Returns true if it finished (ec says how), false if it is
// in progress.
bool connect(int fd, const void* addr, std::size_t len, error_code& ec);
// For an in-progress connect: false while still in progress, else true with
// the outcome in ec.
bool connect_finished(int fd, error_code& ec);
// recvmsg/sendmsg. Return the byte count, or -1 with ec set (would_block
// included). `stream`: 0 bytes read into a non-empty buffer is eof.
std::ptrdiff_t recv(int fd, const buf* b, std::size_t n, int flags, bool stream, error_code& ec);
std::ptrdiff_t send(int fd, const buf* b, std::size_t n, int flags, error_code& ec);
std::ptrdiff_t recvfrom(int fd, const buf* b, std::size_t n, int flags, void* addr, std::size_t* len,
                        error_code& ec);
std::ptrdiff_t sendto(int fd, const buf* b, std::size_t n, int flags, const void* addr, std::size_t len,
                      error_code& ec);
void shutdown(int fd, int what, error_code& ec);
std::size_t available(int fd, error_code& ec);
void local_address(int fd, void* addr, std::size_t* len, error_code& ec);
void peer_address(int fd, void* addr, std::size_t* len, error_code& ec);
void set_option(int fd, int level, int name, const void* value, std::size_t size, error_code& ec);
void get_option(int fd, int level, int name, void* value, std::size_t* size, error_code& ec);
// Blocks until fd is ready in the direction (0 read, 1 write, 2 error), or
// returns at once with timeout_ms 0. True if ready.
bool poll_ready(int fd, int dir, int timeout_ms, error_code& ec);
// The OS's SOMAXCONN.
int max_listen_connections() noexcept;

} // namespace nanorun::detail::socket_ops

#include <string>
#include <vector>

namespace nanorun::detail::socket_ops {

// One address from name resolution, as the OS's sockaddr bytes.
struct resolved_address
{
  unsigned char bytes[128];
  std::size_t size;
};

// getaddrinfo: blocks. flags are Asio's resolver_base flags (the OS's AI_*
// values); errors are Asio's host_not_found, service_not_found, ...
std::vector<resolved_address> resolve(const std::string& host, const std::string& service, int family,
                                      int socktype, int protocol, int flags, error_code& ec);

} // namespace nanorun::detail::socket_ops
