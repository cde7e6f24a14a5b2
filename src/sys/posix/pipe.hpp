// A pipe whose ends are non-blocking and close-on-exec, for the poll
// backend's wake-ups and the signal pipe.
#pragma once

#include <cerrno>

#include <fcntl.h>
#include <unistd.h>

// pipe2 sets the flags atomically, so a fork+exec in another thread cannot
// inherit the pipe. Every system that has it is listed; the rest use fcntl.
#if defined(__linux__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__) || \
    defined(__DragonFly__)
#define NANORUN_HAVE_PIPE2 1
#endif

namespace nanorun::sys {

// 0 on success; -1 with errno set (and nothing left open) on failure.
inline int open_nonblocking_pipe(int fds[2]) noexcept
{
#if defined(NANORUN_HAVE_PIPE2)
  return ::pipe2(fds, O_CLOEXEC | O_NONBLOCK);
#else
  if (::pipe(fds) < 0)
    return -1;
  for (int i = 0; i < 2; ++i)
  {
    const int fl = ::fcntl(fds[i], F_GETFL, 0);
    if (fl < 0 || ::fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) < 0 || ::fcntl(fds[i], F_SETFD, FD_CLOEXEC) < 0)
    {
      const int e = errno;
      ::close(fds[0]);
      ::close(fds[1]);
      errno = e;
      return -1;
    }
  }
  return 0;
#endif
}

} // namespace nanorun::sys
