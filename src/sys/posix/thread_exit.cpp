// sys::at_thread_exit on POSIX systems: a thread_local list whose destructor
// runs the callbacks (native TLS: the list outlives its destructor's run).
#include "sys/thread_exit.hpp"

#include <utility>
#include <vector>

namespace nanorun::sys {

namespace {
struct exit_list
{
  std::vector<std::pair<void (*)(void*), void*>> calls;
  ~exit_list()
  {
    while (!calls.empty())
    {
      const auto [fn, arg] = calls.back();
      calls.pop_back();
      fn(arg);
    }
  }
};
} // namespace

void at_thread_exit(void (*fn)(void*), void* arg)
{
  thread_local exit_list list;
  list.calls.emplace_back(fn, arg);
}

} // namespace nanorun::sys
