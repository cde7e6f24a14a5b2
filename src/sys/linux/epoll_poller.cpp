#include "sys/linux/epoll_poller.hpp"
#include "sys/fault.hpp"

#include <cerrno>
#include <climits>
#include <ctime>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace nanorun::sys {

namespace {

std::error_code last_error() noexcept { return {errno, std::system_category()}; }

std::uint32_t to_epoll(std::uint32_t interest) noexcept
{
  std::uint32_t e = (interest & ready_oneshot) ? EPOLLONESHOT : EPOLLET;
  if (interest & ready_read)
    e |= EPOLLIN | EPOLLPRI | EPOLLRDHUP;
  if (interest & ready_write)
    e |= EPOLLOUT;
  return e;
}

std::uint32_t from_epoll(std::uint32_t e) noexcept
{
  std::uint32_t r = 0;
  if (e & EPOLLIN)
    r |= ready_read;
  if (e & EPOLLRDHUP)
    r |= ready_read | ready_final; // the peer's FIN: reads end-of-file from now on
  if (e & EPOLLOUT)
    r |= ready_write;
  if (e & EPOLLPRI)
    r |= ready_error;
  // A pending error wakes every direction so that each waiting operation
  // collects it, but only a hang-up is final. An error alone can pass: a UDP
  // socket's ICMP "port unreachable" is reported once, returned by the next
  // receive, and the socket works on; marked final, every direction would
  // stay "ready" for the socket's life.
  if (e & EPOLLERR)
    r |= ready_directions;
  if (e & EPOLLHUP)
    r |= ready_directions | ready_final;
  return r;
}

} // namespace

epoll_poller::epoll_poller()
{
  open();
}

void epoll_poller::fork_child()
{
  // The child shares the parent's epoll instance and eventfd through the
  // inherited descriptors: registering or waiting on them would steal the
  // parent's events. Make the child its own (the reactor re-adds its
  // descriptors), as Asio's epoll_reactor does.
  ::close(event_fd_);
  ::close(epoll_fd_);
  epoll_fd_ = event_fd_ = -1;
  open();
}

void epoll_poller::open()
{
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0)
    throw std::system_error(last_error(), "nanorun: epoll_create1");
  event_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (event_fd_ < 0)
  {
    const std::error_code ec = last_error();
    ::close(epoll_fd_);
    throw std::system_error(ec, "nanorun: eventfd");
  }
  // The wake-up is level-triggered and only a blocking wait reads it. With an
  // edge, a busy worker's wait(0) could consume the edge meant for the worker
  // blocked in the reactor, which would then sleep through its wake-up.
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr; // the wake-up; never a descriptor's key
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, event_fd_, &ev) < 0)
  {
    const std::error_code ec = last_error();
    ::close(event_fd_);
    ::close(epoll_fd_);
    throw std::system_error(ec, "nanorun: epoll_ctl(eventfd)");
  }
}

epoll_poller::~epoll_poller()
{
  ::close(event_fd_);
  ::close(epoll_fd_);
}

std::error_code epoll_poller::add(int fd, void* key, std::uint32_t interest) noexcept
{
  epoll_event ev{};
  ev.events = to_epoll(interest);
  ev.data.ptr = key;
  if (NANORUN_SYSCALL(poll_ctl, ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev)) < 0)
    return last_error();
  return {};
}

std::error_code epoll_poller::modify(int fd, void* key, std::uint32_t interest) noexcept
{
  epoll_event ev{};
  ev.events = to_epoll(interest);
  ev.data.ptr = key;
  if (NANORUN_SYSCALL(poll_ctl, ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev)) < 0)
    return last_error();
  return {};
}

void epoll_poller::remove(int fd) noexcept
{
  // Kernels before 2.6.9 insisted on a non-null event here.
  epoll_event ev{};
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, &ev);
}

std::size_t epoll_poller::wait(ready_event* out, std::size_t capacity, std::int64_t timeout_ns)
{
  constexpr std::size_t batch = 128;
  epoll_event events[batch];
  const int max = static_cast<int>(capacity < batch ? capacity : batch);
  int n;
  for (;;)
  {
    if (timeout_ns > 0 && have_pwait2_)
    {
      // Nanosecond timeouts: epoll_wait would round up to a whole millisecond.
      timespec ts{static_cast<time_t>(timeout_ns / 1000000000), static_cast<long>(timeout_ns % 1000000000)};
      n = ::epoll_pwait2(epoll_fd_, events, max, &ts, nullptr);
      if (n < 0 && errno == ENOSYS)
      {
        have_pwait2_ = false;
        continue;
      }
    }
    else
    {
      int ms = -1;
      if (timeout_ns == 0)
        ms = 0;
      else if (timeout_ns > 0)
      {
        const std::int64_t m = (timeout_ns + 999999) / 1000000;
        ms = m > INT_MAX ? INT_MAX : static_cast<int>(m);
      }
      n = ::epoll_wait(epoll_fd_, events, max, ms);
    }
    if (n >= 0)
      break;
    if (errno != EINTR)
      throw std::system_error(last_error(), "nanorun: epoll_wait");
    return 0; // a signal: the caller re-evaluates its deadline anyway
  }
  std::size_t k = 0;
  for (int i = 0; i < n; ++i)
  {
    if (events[i].data.ptr == nullptr)
    {
      // Only the waiter that could have slept consumes the wake-up; a
      // non-blocking look leaves it set for the one blocked (or about to
      // block) in the reactor.
      if (timeout_ns != 0)
      {
        std::uint64_t count;
        [[maybe_unused]] const ssize_t r = ::read(event_fd_, &count, sizeof count);
      }
      continue;
    }
    out[k++] = ready_event{events[i].data.ptr, from_epoll(events[i].events), 0};
  }
  return k;
}

void epoll_poller::wake() noexcept
{
  const std::uint64_t one = 1;
  // EAGAIN only if the counter is at its maximum, when a wake-up is pending
  // anyway. EINTR cannot happen on a non-blocking eventfd, but a wake-up is
  // never dropped for it (the fault build injects it): write again.
  for (;;)
  {
    const ssize_t r = NANORUN_SYSCALL(wake, ::write(event_fd_, &one, sizeof one));
    if (r >= 0 || errno != EINTR)
      return;
  }
}

} // namespace nanorun::sys
