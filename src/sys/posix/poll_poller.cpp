#include "sys/posix/poll_poller.hpp"
#include "sys/fault.hpp"
#include "sys/posix/pipe.hpp"

#include <cerrno>
#include <chrono>
#include <climits>
#include <new>
#include <poll.h>
#include <unistd.h>
#include <vector>

namespace nanorun::sys {

namespace {

using clock = std::chrono::steady_clock;

std::error_code last_error() noexcept { return {errno, std::system_category()}; }


short to_poll(std::uint32_t interest) noexcept
{
  return static_cast<short>(((interest & ready_read) ? POLLIN : 0) | ((interest & ready_write) ? POLLOUT : 0) |
                            ((interest & ready_error) ? POLLPRI : 0));
}

constexpr short failure = POLLERR | POLLHUP | POLLNVAL;

std::uint32_t from_poll(short e) noexcept
{
  if (e & failure)
    return ready_error | ready_read | ready_write;
  return ((e & POLLIN) ? ready_read : 0u) | ((e & POLLOUT) ? ready_write : 0u) | ((e & POLLPRI) ? ready_error : 0u);
}

// Whole milliseconds left, rounded up so that a timeout never ends early.
int timeout_ms(std::int64_t timeout_ns, clock::time_point deadline) noexcept
{
  if (timeout_ns <= 0)
    return timeout_ns == 0 ? 0 : -1;
  const std::int64_t left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - clock::now()).count();
  if (left <= 0)
    return 0;
  const std::int64_t ms = (left + 999999) / 1000000;
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

} // namespace

poll_poller::poll_poller()
{
  if (open_nonblocking_pipe(pipe_) < 0)
    throw std::system_error(last_error(), "nanorun: pipe");
}

void poll_poller::fork_child()
{
  int fresh[2];
  if (open_nonblocking_pipe(fresh) < 0)
    throw std::system_error(last_error(), "nanorun: pipe");
  std::lock_guard lock(mutex_);
  ::close(pipe_[0]);
  ::close(pipe_[1]);
  pipe_[0] = fresh[0];
  pipe_[1] = fresh[1];
  // Only the forking thread lives on in the child, and it is not polling.
  // The registry goes too: the reactor adds its descriptors again.
  polling_ = polling_current_ = blocking_ = 0;
  wake_pending_ = false;
  registry_.clear();
}

poll_poller::~poll_poller()
{
  ::close(pipe_[0]);
  ::close(pipe_[1]);
}

bool poll_poller::changed() noexcept
{
  ++version_;
  polling_current_ = 0;
  return polling_ != 0;
}

void poll_poller::signal() noexcept
{
  const char byte = 0;
  // EAGAIN means the pipe is full, so it is readable anyway; EINTR (which the
  // fault build injects) means nothing was written: write again.
  for (;;)
  {
    const ssize_t r = NANORUN_SYSCALL(wake, ::write(pipe_[1], &byte, 1));
    if (r >= 0 || errno != EINTR)
      return;
  }
}

void poll_poller::drain() noexcept
{
  char buf[256];
  for (;;)
  {
    const ssize_t r = ::read(pipe_[0], buf, sizeof buf);
    if (r == static_cast<ssize_t>(sizeof buf) || (r < 0 && errno == EINTR))
      continue;
    return; // empty (EAGAIN) or a short read: nothing left
  }
}

std::error_code poll_poller::add(int fd, void* key, std::uint32_t interest) noexcept
{
  interest &= ~ready_oneshot; // every interest is one-shot here
  if (fd < 0)
    return std::make_error_code(std::errc::bad_file_descriptor);
  bool tell = false;
  {
    std::lock_guard lock(mutex_);
    try
    {
      if (!registry_.try_emplace(fd, entry{key, interest, ++next_epoch_}).second)
        return std::make_error_code(std::errc::file_exists); // as epoll_ctl
    }
    catch (const std::bad_alloc&)
    {
      return std::make_error_code(std::errc::not_enough_memory);
    }
    if (interest)
      tell = changed();
  }
  if (tell)
    signal();
  return {};
}

std::error_code poll_poller::modify(int fd, void* key, std::uint32_t interest) noexcept
{
  interest &= ~ready_oneshot; // every interest is one-shot here
  bool tell = false;
  {
    std::lock_guard lock(mutex_);
    const auto it = registry_.find(fd);
    if (it == registry_.end())
      return std::make_error_code(std::errc::no_such_file_or_directory); // as epoll_ctl
    // Only added directions matter to a stale snapshot: one that still
    // watches a dropped direction is filtered when it collects.
    const std::uint32_t added = interest & ~it->second.interest;
    it->second.key = key;
    it->second.interest = interest;
    if (added)
      tell = changed();
  }
  if (tell)
    signal();
  return {};
}

void poll_poller::remove(int fd) noexcept
{
  bool tell = false;
  {
    std::lock_guard lock(mutex_);
    // Told even if nothing is armed: a snapshot may still hold the fd, and a
    // sleeping poll would keep the file open after the caller closes it.
    if (registry_.erase(fd) != 0)
      tell = changed();
  }
  if (tell)
    signal();
}

std::size_t poll_poller::wait(ready_event* out, std::size_t capacity, std::int64_t timeout_ns)
{
  clock::time_point deadline{};
  if (timeout_ns > 0)
  {
    const auto now = clock::now();
    const auto room = clock::time_point::max() - now;
    const std::chrono::nanoseconds t(timeout_ns);
    deadline = t < room ? now + std::chrono::duration_cast<clock::duration>(t) : clock::time_point::max();
  }
  // Per thread, because several threads may wait at once.
  thread_local std::vector<pollfd> fds;
  thread_local std::vector<std::uint64_t> epochs;
  for (;;)
  {
    std::uint64_t version;
    {
      std::lock_guard lock(mutex_);
      // Only a wait that could block takes the wake-up: a busy worker's
      // look (timeout 0) leaves it for the driver, which may be about to
      // block (with it taken here, the driver slept through a stop and
      // run() never returned).
      if (wake_pending_ && timeout_ns != 0)
      {
        wake_pending_ = false;
        return 0;
      }
      fds.clear();
      epochs.clear();
      fds.push_back(pollfd{pipe_[0], POLLIN, 0});
      epochs.push_back(0);
      for (const auto& [fd, e] : registry_)
        if (e.interest)
        {
          fds.push_back(pollfd{fd, to_poll(e.interest), 0});
          epochs.push_back(e.epoch);
        }
      version = version_;
      ++polling_;
      ++polling_current_;
      if (timeout_ns != 0)
        ++blocking_;
    }
    const int n = ::poll(fds.data(), static_cast<nfds_t>(fds.size()), timeout_ms(timeout_ns, deadline));
    const std::error_code ec = n < 0 ? last_error() : std::error_code{};
    std::size_t k = 0;
    bool woken;
    {
      std::lock_guard lock(mutex_);
      --polling_;
      if (version == version_)
        --polling_current_;
      if (timeout_ns != 0)
        --blocking_;
      woken = version < wake_version_;
      // Likewise, only a wait that could block drains the pipe: the byte
      // written for a driver that has not reached poll() yet stays for it.
      if (n > 0 && fds[0].revents && timeout_ns != 0)
      {
        drain();
        if (polling_ != polling_current_)
          signal(); // the byte we drained was for them too
      }
      for (std::size_t i = 1; n > 0 && i < fds.size() && k < capacity; ++i)
      {
        if (!fds[i].revents)
          continue;
        const auto it = registry_.find(fds[i].fd);
        if (it == registry_.end() || it->second.epoch != epochs[i])
          continue; // removed (and maybe re-added) since the snapshot
        entry& e = it->second;
        // Only what is still armed: another waiter may have reported it. A
        // failure goes whole to every queue, and disarms everything.
        std::uint32_t ready = from_poll(fds[i].revents);
        if (!(ready & e.interest))
          continue;
        if (!(fds[i].revents & failure))
          ready &= e.interest;
        e.interest &= ~ready;
        out[k++] = ready_event{e.key, ready, 0};
      }
    }
    if (n < 0)
    {
      if (ec.value() == EINTR)
        return 0; // a signal: the caller re-evaluates its deadline anyway
      throw std::system_error(ec, "nanorun: poll");
    }
    if (k != 0 || woken || timeout_ns == 0 || (timeout_ns > 0 && clock::now() >= deadline))
      return k;
    // Woken by a registry change, or by readiness another waiter took: poll
    // a fresh snapshot for the time that is left.
  }
}

void poll_poller::wake() noexcept
{
  bool tell;
  {
    std::lock_guard lock(mutex_);
    // With no blocking wait polling, the flag is enough: the next blocking
    // wait() checks it under this mutex before it polls (and looks with a
    // zero timeout leave it). Otherwise every snapshot taken before this one
    // counts as woken, and staleness makes sure that each of their threads
    // gets a byte to wake on.
    changed();
    tell = blocking_ != 0;
    if (tell)
      wake_version_ = version_;
    else
      wake_pending_ = true;
  }
  if (tell)
    signal();
}

} // namespace nanorun::sys
