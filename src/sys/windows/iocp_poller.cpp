// The IOCP + AFD poll backend. The protocol is described in iocp_poller.hpp;
// the AFD rules in afd.hpp.
#include "sys/windows/iocp_poller.hpp"

#include "sys/windows/afd.hpp"
#include "sys/thread_exit.hpp"
#include "sys/windows/winsock.hpp"

#include <algorithm>
#include <climits>

namespace nanorun::sys::windows {

// What the backend keeps per socket. `poll` must stay where it is while a
// poll is pending, so registrations are allocated one by one and never
// moved. Guarded by the poller's mutex.
struct registration
{
  afd_poll poll{};
  SOCKET base = INVALID_SOCKET;
  void* key = nullptr;
  std::uint32_t interest = 0; // armed directions (ready_read/write/error)
  ULONG polled = 0;           // the pending poll's AFD events
  bool pending = false;       // a poll is with the kernel
  bool cancelling = false;    // ... and its cancellation was asked for
  bool removed = false;       // forgotten by remove(): free on completion
};

namespace {

constexpr ULONG_PTR afd_key = 1;
constexpr ULONG_PTR wake_key = 2;

registration* from_iosb(LPOVERLAPPED o) noexcept
{
  // The packet's OVERLAPPED pointer is the poll's IO_STATUS_BLOCK, the first
  // member of the first member of registration.
  static_assert(offsetof(registration, poll) == 0 && offsetof(afd_poll, iosb) == 0);
  return reinterpret_cast<registration*>(o);
}

// Failures (a reset, a failed connect, the socket closed under us) are
// always asked for, as epoll always reports EPOLLERR and EPOLLHUP.
constexpr ULONG afd_failures = afd_abort | afd_connect_fail | afd_local_close;

ULONG afd_events_for(std::uint32_t interest) noexcept
{
  ULONG e = 0;
  if (interest & ready_read)
    e |= afd_receive | afd_accept | afd_disconnect;
  if (interest & ready_write)
    e |= afd_send;
  if (interest & ready_error)
    e |= afd_receive_expedited;
  return e ? (e | afd_failures) : 0;
}

std::uint32_t readiness_of(ULONG e) noexcept
{
  std::uint32_t r = 0;
  if (e & (afd_receive | afd_accept))
    r |= ready_read;
  if (e & afd_disconnect)
    r |= ready_read | ready_final; // the peer's FIN: end of file from now on
  if (e & afd_send)
    r |= ready_write;
  if (e & afd_receive_expedited)
    r |= ready_error;
  // A reset, a failed connect or a local close wakes every direction for
  // good: each waiting operation retries its call and gets the error.
  if (e & afd_failures)
    r |= ready_directions | ready_final;
  return r;
}

// This thread's waitable timer, for timed waits (see TIMED WAITS): a
// high-resolution one where the system has them. Created on the thread's
// first timed wait, closed when the thread exits (sys::at_thread_exit).
class thread_timer
{
public:
  // Arms the timer to end this thread's next alertable wait after
  // timeout_ns. False if there is no timer.
  static bool arm(std::int64_t timeout_ns) noexcept
  {
    HANDLE h = get();
    if (!h)
      return false;
    LARGE_INTEGER due;
    due.QuadPart = -((timeout_ns + 99) / 100); // relative, in 100 ns units
    return ::SetWaitableTimer(h, &due, 0, &expired, nullptr, FALSE) != 0;
  }
  static void disarm() noexcept { ::CancelWaitableTimer(handle_); }

private:
  // The APC's only job is to be delivered: that ends the alertable wait.
  static void CALLBACK expired(LPVOID, DWORD, DWORD) noexcept {}
  static void close(void* h) noexcept
  {
    ::CloseHandle(static_cast<HANDLE>(h));
    handle_ = nullptr;
  }

  static HANDLE get() noexcept
  {
    if (handle_ || failed_)
      return handle_;
    constexpr DWORD high_resolution = 0x00000002; // CREATE_WAITABLE_TIMER_HIGH_RESOLUTION
    HANDLE h = ::CreateWaitableTimerExW(nullptr, nullptr, high_resolution, TIMER_ALL_ACCESS);
    if (!h)
      h = ::CreateWaitableTimerExW(nullptr, nullptr, 0, TIMER_ALL_ACCESS);
    try
    {
      if (h)
        sys::at_thread_exit(&close, h);
    }
    catch (...)
    {
      ::CloseHandle(h);
      h = nullptr;
    }
    failed_ = !h; // then timed waits use whole milliseconds
    handle_ = h;
    return h;
  }

