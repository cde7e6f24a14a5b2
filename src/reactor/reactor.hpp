// The reactor layer: readiness-based I/O.
//
// THE BACKEND CONTRACT (reactor_backend). A backend watches descriptors and
// reports readiness:
//   add(fd, key, interest)     start watching fd; events carry key
//   modify(fd, key, interest)  change what is watched
//   remove(fd)                 stop watching (before the descriptor is closed).
//                              From then on no event carries its key for
//                              this registration, but one already collected
//                              by a concurrent wait() may still be reported
//                              (the reactor ignores it, see below). The
//                              backend owns whatever it keeps per descriptor
//                              and frees it only when the OS is done with it
//                              (Windows: a pending AFD poll is cancelled and
//                              its memory freed on its completion packet).
//   wait(out, n, timeout_ns)   block until something is ready, the timeout
//                              passes (<0: none, 0: just look) or wake() is
//                              called; returns the events written to out
//   fork_child()               in a child after fork(): own kernel objects,
//                              nothing registered
//   wake()                     from any thread: make the blocking wait()
//                              that is in progress, or else the next one,
//                              return. Non-blocking waits (timeout 0) never
//                              consume a wake-up. Never lost, may be spurious.
// Descriptors are native_handles (int on POSIX, SOCKET on Windows), never
// compared with anything but invalid_native_handle. An event may carry the
// OS error it is about (ready_event::error, Windows' failed connects); the
// reactor hands it to the operations it then performs (reactor_op::
// event_error).
// A backend is either edge-triggered (epoll: each readiness transition is
// reported once, interest never needs re-arming) or one-shot (poll(2)
// fallback: a reported direction is disarmed and the caller re-arms it with
// modify() if it still has operations waiting; Windows' IOCP + AFD poll,
// whose polls complete once). wait() may run on several
// threads at once, and may report readiness that is already gone.
//
// THE REACTOR (io_reactor) keeps a descriptor_state per registered descriptor:
// three queues of waiting operations (read, write, error) and a cache of the
// directions that may be ready. All of it is guarded by the state's mutex, and
// so is every perform() of its operations:
//   * Starting an operation: if its queue is empty and the direction may be
//     ready, it is performed at once (speculative I/O). If it finishes, it is
//     handed back to the caller to post; it never completes inside the
//     initiating call. Otherwise it is queued and, because the attempt saw
//     EAGAIN, the direction's cache bit is cleared.
//   * An event sets the cache bits, then performs queued operations in order
//     until one has to wait.
//   * A finished attempt that moved less than it asked for (op->drained)
//     clears the cache bit too, so the next operation waits for an event
//     instead of making a call that would say EAGAIN. Not for a direction
//     that was reported with ready_final (end of file, hang-up, error): that
//     transition is reported once, and the next read must see it.
// Because both happen under the same mutex, an edge that arrives between a
// failed attempt and the queueing is processed after the op is queued: no
// readiness is lost. A stale event (for a descriptor that has been closed and
// whose state was reused) only causes one extra attempt that sees EAGAIN.
// That is why states are pooled and never freed while the reactor lives.
//
// EXTERNAL WATCHES. A layer above may ask the reactor to watch a descriptor
// of its own for readability (the runtime's bridge watches Asio's epoll
// descriptor this way, so that nanorun's workers drive Asio's reactor). When
// it is readable the reactor hands the watch's operation back with the
// finished ones, once: `queued` stays set until the owner has taken the
// operation, cleared the flag and called rearm_external(). The watch is
// one-shot on every backend, so re-arming it reports it again at once if the
// descriptor is still readable: no readiness falls between two runs. The operation is not outstanding work (the owner counts
// it when it runs), so a watch never keeps run() from returning. Events carry
// the watch's address with the low bit set, which no descriptor_state has.
//
// Who waits: the scheduler (src/executor/park.cpp) lets one parked worker at a
// time block in run(); busy workers call run(0) now and then. See the
// scheduler's PARKING and REACTOR sections.
#pragma once

#include "sys/readiness.hpp"

#include <nanorun/detail/operation.hpp>
#include <nanorun/detail/reactor_op.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <system_error>
#include <vector>

