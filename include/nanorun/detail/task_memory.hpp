// Memory for spawned tasks: one block per task, returned to the worker that
// allocated it (src/task/task_memory.cpp explains the protocol).
#pragma once

#include <cstddef>

namespace nanorun::detail {

// A block of at least n bytes, aligned for any scalar type. From the calling
// worker's own free blocks when it has one, else from the heap.
void* allocate_task_memory(std::size_t n);

// Any thread. A block another worker allocated goes back to that worker.
void deallocate_task_memory(void* p) noexcept;

} // namespace nanorun::detail
