// Which runtimes is the calling thread inside the run functions of?
//
// Each run*() call pushes a marker naming its scheduler onto a per-thread
// stack (nested runs push more), and pops it on return. Executors test it
// inline on every dispatch, so it is a constinit thread_local: no TLS wrapper
// call, just a load.
#pragma once

namespace nanorun::detail {

struct run_marker
{
  const void* owner = nullptr;        // the scheduler whose run() this is
  const run_marker* outer = nullptr;  // the enclosing run() on this thread
};

// Written only by the thread itself, on entry to and exit from run*().
extern constinit thread_local const run_marker* this_thread_run_marker;

inline bool running_in(const void* owner) noexcept
{
  for (const run_marker* m = this_thread_run_marker; m; m = m->outer)
    if (m->owner == owner)
      return true;
  return false;
}

} // namespace nanorun::detail