  // Trivially destructible on purpose (see sys/thread_exit.hpp).
  static constinit thread_local HANDLE handle_;
  static constinit thread_local bool failed_;
};
constinit thread_local HANDLE thread_timer::handle_ = nullptr;
constinit thread_local bool thread_timer::failed_ = false;

} // namespace

} // namespace nanorun::sys::windows

namespace nanorun::sys {

using namespace windows;

iocp_poller::iocp_poller()
{
  ensure_winsock();
  port_ = ::CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 0);
  if (!port_)
    throw std::system_error(static_cast<int>(::GetLastError()), std::system_category(),
                            "nanorun: CreateIoCompletionPort");
  try
  {
    afd_ = open_afd(port_, afd_key);
  }
  catch (...)
  {
    ::CloseHandle(port_);
    throw;
  }
}

iocp_poller::~iocp_poller()
{
  // Every pending poll is cancelled and its packet awaited before the
  // registrations go: the kernel writes their IO_STATUS_BLOCKs until then.
  std::size_t pending = 0;
  for (auto& [s, r] : sockets_)
  {
    r->removed = true;
    if (r->pending)
    {
      cancel(afd_, &r->poll);
      ++pending;
    }
    else
      delete r;
  }
  sockets_.clear();
  pending += orphans_;
  for (int tries = 0; pending > 0 && tries < 100; ++tries)
  {
    OVERLAPPED_ENTRY entries[64];
    ULONG n = 0;
    if (!::GetQueuedCompletionStatusEx(port_, entries, 64, &n, 100, FALSE))
      continue;
    for (ULONG i = 0; i < n; ++i)
      if (entries[i].lpCompletionKey == afd_key)
      {
        delete from_iosb(entries[i].lpOverlapped);
        --pending;
      }
  }
  // Closing the AFD handle ends whatever is still pending (Wine says
  // STATUS_HANDLES_CLOSED); registrations still pending after 10 s are
  // leaked rather than freed under the kernel.
  ::CloseHandle(afd_);
  ::CloseHandle(port_);
}

std::error_code iocp_poller::add(native_handle s, void* key, std::uint32_t interest) noexcept
{
  std::error_code ec;
  const SOCKET base = base_socket(static_cast<SOCKET>(s), ec);
  if (ec)
    return ec;
  auto* r = new (std::nothrow) registration;
  if (!r)
    return std::make_error_code(std::errc::not_enough_memory);
  r->base = base;
  r->key = key;
  r->interest = interest & ready_directions;
  std::lock_guard lock(mutex_);
  if (!sockets_.emplace(s, r).second)
  {
    delete r;
    return std::make_error_code(std::errc::file_exists); // as epoll's EEXIST
  }
  if ((ec = arm(r)))
  {
    sockets_.erase(s);
    delete r;
  }
  return ec;
}

std::error_code iocp_poller::modify(native_handle s, void* key, std::uint32_t interest) noexcept
{
  std::lock_guard lock(mutex_);
  const auto it = sockets_.find(s);
  if (it == sockets_.end())
    return std::make_error_code(std::errc::no_such_file_or_directory); // as epoll's ENOENT
  registration* r = it->second;
  r->key = key;
  r->interest = interest & ready_directions;
  return arm(r);
}

void iocp_poller::remove(native_handle s) noexcept
{
  std::lock_guard lock(mutex_);
  const auto it = sockets_.find(s);
  if (it == sockets_.end())
    return;
  registration* r = it->second;
  sockets_.erase(it);
  if (!r->pending)
  {
    delete r;
    return;
  }
  // The deregistration protocol: the kernel owns r->poll until the packet.
  r->removed = true;
  ++orphans_;
  if (!r->cancelling)
  {
    r->cancelling = true;
    cancel(afd_, &r->poll);
  }
}

std::size_t iocp_poller::orphans() noexcept
{
  std::lock_guard lock(mutex_);
  return orphans_;
}

std::error_code iocp_poller::arm(registration* r) noexcept
{
  const ULONG want = afd_events_for(r->interest);
  if (r->pending)
  {
    // One poll per socket: a pending poll that misses an event now wanted
    // is cancelled, and complete() submits the new interest when its
    // cancellation arrives. One that asks for more than is wanted stays:
    // complete() reports only what is armed then.
    if ((want & ~r->polled) && !r->cancelling)
    {
      r->cancelling = true;
      cancel(afd_, &r->poll);
    }
    return {};
  }
  if (!want)
    return {};
  if (std::error_code ec = submit(afd_, &r->poll, r->base, want))
    return ec;
  r->pending = true;
  r->cancelling = false;
  r->polled = want;
  return {};
}

