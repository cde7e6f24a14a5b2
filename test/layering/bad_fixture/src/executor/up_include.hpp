// Allowed: own layer, layers to the right, sys, public headers.
#include "executor/local_queue.hpp"
#include "task/task.hpp"
#include "sys/linux/epoll.hpp"
#include "neighbour.hpp"
#include <nanorun/runtime.hpp>
#include <vector>
// Violation: the executor layer includes the runtime layer above it.
#include "runtime/runtime_internals.hpp"
