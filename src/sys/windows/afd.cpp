// AFD poll requests through ntdll. See afd.hpp.
#include "sys/windows/afd.hpp"

#include <mswsock.h>

#include <string>

namespace nanorun::sys::windows {

namespace {

constexpr ULONG ioctl_afd_poll = 0x00012024;
constexpr NTSTATUS status_pending = 0x00000103;

using nt_create_file_t = NTSTATUS(NTAPI*)(PHANDLE, ACCESS_MASK, POBJECT_ATTRIBUTES, PIO_STATUS_BLOCK,
                                          PLARGE_INTEGER, ULONG, ULONG, ULONG, ULONG, PVOID, ULONG);
using nt_device_io_control_file_t = NTSTATUS(NTAPI*)(HANDLE, HANDLE, PVOID, PVOID, PIO_STATUS_BLOCK, ULONG, PVOID,
                                                     ULONG, PVOID, ULONG);
using nt_cancel_io_file_ex_t = NTSTATUS(NTAPI*)(HANDLE, PIO_STATUS_BLOCK, PIO_STATUS_BLOCK);
using rtl_nt_status_to_dos_error_t = ULONG(NTAPI*)(NTSTATUS);

// ntdll's entry points, looked up once: NtCancelIoFileEx and the AFD ioctl
// are not in mingw's import libraries, and ntdll is always loaded.
struct ntdll
{
  nt_create_file_t create_file;
  nt_device_io_control_file_t device_io_control_file;
  nt_cancel_io_file_ex_t cancel_io_file_ex;
  rtl_nt_status_to_dos_error_t status_to_dos_error;

