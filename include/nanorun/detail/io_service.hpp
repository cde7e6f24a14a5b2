// The compiled half of every nanorun I/O object: registering a descriptor with
// its runtime's reactor, starting and cancelling operations on it. Defined in
// src/runtime/io_service.cpp.
//
// Work accounting: io_start() counts the operation as outstanding work of the
// runtime before it can complete, and every finished operation (speculative,
// by readiness, cancelled or aborted by close) is queued on the runtime with
// that unit of work. An operation never completes inside io_start().
#pragma once

#include <nanorun/detail/native_handle.hpp>
#include <nanorun/detail/reactor_op.hpp>

#include <boost/system/error_code.hpp>

namespace nanorun {
class runtime;
} // namespace nanorun

namespace nanorun::detail {

struct descriptor_state;

// Watches fd with rt's reactor. Null (and ec set) on failure.
descriptor_state* io_register(runtime& rt, native_handle fd, boost::system::error_code& ec);
// Stops watching; waiting operations complete with operation_aborted. Does not
// close the descriptor.
void io_deregister(runtime& rt, descriptor_state* s) noexcept;
// Tries op at once if s may be ready in dir (speculative I/O), else queues it.
void io_start(runtime& rt, descriptor_state* s, io_dir dir, reactor_op* op);
// Completes every waiting operation of s with operation_aborted.
void io_cancel(runtime& rt, descriptor_state* s) noexcept;
// Completes the waiting operation of s whose cancel_key is key, if any.
void io_cancel_key(runtime& rt, descriptor_state* s, const void* key) noexcept;
// The name of rt's reactor backend ("epoll", "poll").
const char* io_backend_name(runtime& rt) noexcept;

} // namespace nanorun::detail

namespace nanorun::detail {
// Queues op (its result already set) as a completion: for operations that end
// before they wait (a closed socket, a connect that failed at once). Counts
// the work like io_start.
void io_complete_now(runtime& rt, reactor_op* op);
// Runs job->complete() on the runtime's blocking thread (started on first
// use), off the workers: name resolution. The job is counted as work; it
// queues its own completion with io_requeue(). Jobs still waiting when the
// runtime is destroyed are destroyed without running.
void io_run_blocking(runtime& rt, operation* job);
// Queues op, whose work was counted by io_run_blocking, on the runtime.
void io_requeue(runtime& rt, operation* op);
} // namespace nanorun::detail
