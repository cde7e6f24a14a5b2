// The Ancillary Function Driver (AFD), Winsock's kernel half, asked
// directly for socket readiness: IOCTL_AFD_POLL on a handle to \Device\Afd.
//
// WHY AFD POLL. Windows' native I/O model is completion-based (overlapped
// WSARecv/WSASend hand the buffer to the kernel until the transfer is
// done); nanorun's reactor, like Asio's and like every other backend here,
// is readiness-based: an operation attempts its call when the socket may be
// ready and waits otherwise, with its buffers staying the caller's. The
// kernel offers readiness too, through the same ioctl select() and WSAPoll
// use internally: IOCTL_AFD_POLL, issued as an overlapped request on an AFD
// handle associated with an I/O completion port, completes (one packet) as
// soon as one of the asked events holds for the socket. mio (Rust) and
// wepoll (libuv, ZeroMQ) use it, for the same reason. It is undocumented
// but stable since Windows XP; Wine 8 implements it.
//
// THE RULES this file's users follow (see iocp_poller.cpp):
//  * one poll per socket at a time: a socket's pending poll is cancelled,
//    never doubled, when its interest grows;
//  * a poll's memory (the IO_STATUS_BLOCK and AFD_POLL_INFO, kept in one
//    afd_poll) belongs to the kernel from submit() until its completion
//    packet is dequeued, whatever happened to the socket meanwhile;
//  * a completion whose status is not a success (cancelled, or Wine's
//    STATUS_HANDLES_CLOSED when the AFD handle was closed) means only "this
//    poll is over": its events are not readiness.
//
// The structure layouts follow the ones published by mio (afd.rs) and
// wepoll; the values were checked under Wine 8.0 (doc/architecture.md).
#pragma once

#include <winsock2.h>
#include <windows.h>
#include <winternl.h>

#include <cstdint>
#include <system_error>

namespace nanorun::sys::windows {

// AFD poll events (the AFD_POLL_* bits).
inline constexpr ULONG afd_receive = 0x0001;
inline constexpr ULONG afd_receive_expedited = 0x0002;
inline constexpr ULONG afd_send = 0x0004;
inline constexpr ULONG afd_disconnect = 0x0008;
inline constexpr ULONG afd_abort = 0x0010;
inline constexpr ULONG afd_local_close = 0x0020;
inline constexpr ULONG afd_accept = 0x0080;
inline constexpr ULONG afd_connect_fail = 0x0100;

struct afd_poll_handle_info
{
  HANDLE handle;
  ULONG events;
  NTSTATUS status;
};

struct afd_poll_info
{
  LARGE_INTEGER timeout;
  ULONG number_of_handles;
  ULONG exclusive;
  afd_poll_handle_info handles[1];
};

// One poll request: what the kernel writes while the poll is pending.
struct afd_poll
{
  IO_STATUS_BLOCK iosb;
  afd_poll_info info;
};

// NTSTATUS success test (NT_SUCCESS): 0..0x7FFFFFFF.
inline bool nt_success(NTSTATUS s) noexcept { return s >= 0; }

// The NTSTATUS of a failed socket operation as the Winsock error Asio's
// codes name (STATUS_CONNECTION_REFUSED is WSAECONNREFUSED, ...); other
// statuses as their Win32 error.
int winsock_error_of(NTSTATUS status) noexcept;

// An error_code (system category) for a failed NT call.
std::error_code nt_error(NTSTATUS status) noexcept;

// Opens \Device\Afd (for polling only) and associates it with `port` under
// `key`. Throws std::system_error.
HANDLE open_afd(HANDLE port, ULONG_PTR key);

// Submits poll p for `base` (a base socket, see base_socket()) and `events`.
// The completion packet carries &p->iosb as its OVERLAPPED pointer. Returns
// an error if the request was refused (then no packet comes).
std::error_code submit(HANDLE afd, afd_poll* p, SOCKET base, ULONG events) noexcept;

// Asks for p's cancellation; its completion packet still comes (with
// STATUS_CANCELLED, or its events if it completed first).
void cancel(HANDLE afd, afd_poll* p) noexcept;

// The socket the base service provider sees: layered providers (LSPs) hand
// out handles AFD does not know. Returns INVALID_SOCKET with ec set.
SOCKET base_socket(SOCKET s, std::error_code& ec) noexcept;

} // namespace nanorun::sys::windows