bool iocp_poller::complete(registration* r, ready_event& ev) noexcept
{
  constexpr NTSTATUS status_cancelled = static_cast<NTSTATUS>(0xC0000120);
  r->pending = false;
  r->cancelling = false;
  if (r->removed)
  {
    // The packet remove() waited for: the kernel is done with r.
    --orphans_;
    delete r;
    return false;
  }
  const NTSTATUS status = r->poll.iosb.Status;
  std::uint32_t reported = 0;
  int error = 0;
  if (nt_success(status))
  {
    if (r->poll.info.number_of_handles > 0)
    {
      const afd_poll_handle_info& h = r->poll.info.handles[0];
      const std::uint32_t ready = readiness_of(h.events);
      if (h.events & afd_failures)
        reported = ready; // every direction, for good
      else
        reported = ready & (r->interest | ready_final);
      if ((h.events & afd_connect_fail) && !nt_success(h.status))
        error = winsock_error_of(h.status);
      else if (h.events & afd_abort)
        error = WSAECONNRESET; // for an error wait: see socket_ops::wait_ready

    }
  }
  else if (status != status_cancelled)
  {
    // Not readiness, and no poll is possible any more (Wine completes polls
    // with STATUS_HANDLES_CLOSED when the AFD handle goes; a socket closed
    // behind the reactor's back fails its poll): let every waiting
    // operation try its call and meet the error itself, and don't re-arm.
    reported = r->interest;
    r->interest = 0;
  }
  // A poll cancelled by arm() to widen it only ends: resubmitted below.
  const std::uint32_t dirs = reported & ready_directions;
  r->interest &= ~dirs;
  if (r->interest)
  {
    if (arm(r))
    {
      // The socket can no longer be polled: as above.
      reported |= r->interest;
      r->interest = 0;
    }
  }
  if (!(reported & ready_directions))
    return false;
  ev = ready_event{r->key, reported, error};
  return true;
}

std::size_t iocp_poller::wait(ready_event* out, std::size_t capacity, std::int64_t timeout_ns)
{
  constexpr std::size_t batch = 128;
  OVERLAPPED_ENTRY entries[batch];
  const ULONG max = static_cast<ULONG>(std::min(capacity, batch));
  DWORD ms = INFINITE;
  bool alertable = false;
  if (timeout_ns == 0)
    ms = 0;
  else if (timeout_ns > 0)
  {
    if (thread_timer::arm(timeout_ns))
      alertable = true;
    else
    {
      const std::int64_t m = (timeout_ns + 999999) / 1000000;
      ms = m >= static_cast<std::int64_t>(INFINITE) ? INFINITE - 1 : static_cast<DWORD>(m);
    }
  }
  ULONG n = 0;
  const BOOL ok = ::GetQueuedCompletionStatusEx(port_, entries, max, &n, ms, alertable);
  if (alertable)
    thread_timer::disarm();
  if (!ok)
  {
    const DWORD e = ::GetLastError();
    // WAIT_TIMEOUT: the timeout; WAIT_IO_COMPLETION: the timer's APC.
    if (e == WAIT_TIMEOUT || e == WAIT_IO_COMPLETION)
      return 0;
    throw std::system_error(static_cast<int>(e), std::system_category(), "nanorun: GetQueuedCompletionStatusEx");
  }
  std::size_t k = 0;
  bool repost_wake = false;
  std::lock_guard lock(mutex_);
  for (ULONG i = 0; i < n; ++i)
  {
    if (entries[i].lpCompletionKey == wake_key)
    {
      if (timeout_ns == 0)
        repost_wake = true; // not ours: see WAKE-UPS
      else
        // Release: pairs with the exchange in wake(); a wake() that comes
        // after this posts a packet of its own.
        wake_posted_.store(false, std::memory_order_release);
      continue;
    }
    if (entries[i].lpCompletionKey != afd_key)
      continue;
    ready_event ev{};
    if (complete(from_iosb(entries[i].lpOverlapped), ev))
      out[k++] = ev;
  }
  if (repost_wake)
    ::PostQueuedCompletionStatus(port_, 0, wake_key, nullptr);
  return k;
}

void iocp_poller::wake() noexcept
{
  // AcqRel: pairs with the release store of the wait that took the last
  // packet. Only one packet is in flight at a time.
  if (!wake_posted_.exchange(true, std::memory_order_acq_rel))
    ::PostQueuedCompletionStatus(port_, 0, wake_key, nullptr);
}

} // namespace nanorun::sys
