// See futex_count.hpp.
#include "futex_count.hpp"

#if defined(__linux__)
#include <linux/perf_event.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#endif

namespace bench {

namespace {
int counter_fd = -1;
} // namespace

bool start_futex_counting() noexcept
{
#if defined(__linux__)
  if (counter_fd >= 0)
    return true;
  auto read_id = [] {
    unsigned long long id = 0;
    for (const char* path : {"/sys/kernel/tracing/events/syscalls/sys_enter_futex/id",
                             "/sys/kernel/debug/tracing/events/syscalls/sys_enter_futex/id"})
    {
      if (std::FILE* f = std::fopen(path, "r"))
      {
        const bool ok = std::fscanf(f, "%llu", &id) == 1;
        std::fclose(f);
        if (ok)
          break;
      }
    }
    return id;
  };
  unsigned long long id = read_id();
  if (id == 0)
  {
    // The tracepoint's id is published in tracefs, which a fresh machine
    // may not have mounted yet (perf mounts it on first use, which is why
    // the counts appeared only after someone had run perf). Mount it at its
    // usual place, as perf does; this needs root, and fails harmlessly
    // otherwise. Only where nothing is mounted there yet: on a kernel whose
    // tracefs lacks the syscall events, mounting again would only stack one
    // more tracefs on every run.
    if (::access("/sys/kernel/tracing/events", F_OK) != 0)
    {
      ::mount("nodev", "/sys/kernel/tracing", "tracefs", 0, nullptr);
      id = read_id();
    }
  }
  if (id == 0)
    return false;
  perf_event_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.type = PERF_TYPE_TRACEPOINT;
  attr.size = sizeof attr;
  attr.config = id;
  attr.inherit = 1; // threads created later count too, added here when they exit
  const long fd = ::syscall(SYS_perf_event_open, &attr, 0 /* this process */, -1 /* any cpu */, -1, 0);
  if (fd < 0)
    return false;
  counter_fd = static_cast<int>(fd);
  return true;
#else
  return false;
#endif
}

bool restart_futex_counting_after_fork() noexcept
{
#if defined(__linux__)
  if (counter_fd < 0)
    return false; // the parent did not count: neither does the child
  ::close(counter_fd);
  counter_fd = -1;
  return start_futex_counting();
#else
  return false;
#endif
}

std::optional<std::uint64_t> futex_calls() noexcept
{
#if defined(__linux__)
  if (counter_fd < 0)
    return std::nullopt;
  std::uint64_t n = 0;
  if (::read(counter_fd, &n, sizeof n) != static_cast<ssize_t>(sizeof n))
    return std::nullopt;
  return n;
#else
  return std::nullopt;
#endif
}

} // namespace bench
