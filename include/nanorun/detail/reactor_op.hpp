// An operation that waits for a descriptor to become ready: a socket read,
// write, accept, connect or wait. The reactor calls perform() when the
// descriptor may be ready; perform() makes one non-blocking attempt and says
// whether the operation is finished (its result stored in ec and bytes) or
// must wait for the next readiness event. Once finished, the op is queued on
// the runtime like any other operation.
#pragma once

#include <nanorun/detail/operation.hpp>

#include <boost/system/error_code.hpp>

#include <cstddef>

namespace nanorun::detail {

// Which of a descriptor's queues an operation waits in.
enum class io_dir : int
{
  read = 0,   // reads, receives, accepts, wait_read
  write = 1,  // writes, sends, connects, wait_write
  error = 2,  // wait_error
};
inline constexpr int io_dir_count = 3;

class reactor_op : public operation
{
public:
  // Returns true when the operation is finished.
  bool perform() { return perform_(this); }

  boost::system::error_code ec;
  std::size_t bytes = 0;
  // Set by a finished attempt that moved less than it asked for: the
  // direction is drained, so the next operation waits for an event instead
  // of trying a call that would only say EAGAIN (tokio does the same).
  bool drained = false;
  // The OS error the descriptor's last readiness event carried (0: none),
  // set by the reactor before each perform(). Only Windows' AFD poll carries
  // one, a failed connect's status; a connect's attempt takes it as its
  // outcome rather than ask the socket.
  int event_error = 0;
  // The cancellation handler's address while one is installed: per-operation
  // cancellation finds the op by this key, never by dereferencing a pointer
  // the handler kept (the op may already be gone).
  const void* cancel_key = nullptr;
  // Whether finishing at once (inside the initiating call) continues the code
  // that started it: the handler resumes the coroutine that is suspending on
  // this thread, or is the next step of a composed operation. Such a
  // completion is queued as a continuation (the worker's LIFO slot); any
  // other is a fork, stealable at once, as io_context would queue it.
  bool continuation = false;

protected:
  using perform_func = bool (*)(reactor_op*);
  reactor_op(func_type complete_fn, perform_func perform_fn) noexcept : operation(complete_fn), perform_(perform_fn) {}
  ~reactor_op() = default;

private:
  perform_func perform_;
};

} // namespace nanorun::detail
