// POSIX signals (contract: sys/signals.hpp): sigaction() and the process-wide
// self-pipe that carries signal numbers from the handler to the reactors.
#include "sys/signals.hpp"
#include "sys/posix/pipe.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <signal.h>
#include <unistd.h>

namespace nanorun::sys {

namespace {

// The handler reads the write end from any thread, at any instruction of the
// interrupted code: only a lock-free atomic may be touched there.
static_assert(std::atomic<int>::is_always_lock_free);
std::atomic<int> write_end{-1};
int read_end = -1; // guarded by the caller (the registry mutex)

extern "C" void nanorun_signal_handler(int signo)
{
  // write(2) is async-signal-safe; errno is the interrupted code's. Acquire:
  // pairs with the release store that published the descriptor before the
  // handler was installed (or the pipe renewed).
  const int saved = errno;
  const int fd = write_end.load(std::memory_order_acquire);
  if (fd != -1)
  {
    // A full pipe (64 KiB of unread numbers) drops the signal, as Asio's does.
    [[maybe_unused]] const auto n = ::write(fd, &signo, sizeof signo);
  }
  errno = saved;
}

std::error_code last_error() noexcept { return {errno, std::system_category()}; }

void open_pipe(int fds[2])
{
  if (open_nonblocking_pipe(fds) < 0)
    throw std::system_error(last_error(), "nanorun: signal pipe");
}

int os_flags(int flags) noexcept
{
  int f = 0;
  if (flags < 0)
    return 0;
  if (flags & signal_flag_restart)
    f |= SA_RESTART;
  if (flags & signal_flag_no_child_stop)
    f |= SA_NOCLDSTOP;
  if (flags & signal_flag_no_child_wait)
    f |= SA_NOCLDWAIT;
  return f;
}

} // namespace

int signal_limit() noexcept { return NSIG; }

bool signal_flags_supported() noexcept { return true; }

std::error_code signal_catch(int signo, int flags) noexcept
{
  struct sigaction sa = {};
  sa.sa_handler = &nanorun_signal_handler;
  // Every signal blocked while the handler runs, as Asio's: two handlers never
  // interleave their writes on one thread.
  sigfillset(&sa.sa_mask);
  sa.sa_flags = os_flags(flags);
  if (::sigaction(signo, &sa, nullptr) == -1)
    return last_error();
  return {};
}

std::error_code signal_default(int signo) noexcept
{
  struct sigaction sa = {};
  sa.sa_handler = SIG_DFL;
  if (::sigaction(signo, &sa, nullptr) == -1)
    return last_error();
  return {};
}

native_handle signal_pipe_open()
{
  if (read_end != -1)
    return read_end;
  int fds[2];
  open_pipe(fds);
  read_end = fds[0];
  // Release: pairs with the handler's acquire load.
  write_end.store(fds[1], std::memory_order_release);
  return read_end;
}

native_handle signal_pipe_renew()
{
  if (read_end == -1)
    return signal_pipe_open();
  int fds[2];
  open_pipe(fds);
  const int old_write = write_end.exchange(fds[1], std::memory_order_acq_rel);
  // No other thread exists in a forked child: nothing is about to write the
  // old descriptor.
  ::close(read_end);
  ::close(old_write);
  read_end = fds[0];
  return read_end;
}

std::size_t signal_pipe_read(native_handle fd, int* out, std::size_t n) noexcept
{
  for (;;)
  {
    const auto got = ::read(fd, out, n * sizeof(int));
    if (got > 0)
      // Every write is one int, atomic (far below PIPE_BUF), and every reader
      // takes whole ints, so the pipe never holds part of a number.
      return static_cast<std::size_t>(got) / sizeof(int);
    if (got < 0 && errno == EINTR)
      continue;
    return 0;
  }
}

void signal_set_sink(void (*)(int)) noexcept {}

} // namespace nanorun::sys
