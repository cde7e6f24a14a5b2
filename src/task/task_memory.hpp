// The worker side of task memory (see task_memory.cpp): the executor gives
// each thread inside run() a home and lets it trim what it holds when it parks.
#pragma once

#include <cstddef>

namespace nanorun::detail {

// Gives the calling thread a home for the blocks it allocates, for the rest of
// its life (idempotent; freed at thread exit). Threads without one allocate
// from the heap and free to it.
void attach_task_memory();

// Frees what the calling thread holds beyond its keep limits, including the
// blocks other threads returned to it. Called by a worker about to park.
void trim_task_memory() noexcept;

// What the calling thread's home holds (for tests): free blocks in its own
// stacks, and whether other threads' returns are waiting.
struct task_memory_stats
{
  std::size_t local = 0;
  bool remote_pending = false;
  bool attached = false;
};
task_memory_stats this_thread_task_memory() noexcept;

} // namespace nanorun::detail