  static const ntdll& get()
  {
    static const ntdll fns = [] {
      HMODULE m = ::GetModuleHandleW(L"ntdll.dll");
      if (!m)
        throw std::system_error(static_cast<int>(::GetLastError()), std::system_category(),
                                "nanorun: ntdll.dll not loaded");
      auto load = [m](const char* name) {
        FARPROC p = ::GetProcAddress(m, name);
        if (!p)
          throw std::system_error(static_cast<int>(::GetLastError()), std::system_category(),
                                  std::string("nanorun: ntdll has no ") + name);
        return p;
      };
      // Through void(*)(), the one function pointer type GCC lets any other
      // be cast from and to without -Wcast-function-type.
      using generic = void (*)();
      ntdll n{};
      n.create_file = reinterpret_cast<nt_create_file_t>(reinterpret_cast<generic>(load("NtCreateFile")));
      n.device_io_control_file =
          reinterpret_cast<nt_device_io_control_file_t>(reinterpret_cast<generic>(load("NtDeviceIoControlFile")));
      n.cancel_io_file_ex =
          reinterpret_cast<nt_cancel_io_file_ex_t>(reinterpret_cast<generic>(load("NtCancelIoFileEx")));
      n.status_to_dos_error =
          reinterpret_cast<rtl_nt_status_to_dos_error_t>(reinterpret_cast<generic>(load("RtlNtStatusToDosError")));
      return n;
    }();
    return fns;
  }
};

} // namespace

int winsock_error_of(NTSTATUS status) noexcept
{
  switch (static_cast<std::uint32_t>(status))
  {
  case 0xC0000236: // STATUS_CONNECTION_REFUSED
    return WSAECONNREFUSED;
  case 0xC00000B5: // STATUS_IO_TIMEOUT
    return WSAETIMEDOUT;
  case 0xC000023C: // STATUS_NETWORK_UNREACHABLE
    return WSAENETUNREACH;
  case 0xC000023D: // STATUS_HOST_UNREACHABLE
  case 0xC000023E: // STATUS_PROTOCOL_UNREACHABLE
    return WSAEHOSTUNREACH;
  case 0xC000023F: // STATUS_PORT_UNREACHABLE
    return WSAECONNREFUSED;
  case 0xC000020D: // STATUS_CONNECTION_RESET
    return WSAECONNRESET;
  case 0xC0000241: // STATUS_CONNECTION_ABORTED
  case 0xC000013B: // STATUS_LOCAL_DISCONNECT
    return WSAECONNABORTED;
  case 0xC000013C: // STATUS_REMOTE_DISCONNECT
    return WSAECONNRESET;
  case 0xC0000120: // STATUS_CANCELLED
    return WSA_OPERATION_ABORTED;
  default:
    return static_cast<int>(ntdll::get().status_to_dos_error(status));
  }
}

std::error_code nt_error(NTSTATUS status) noexcept
{
  return {static_cast<int>(ntdll::get().status_to_dos_error(status)), std::system_category()};
}

HANDLE open_afd(HANDLE port, ULONG_PTR key)
{
  const ntdll& nt = ntdll::get();
  // Any name under \Device\Afd opens a handle that can carry polls; the
  // suffix only shows up in handle listings.
  wchar_t name[] = L"\\Device\\Afd\\nanorun";
  UNICODE_STRING path{static_cast<USHORT>(sizeof name - sizeof(wchar_t)), static_cast<USHORT>(sizeof name), name};
  OBJECT_ATTRIBUTES attrs{};
  attrs.Length = sizeof attrs;
  attrs.ObjectName = &path;
  attrs.Attributes = 0;
  IO_STATUS_BLOCK iosb{};
  HANDLE afd = nullptr;
  const NTSTATUS st = nt.create_file(&afd, SYNCHRONIZE, &attrs, &iosb, nullptr, 0, FILE_SHARE_READ | FILE_SHARE_WRITE,
                                     FILE_OPEN, 0, nullptr, 0);
  if (!nt_success(st))
    throw std::system_error(nt_error(st), "nanorun: opening \\Device\\Afd");
  if (!::CreateIoCompletionPort(afd, port, key, 0))
  {
    const std::error_code ec(static_cast<int>(::GetLastError()), std::system_category());
    ::CloseHandle(afd);
    throw std::system_error(ec, "nanorun: associating \\Device\\Afd with the completion port");
  }
  // Nobody waits on the handle itself: don't signal it on each completion.
  ::SetFileCompletionNotificationModes(afd, FILE_SKIP_SET_EVENT_ON_HANDLE);
  return afd;
}

std::error_code submit(HANDLE afd, afd_poll* p, SOCKET base, ULONG events) noexcept
{
  p->info.timeout.QuadPart = INT64_MAX;
  p->info.number_of_handles = 1;
  p->info.exclusive = FALSE;
  p->info.handles[0].handle = reinterpret_cast<HANDLE>(base);
  p->info.handles[0].events = events;
  p->info.handles[0].status = 0;
  p->iosb.Status = status_pending;
  // The IO_STATUS_BLOCK doubles as the APC context, which is what a
  // completion port reports as the packet's OVERLAPPED pointer: each packet
  // points back at its own poll.
  const NTSTATUS st = ntdll::get().device_io_control_file(afd, nullptr, nullptr, &p->iosb, &p->iosb, ioctl_afd_poll,
                                                          &p->info, sizeof p->info, &p->info, sizeof p->info);
  // A poll that is satisfied at once (success) still queues its packet: the
  // handle is not in FILE_SKIP_COMPLETION_PORT_ON_SUCCESS mode.
  if (st == status_pending || nt_success(st))
    return {};
  return nt_error(st);
}

void cancel(HANDLE afd, afd_poll* p) noexcept
{
  IO_STATUS_BLOCK cancel_iosb{};
  // STATUS_NOT_FOUND if it has completed already: its packet is queued.
  ntdll::get().cancel_io_file_ex(afd, &p->iosb, &cancel_iosb);
}

SOCKET base_socket(SOCKET s, std::error_code& ec) noexcept
{
  SOCKET base = INVALID_SOCKET;
  DWORD bytes = 0;
  if (::WSAIoctl(s, SIO_BASE_HANDLE, nullptr, 0, &base, sizeof base, &bytes, nullptr, nullptr) == 0 &&
      base != INVALID_SOCKET)
  {
    ec.clear();
    return base;
  }
  // An LSP that hides the base handle may still answer the select() query
  // (as wepoll falls back).
  constexpr DWORD sio_bsp_handle_select = 0x4800001C;
  if (::WSAIoctl(s, sio_bsp_handle_select, nullptr, 0, &base, sizeof base, &bytes, nullptr, nullptr) == 0 &&
      base != INVALID_SOCKET && base != s)
  {
    ec.clear();
    return base;
  }
  ec.assign(::WSAGetLastError(), std::system_category());
  return INVALID_SOCKET;
}

} // namespace nanorun::sys::windows