namespace nanorun::detail {

class reactor_backend
{
public:
  virtual ~reactor_backend() = default;
  virtual bool edge_triggered() const noexcept = 0;
  virtual std::error_code add(native_handle fd, void* key, std::uint32_t interest) noexcept = 0;
  virtual std::error_code modify(native_handle fd, void* key, std::uint32_t interest) noexcept = 0;
  virtual void remove(native_handle fd) noexcept = 0;
  virtual std::size_t wait(sys::ready_event* out, std::size_t capacity, std::int64_t timeout_ns) = 0;
  virtual void wake() noexcept = 0;
  // In the child after fork(): replaces every kernel object the backend
  // shares with the parent; registrations are forgotten (the reactor adds
  // its descriptors again). Throws std::system_error.
  virtual void fork_child() = 0;
  virtual const char* name() const noexcept = 0;
};

enum class reactor_kind
{
  native,   // epoll on Linux
  portable, // poll(2)
};

// The backend named by NANORUN_REACTOR ("epoll" or "poll"), else the native one.
reactor_kind default_reactor_kind();
std::unique_ptr<reactor_backend> make_reactor_backend(reactor_kind kind);

struct descriptor_state
{
  std::mutex mutex;
  native_handle fd = invalid_native_handle; // guarded by mutex
  op_queue ops[io_dir_count];               // guarded by mutex
  std::uint32_t may_be_ready = 0;           // guarded by mutex; sys::readiness bits
  std::uint32_t armed = 0;                  // guarded by mutex; one-shot backends only
  std::uint32_t stays_ready = 0;            // guarded by mutex; directions seen with ready_final
  int event_error = 0;                      // guarded by mutex; the last error an event carried
  descriptor_state* next_free = nullptr;    // guarded by io_reactor::pool_mutex_
  bool live = false;                        // guarded by io_reactor::pool_mutex_
};

// See EXTERNAL WATCHES above. The owner derives from it and gives the
// operation's function; it must outlive the watch.
struct external_watch : operation
{
  explicit external_watch(func_type f) noexcept : operation(f) {}
  // The reactor sets it (exchange, acq_rel) when it hands the operation
  // back; the owner clears it (store, release) once it has taken it.
  std::atomic<bool> queued{false};
  // Whether busy workers should poll for this watch now (it has work
  // pending); null means always. Called often: keep it a load or two.
  bool (*busy)(const external_watch*) noexcept = nullptr;
  native_handle fd = invalid_native_handle; // guarded by io_reactor::pool_mutex_
};

class io_reactor
{
public:
  explicit io_reactor(std::unique_ptr<reactor_backend> backend);
  ~io_reactor();
  io_reactor(const io_reactor&) = delete;
  io_reactor& operator=(const io_reactor&) = delete;

  const char* backend_name() const noexcept { return backend_->name(); }

  descriptor_state* register_descriptor(native_handle fd, std::error_code& ec);
  // Stops watching; every waiting operation is moved to `aborted` with
  // operation_aborted. The descriptor itself is not closed.
  void deregister_descriptor(descriptor_state* s, op_queue& aborted);

  // Starts op in queue dir. It is tried at once if its queue is empty and its
  // direction may be ready (never skipped: with edge-triggered readiness the
  // event may already have been consumed); if that finishes it, it is
  // appended to `done`.
  void start_op(descriptor_state* s, io_dir dir, reactor_op* op, op_queue& done);

  // Every waiting operation of s, finished with operation_aborted.
  void cancel_ops(descriptor_state* s, op_queue& aborted);
  // The waiting operation of s whose cancel_key is key, if any.
  void cancel_key(descriptor_state* s, const void* key, op_queue& aborted);

  // Waits for readiness (timeout as reactor_backend::wait) and appends the
  // operations that finished to `done`. Returns the number of events seen.
  std::size_t run(std::int64_t timeout_ns, op_queue& done);
  void wake() noexcept { backend_->wake(); }

  // Whether any descriptor is registered, or an external watch is busy:
  // busy workers skip polling if not.
  bool has_descriptors() const noexcept
  {
    return live_count_.load(std::memory_order_relaxed) != 0 ||
           (external_count_.load(std::memory_order_relaxed) != 0 && external_busy());
  }

  // How many descriptors are registered (a hint: it may change at once).
  std::size_t descriptor_count() const noexcept { return live_count_.load(std::memory_order_relaxed); }

  // Starts watching fd (readable) for w; throws std::system_error.
  void watch_external(external_watch* w, native_handle fd);
  // Stops watching w's descriptor (before the owner closes it or goes).
  void unwatch_external(external_watch* w) noexcept;
  // After the owner cleared w->queued: a watch is one-shot (level-checked
  // when re-armed), so it reports again only once re-armed. On failure (the
  // backend's error, e.g. ENOMEM from epoll_ctl) the watch is not armed and
  // will not report: the owner must poll or re-arm again.
  std::error_code rearm_external(external_watch* w) noexcept;

  // Takes every waiting operation of every descriptor (runtime destruction).
  void shutdown(op_queue& out);

  // In the child after fork() (no other thread exists): gives the backend
  // kernel objects of its own and registers every live descriptor again,
  // with the same interest, so waiting operations go on waiting. External
  // watches are dropped from the backend (their owners' descriptors are
  // renewed by their own fork handling): watch_external() them again.
  void fork_child();

private:
  void process(descriptor_state* s, const sys::ready_event& ev, op_queue& done);
  bool external_busy() const noexcept;
  void arm(descriptor_state* s, io_dir dir, op_queue& done);

  std::unique_ptr<reactor_backend> backend_;
  const bool edge_;
  std::mutex pool_mutex_;
  std::vector<std::unique_ptr<descriptor_state>> states_; // guarded by pool_mutex_; never shrinks
  descriptor_state* free_ = nullptr;                       // guarded by pool_mutex_
  std::atomic<std::size_t> live_count_{0};                 // relaxed: a polling hint only
  std::vector<external_watch*> externals_;                 // guarded by pool_mutex_
  std::atomic<std::size_t> external_count_{0};             // relaxed: a polling hint only
  // A copy of externals_ for has_descriptors(), which must not lock: at most
  // this many watches (the runtime has one, for Asio's reactor).
  static constexpr std::size_t max_externals = 4;
  std::atomic<external_watch*> external_list_[max_externals] = {}; // written under pool_mutex_
};

} // namespace nanorun::detail
