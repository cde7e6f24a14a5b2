// Non-blocking socket calls with OS-neutral signatures, for the I/O objects'
// templates. Defined in src/sys/posix/socket_ops.cpp (name resolution in
// resolve.cpp), or on Windows in src/sys/windows/socket_ops.cpp (Winsock),
// the only places that make the calls. Every descriptor
// nanorun creates has close-on-exec and non-blocking set; sends never raise
// SIGPIPE. EINTR is retried inside. Errors are reported as Asio's codes:
// system_category errno values (which compare equal to
// boost::asio::error::connection_reset, broken_pipe, ...), would_block for
// EAGAIN, and boost::asio::error::eof for an orderly shutdown seen by a
// stream read. On Windows the codes are Winsock's (WSAECONNRESET, ...), which
// is what Asio's error constants are there.
#pragma once

#include <nanorun/detail/native_handle.hpp>

#include <boost/system/error_code.hpp>

#include <cstddef>

namespace nanorun::detail::socket_ops {

using boost::system::error_code;

// Layout-compatible with struct iovec on POSIX (checked where it is used);
// copied into WSABUFs on Windows.
struct buf
{
  void* data;
  std::size_t size;
};
inline constexpr std::size_t max_bufs = 64;

native_handle open(int family, int type, int protocol, error_code& ec);
void close(native_handle fd, error_code& ec) noexcept;
void bind(native_handle fd, const void* addr, std::size_t len, error_code& ec);
void listen(native_handle fd, int backlog, error_code& ec);
// invalid_native_handle and would_block when nothing is pending. The new
// descriptor is non-blocking and close-on-exec (not inheritable). len: in, capacity of addr; out, its size.
// A connection reset before it was taken (ECONNABORTED, EPROTO) reads as
// would_block unless report_aborted (Asio's enable_connection_aborted).
native_handle accept(native_handle fd, void* addr, std::size_t* len, bool report_aborted, error_code& ec);
// Starts a connect. Returns true if it finished (ec says how), false if it is
// in progress. Linux's EAGAIN (no local port left) is no_buffer_space, as
// Asio reports it.
bool connect(native_handle fd, const void* addr, std::size_t len, error_code& ec);
// For an in-progress connect: false while still in progress, else true with
// the outcome in ec. event_error is the OS error a readiness event carried
// for the socket (Windows' AFD reports a failed connect's status with the
// event), or 0: it is the outcome if set; otherwise the socket is asked.
bool connect_finished(native_handle fd, int event_error, error_code& ec);
// Receive and send (POSIX: recv/send for one buffer, recvmsg/sendmsg for
// several). Return the byte count, or -1 with ec set (would_block included).
// `stream`: 0 bytes read into a non-empty buffer is eof.
std::ptrdiff_t recv(native_handle fd, const buf* b, std::size_t n, int flags, bool stream, error_code& ec);
std::ptrdiff_t send(native_handle fd, const buf* b, std::size_t n, int flags, error_code& ec);
std::ptrdiff_t recvfrom(native_handle fd, const buf* b, std::size_t n, int flags, void* addr, std::size_t* len,
                        error_code& ec);
std::ptrdiff_t sendto(native_handle fd, const buf* b, std::size_t n, int flags, const void* addr, std::size_t len,
                      error_code& ec);
void shutdown(native_handle fd, int what, error_code& ec);
// FIONREAD and SIOCATMARK; ENOTTY (not a socket) is not_socket, as in Asio.
std::size_t available(native_handle fd, error_code& ec);
bool at_mark(native_handle fd, error_code& ec);
// ioctl(fd, cmd, arg), for io_control(); ENOTTY is not_socket.
void io_control(native_handle fd, int cmd, void* arg, error_code& ec);
// The io_control command that sets the non-blocking mode (FIONBIO): the
// socket's own idea of its mode follows what such a command set.
int non_blocking_command() noexcept;
// Puts the descriptor in (or out of) non-blocking mode.
void set_non_blocking(native_handle fd, bool on, error_code& ec);
// Whether the descriptor is in non-blocking mode (false if it cannot tell).
bool is_non_blocking(native_handle fd) noexcept;
void local_address(native_handle fd, void* addr, std::size_t* len, error_code& ec);
void peer_address(native_handle fd, void* addr, std::size_t* len, error_code& ec);
void set_option(native_handle fd, int level, int name, const void* value, std::size_t size, error_code& ec);
// On Linux the SO_RCVBUF/SO_SNDBUF read back is halved, as Asio does: the
// kernel doubles the value it is given (for its own bookkeeping), and halving
// makes get_option return what set_option set.
void get_option(native_handle fd, int level, int name, void* value, std::size_t* size, error_code& ec);
// Blocks until fd is ready in the direction (0 read, 1 write, 2 error), or
// returns at once with timeout_ms 0. True if ready.
bool poll_ready(native_handle fd, int dir, int timeout_ms, error_code& ec);
// An asynchronous wait's attempt: poll_ready without blocking, given the
// error the readiness event carried (see wait_action).
bool wait_ready(native_handle fd, int dir, int event_error, error_code& ec);
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
