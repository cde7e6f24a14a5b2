// sys::at_thread_exit on Windows: a fiber-local storage slot whose callback
// the system runs as each thread exits (see thread_exit.hpp for why not a
// thread_local destructor). The slot holds the thread's list, on the heap.
#include "sys/thread_exit.hpp"

#include <windows.h>

#include <system_error>
#include <utility>
#include <vector>

namespace nanorun::sys {

namespace {

using exit_list = std::vector<std::pair<void (*)(void*), void*>>;

void NTAPI run_exit_list(void* p) noexcept
{
  auto* list = static_cast<exit_list*>(p);
  if (!list)
    return;
  while (!list->empty())
  {
    const auto [fn, arg] = list->back();
    list->pop_back();
    fn(arg);
  }
  delete list;
}

DWORD exit_slot()
{
  static const DWORD slot = [] {
    const DWORD s = ::FlsAlloc(&run_exit_list);
    if (s == FLS_OUT_OF_INDEXES)
      throw std::system_error(static_cast<int>(::GetLastError()), std::system_category(), "nanorun: FlsAlloc");
    return s;
  }();
  return slot;
}

} // namespace

void at_thread_exit(void (*fn)(void*), void* arg)
{
  const DWORD slot = exit_slot();
  auto* list = static_cast<exit_list*>(::FlsGetValue(slot));
  if (!list)
  {
    list = new exit_list;
    if (!::FlsSetValue(slot, list))
    {
      delete list;
      throw std::system_error(static_cast<int>(::GetLastError()), std::system_category(), "nanorun: FlsSetValue");
    }
  }
  list->emplace_back(fn, arg);
}

} // namespace nanorun::sys
