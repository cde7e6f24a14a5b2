// Non-blocking socket calls with OS-neutral signatures, for the I/O objects'
// templates. Defined in src/sys/posix/socket_ops.cpp (name resolution in
// resolve.cpp), the only places that make the calls. Every descriptor
// nanorun creates has close-on-exec and non-blocking set; sends never raise
// SIGPIPE. EINTR is retried inside. Errors are reported as Asio's codes:
// system_category errno values (which compare equal to
// boost::asio::error::connection_reset, broken_pipe, ...), would_block for
// EAGAIN, and boost::asio::error::eof for an orderly shutdown seen by a
// stream read.
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
// A connection reset before it was taken (ECONNABORTED, EPROTO) reads as
// would_block unless report_aborted (Asio's enable_connection_aborted).
int accept(int fd, void* addr, std::size_t* len, bool report_aborted, error_code& ec);
// Starts a connect. Returns true if it finished (ec says how), false if it is
// in progress. Linux's EAGAIN (no local port left) is no_buffer_space, as
// Asio reports it.
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
// FIONREAD and SIOCATMARK; ENOTTY (not a socket) is not_socket, as in Asio.
std::size_t available(int fd, error_code& ec);
bool at_mark(int fd, error_code& ec);
// ioctl(fd, cmd, arg), for io_control(); ENOTTY is not_socket.
void io_control(int fd, int cmd, void* arg, error_code& ec);
// The io_control command that sets the non-blocking mode (FIONBIO): the
// socket's own idea of its mode follows what such a command set.
int non_blocking_command() noexcept;
// Puts the descriptor in (or out of) non-blocking mode.
void set_non_blocking(int fd, bool on, error_code& ec);
// Whether the descriptor is in non-blocking mode (false if it cannot tell).
bool is_non_blocking(int fd) noexcept;
void local_address(int fd, void* addr, std::size_t* len, error_code& ec);
void peer_address(int fd, void* addr, std::size_t* len, error_code& ec);
void set_option(int fd, int level, int name, const void* value, std::size_t size, error_code& ec);
// On Linux the SO_RCVBUF/SO_SNDBUF read back is halved, as Asio does: the
// kernel doubles the value it is given (for its own bookkeeping), and halving
// makes get_option return what set_option set.
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
// values); errors are Asio's host_not_found, service_not_found, ... (mapped
// as Asio maps them). canonical_name is set when the OS returns one (the
// canonical_name flag).
std::vector<resolved_address> resolve(const std::string& host, const std::string& service, int family,
                                      int socktype, int protocol, int flags, std::string& canonical_name,
                                      error_code& ec);

// getnameinfo: blocks. The service is looked up by name (for socktype's
// protocol) first and given as a number if that fails, as Asio does.
void resolve_endpoint(const void* addr, std::size_t len, int socktype, std::string& host, std::string& service,
                      error_code& ec);

} // namespace nanorun::detail::socket_ops
