// The executor layer: nanorun's work-stealing scheduler.
//
// WORKERS. Every thread inside one of the runtime's run functions is a worker.
// On entry it claims a worker_slot (a local_queue plus a LIFO slot and a parking
// spot); on exit it moves whatever is left in its slot to the injector and
// gives the slot back. Slots are created on demand and live as long as the
// scheduler, so thieves may read any slot at any time.
//
// WHERE WORK GOES. io_context's rule comes first: a handler posted from a
// running handler (a fork) may run on another thread at once, even while the
// handler that posted it keeps its own thread busy. So a fork post from a
// worker goes to the back of that worker's local queue, where idle workers
// can steal it, and wakes an idle worker if none is searching (see PARKING).
// Only a continuation (defer, relationship.continuation, and the resumption
// of the coroutine that is suspending on this worker) goes into the LIFO slot,
// which only its owner takes from: io_context too keeps continuations on the
// posting thread until the running handler returns. A continuation displaces
// the slot's occupant to the local queue. A full local queue sends half of
// itself to the injector. A post from any other thread goes to the injector.
// co_await nanorun::yield_now() always goes to the back, behind everything
// already runnable. With concurrency hint 1 (one thread runs the runtime, as
// the user told io_context) a fork is not announced: io_context(1) keeps it
// on the posting thread, and so may we (announce_fork).
//
// WHAT A WORKER RUNS NEXT (next_op): every `injector_interval` ticks the
// injector first; then the LIFO slot, at most `max_lifo_polls` times in a row
// while other work waits;
// then its local queue; then the injector; then it searches: it steals half of
// a random peer's queue. At most half of the workers search at once. A queue
// holding one item is taken from only once its owner has left it there for
// `lone_item_patience` without popping (see local_queue::steal_into): a chain
// of short handlers then stays on its core, and a post followed by a long
// computation still starts elsewhere within microseconds.
//
// OUTSTANDING WORK. io_context semantics: run() returns when the count of
// outstanding work (queued handlers, tracked executors, work guards) reaches
// zero. A shared counter touched by every post would bounce between cores, so
// each worker holds "credit": units it has already added to the shared counter
// without a job attached. Counting a new job takes a unit of credit, finishing
// one gives it back, and the shared counter is touched only once per
// `work_credit_batch` units. Credit only ever over-counts, so the counter can
// never reach zero while work exists; a worker returns all its credit before it
// parks and when it leaves run(), so the counter does reach zero once the work
// is gone. The thread whose decrement reaches zero stops the runtime.
//
// PARKING (park.cpp). A worker with nothing to do parks on its own condition
// variable. The protocol has no lost wake-ups:
//   1. The parker registers itself as a sleeper with one seq_cst RMW on the
//      idle word (which also ends its searching), then issues a seq_cst fence
//      and looks at every queue once more.
//   2. A producer publishes its work, issues a seq_cst fence, and reads the
//      idle word. If nobody is searching and somebody sleeps, it wakes one.
// The fences make this a store-buffering pair: either the producer sees the
// sleeper, or the sleeper sees the work. When a producer skips the wake-up
// because a worker is searching, that searcher either finds the work or parks
// through step 1 and sees it there. A searcher that finds work while it is the
// last searcher wakes one more worker, so parallelism ramps up one at a time.
//
// The parked worker that holds the driver role (see TIMERS) waits in the
// reactor instead of on its condition variable; see REACTOR.
//
// THE LIFO SLOT belongs to its worker alone: it holds the continuation of
// the handler now running, which io_context also runs only after that
// handler returns. Nothing else waits there, so no peer ever needs to look
// into it, and no worker parks with a timeout to rescue work: every wake-up
// is owed by the protocol above, and a lost one shows as a hang (the stress
// suite has deadlines for that). (A deputy driver's periodic checks, I/O
// LOCALITY, hand the watch of the reactor over; they rescue nothing queued.)
//
// TIMERS (src/time/). The scheduler owns the runtime's timer queue. Any
// worker fires due timers: every `injector_interval` handlers (one clock read),
// whenever it runs out of work, and while it spins. One parked worker at a
// time holds the driver role (driver_taken_): it sleeps no later than the
// earliest timer deadline, published in driver_until_. Whoever arms a timer
// earlier than driver_until_ wakes the driver (timer_armed_earlier). The
// arming thread stores the shard's next deadline, then reads driver_until_;
// the driver stores driver_until_, then reads every shard's next deadline;
// all four are seq_cst, so one of the two sees the other. The driver wakes
// `timer_park_margin` before the deadline and spins the rest of the way; that
// is what keeps timers as punctual as io_context's timerfd.
//
// THE DRIVER ROLE IS HANDED OVER. Whenever some worker sleeps, one sleeper
// is the driver: the first to park takes the role. A driver that wakes to
// run work (I/O, a timer, a post) releases the role and calls
// hand_over_driver(), which hands the role to another sleeper, if there is
// one: that one stays registered as a sleeper, takes the role and waits in
// the reactor, with no trip through the run loop. (Searchers do not count:
// one may find work and keep it for long. The driver woken by notify_one()
// is itself counted as searching, which once made it skip the hand-over and
// leave a sleeper without a driver.) A sleeper offered the role just as it is
// woken for work passes the offer on. If no other worker sleeps, every other
// worker is awake and the first to park takes the role. This
// holds whether or not anything is registered now: the handler
// about to run may start an operation or arm a timer and then compute for a
// long time, and somebody must watch those. Releasing is a seq_cst store
// followed by a fence and a read of the idle word; taking follows the
// sleeper's seq_cst registration and fence: a store-buffering pair again, so
// either the releaser sees the sleeper or the sleeper takes the role.
//
// REACTOR (src/reactor/). The scheduler owns the runtime's io_reactor. The
// driver parks in it: it blocks in the backend's wait() until I/O is ready,
// the earliest timer is near, or it is woken. It marks itself in_reactor under
// its park_mutex after checking `notified`; a waker sets `notified` under the
// same mutex and, if it finds in_reactor set, calls the reactor's wake()
// (an eventfd write) instead of notifying the condition variable. One of the
// two sees the other, so no wake-up is lost, and the eventfd is written only
// when a worker really waits in the reactor. Busy workers look for I/O
// without blocking every `injector_interval` handlers, when they run out of
// work and while they spin, so I/O is served while the driver role is free.
// Completions found between handlers go to the finder's own queue; it wakes
// a peer only if it found more than one (it is about to run the first itself).
// Completions produced inside a handler (an operation that finished at once,
// a cancellation) are fork posts and wake a peer as any post does; the one
// exception is the immediate completion of an operation started by the
// coroutine that is suspending on this thread: it is that coroutine's
// resumption, a continuation, and goes to the LIFO slot.
//
// I/O LOCALITY. A parked driver waits in the reactor, and the kernel wakes
// it for every readiness change while it waits, even when a busy worker will
// look for that I/O itself a microsecond later. With a client and its server
// in one runtime, every message did that: the wake-up cost the sender a
// cross-core interrupt, and the driver often took the event first, so the two
// coroutines bounced between workers. So, with few descriptors registered
// (`io_local_max_descriptors`: one chain of wake-ups is likely then; with many,
// independent connections are, and a second worker serves them in parallel):
//   * poll_io() records who polled last and when (io_poller_, io_polled_at_).
//     A worker counts as polling I/O for `io_poller_recency` after a poll that
//     found at most one completion: it looks again when its handler returns.
//     A runtime made for one thread (concurrency hint 1) keeps no record, as
//     no peer reads it; should a second thread call run() on it anyway, the
//     driver waits in the reactor, as it does with many descriptors.
//   * A spinning worker does not poll while a peer polls: the readiness a
//     worker's own handler caused is found by that worker, which runs the
//     woken coroutine next.
//   * The driver does not wait in the reactor while a peer polls: it waits on
//     its condition variable as a DEPUTY and looks again after a check
//     interval (50 us, doubling to 200 us while the peer keeps polling). When
//     the peer stops polling (it runs a long handler, or parks), the deputy
//     moves to the reactor at its next check, so I/O that arrives while every
//     awake worker computes waits at most about one check interval. Timers
//     and wake-ups reach a deputy as they reach a driver (it holds the role,
//     publishes its deadline and sleeps no later than the earliest timer).
//   * A poller that parks or leaves run() clears io_poller_ and, if the driver
//     is a deputy, makes it look again at once (`recheck`): its seq_cst
//     clear and read of driver_deputy_ pair with the deputy's seq_cst store of
//     driver_deputy_ and read of io_poller_, so either the deputy sees no
//     poller or the poller sees the deputy.
//
// SHUTDOWN. stop() sets the stopped flag and wakes every sleeper; workers
// leave at their next loop turn and leave queued work queued. drain() (called
// by ~runtime, with no thread inside run) destroys every queued operation
// without invoking it, repeating until no destruction has posted anything new.
#pragma once

#include "executor/frame_exchange.hpp"
#include "executor/inject_queue.hpp"
#include "executor/local_queue.hpp"
#include "executor/worker_counters.hpp"
#include "reactor/reactor.hpp"
#include "time/timer_queue.hpp"

#include <nanorun/detail/config.hpp>
#include <nanorun/detail/operation.hpp>
#include <nanorun/detail/run_marker.hpp>
#include <nanorun/runtime_metrics.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace nanorun::detail {

class scheduler;

// One worker's queues and parking spot.
struct worker_slot
{
  local_queue queue;                     // owner pushes/pops; thieves steal
  // Owner only while the slot is owned (see "THE LIFO SLOT" above); atomic
  // because drain() and the next owner read it after the owner left.
  std::atomic<operation*> lifo{nullptr};
  std::atomic<bool> owned{false};        // exchange(acquire) to claim; store(release) to give back
  std::size_t index = 0;                 // position in scheduler::slots_; fixed
  bool in_sleepers = false;              // guarded by scheduler::idle_mutex_
  std::mutex park_mutex;
  std::condition_variable park_cv;
  bool notified = false;                 // guarded by park_mutex
  bool in_reactor = false;               // guarded by park_mutex: wake through the reactor
  bool take_role = false;                // guarded by park_mutex: handed the driver role
  bool recheck = false;                  // guarded by park_mutex: a deputy driver looks again (I/O LOCALITY)
  // The owner's looks, as a thief, at each other slot's lone item, indexed by
  // that slot's index (see local_queue::steal_into). One per victim: a single
  // watch shared by all victims would be reset by each in turn when two
  // busy handlers each left an item behind, and neither would ever be taken.
  std::unique_ptr<local_queue::lone_item_watch[]> watches{new local_queue::lone_item_watch[max_workers]};
  // Written by the owner only; read by snapshots (worker_counters.hpp).
  worker_counters counters;
};

// What a thread inside run() knows about itself. Lives on run()'s stack.
struct thread_state
{
  run_marker marker;              // pushed on this_thread_run_marker while inside
  scheduler* sched = nullptr;
  worker_slot* slot = nullptr;
  thread_state* outer = nullptr;  // enclosing run() on this thread (nested runs)
  std::int64_t credit = 0;        // units of outstanding work held without a job
  std::uint32_t until_injector = injector_interval; // handlers left before the injector goes first
  std::uint32_t lifo_polls = 0;
  std::uint32_t polls_deferred = 0; // handlers the periodic I/O poll waited for the LIFO slot (next_op)
  bool io_poll_owed = false;        // the periodic I/O poll is still to be made (next_op)
  std::uint32_t rng = 0;
  std::size_t run_max = static_cast<std::size_t>(-1); // handlers this run() may run (run_one: 1)
  bool searching = false;         // counted in scheduler::idle_ as searching
  bool borrowed_slot = false;     // a nested run() using the enclosing run()'s slot
  bool yielding = false;          // the running handler yielded: its posts go to the back
  const std::atomic<bool>* done = nullptr; // optional extra exit condition (block_on)
  worker_counters* counters = nullptr; // the slot's, or null with metrics off (worker_counters.hpp)

  bool is_done() const noexcept { return done && done->load(std::memory_order_acquire); }
  std::exception_ptr pending;     // exception from an inline execute()
  int pending_count = 0;
  frame_stash frames;             // see FRAME EXCHANGE (frame_exchange.hpp)
};

extern constinit thread_local thread_state* this_thread_state;

class scheduler
{
public:
  using steady_time = std::chrono::steady_clock::time_point;

  explicit scheduler(int concurrency_hint);
  ~scheduler();
  scheduler(const scheduler&) = delete;
  scheduler& operator=(const scheduler&) = delete;

  // Runs at most max handlers. Returns early when stopped, when there is no
  // work and !block, or at the deadline.
  // `done`, if given, also ends the run once it reads true; whoever sets it
  // calls wake_all() afterwards.
  std::size_t run(std::size_t max, bool block, const steady_time* deadline,
                  const std::atomic<bool>* done = nullptr);

  void post(operation* op, bool continuation);
  void work_started() noexcept;
  void work_finished() noexcept;
  void capture_current_exception() noexcept;

  void stop() noexcept;
  bool stopped() const noexcept { return stop_state_.load(std::memory_order_acquire) != running; }
  void restart() noexcept { stop_state_.store(running, std::memory_order_release); }
  // Undoes a stop for lack of work that work has since arrived for (a
  // block_on that spawned its task just as another thread's last work
  // finished): true if the runtime is now running. A stop() call is never
  // undone: the one atomic makes "was it a request" and "clear it" one step.
  bool restart_if_work() noexcept;

  // Wakes every parked worker so it re-evaluates its exit condition.
  void wake_all() noexcept;

  // Destroys every queued operation without invoking it (no thread may be
  // inside run). Returns the number destroyed.
  std::size_t drain();

  std::size_t concurrency() const noexcept;

  // Metrics (worker_counters.hpp).
  void snapshot(runtime_metrics& out);
  void enable_metrics(bool on) noexcept { metrics_on_.store(on, std::memory_order_relaxed); }
  // A timer wait was started by the calling thread.
  void count_timer_armed() noexcept;

  // Timers (see TIMERS above).
  timer_queue& timers() noexcept { return timers_; }
  // Which timer shard the calling thread should use for a new timer.
  std::size_t timer_shard_hint() const noexcept;
  // Queues operations whose outstanding work was counted when they started
  // waiting (timer waits, I/O). `continuation`: the single operation is the
  // resumption of the coroutine suspending on this thread (see REACTOR).
  void post_counted(op_queue& ops, bool continuation = false);

  // A timer was armed with a deadline that may be earlier than the driver's.
  void timer_armed_earlier(timer_ns deadline) noexcept;
  // Destroys every pending timer wait without running it (~runtime).
  void shutdown_timers() noexcept;

  // I/O (see REACTOR above).
  io_reactor& reactor() noexcept { return *reactor_; }
  // Destroys every operation waiting for readiness without running it.
  void shutdown_io() noexcept;
  // In the child after fork(): the reactor's kernel objects are replaced
  // (see io_reactor::fork_child). Asio's rule applies: no other thread may be
  // using the runtime.
  void fork_child() { reactor_->fork_child(); }

private:
  enum class park_result { resumed, stopped, timed_out };

  // scheduler.cpp
  worker_slot* claim_slot();
  void leave(thread_state& ts) noexcept;
  operation* next_op(thread_state& ts);
  operation* pull_injector(thread_state& ts);
  operation* search(thread_state& ts);
  void push_local(thread_state& ts, operation* op);
  void announce_fork() noexcept;
  void acquire_unit(thread_state& ts) noexcept;
  void release_unit(thread_state& ts) noexcept;
  void release_all_credit(thread_state& ts) noexcept;
  void stop_for_lack_of_work() noexcept;
  bool poll_timers(thread_state& ts);
  bool poll_io(thread_state& ts);
  void take_completions(thread_state& ts, op_queue& done);
  bool stealable_work_visible(thread_state& ts) const noexcept;

  // park.cpp
  bool spin_for_work(thread_state& ts) noexcept;
  bool peer_polls_io(const thread_state& ts) const noexcept;
  park_result park(thread_state& ts, const steady_time* deadline);
  bool take_driver(thread_state& ts, timer_ns& timer_deadline) noexcept;
  timer_ns publish_driver_deadline() noexcept;
  void release_driver() noexcept;
  void hand_over_driver(worker_slot* self) noexcept;
  bool role_offered_but_not_taken(worker_slot& s) noexcept;
  void cancel_sleep(thread_state& ts) noexcept;
  bool work_visible() const noexcept;
  void notify_one() noexcept;
  void signal(worker_slot* s) noexcept;
  bool wait_in_reactor(thread_state& ts, const steady_time* wake_at);
  std::optional<bool> wait_as_deputy(thread_state& ts, const steady_time* wake_at);
  void stop_polling_io(thread_state& ts) noexcept;
  std::uint64_t load_idle_after_publish() noexcept;
  bool try_begin_search(thread_state& ts) noexcept;
  void end_search(thread_state& ts) noexcept;

  // I/O LOCALITY gives up the parallelism of a second worker in the reactor
  // for locality only while this few descriptors are registered: the I/O is
  // then likely one chain of wake-ups (a client and its server, a proxy's
  // two ends), which a second worker only bounces; with many, independent
  // connections are likely, and a second worker serves them in parallel.
  static constexpr std::size_t io_local_max_descriptors = 8;

  // idle_ packs the number of searching workers (low half) and the number of
  // registered sleepers (high half). See "PARKING" above.
  static constexpr std::uint64_t searching_one = 1;
  static constexpr std::uint64_t sleeper_one = std::uint64_t{1} << 32;
  static std::uint64_t searching_of(std::uint64_t v) noexcept { return v & 0xffffffffu; }
  static std::uint64_t sleepers_of(std::uint64_t v) noexcept { return v >> 32; }

  alignas(64) std::atomic<std::int64_t> outstanding_{0}; // see "OUTSTANDING WORK"
  alignas(64) std::atomic<std::uint64_t> idle_{0};       // RMW seq_cst; read after a seq_cst fence
  // running, or why not: stop() stores `requested`, the thread whose decrement
  // empties outstanding_ CASes running -> out_of_work (seq_cst, against the
  // parkers' seq_cst checks); restart() stores running (release); loops load
  // acquire.
  enum : std::uint8_t { running, out_of_work, requested };
  alignas(64) std::atomic<std::uint8_t> stop_state_{running};
  std::atomic<std::size_t> threads_in_run_{0};            // relaxed: a hint for notification
  alignas(64) std::atomic<std::uint32_t> spinners_{0};    // relaxed: a hint; see spin_for_work()
  inject_queue injector_;

  std::mutex idle_mutex_;
  std::vector<worker_slot*> sleepers_; // guarded by idle_mutex_

  std::mutex slots_mutex_;                     // serialises slot creation
  std::atomic<worker_slot*> slots_[max_workers]; // published before num_slots_
  std::atomic<std::size_t> num_slots_{0};       // release on growth; acquire by readers
  int concurrency_hint_;
  const bool one_thread_; // concurrency hint 1: see announce_fork()
  std::atomic<bool> metrics_on_{true}; // relaxed: read as a thread enters run()

  // On a line of its own: idle workers arm, fire and prepare timers while a
  // busy worker reads the read-mostly fields above on every post.
  alignas(64) timer_queue timers_;
  std::atomic<bool> driver_taken_{false};           // exchange(acquire) to take; store(release) to give back
  std::atomic<worker_slot*> driver_slot_{nullptr};  // set by the driver before driver_until_
  // The driver's wake-up time; the lowest value while nobody drives. SeqCst:
  // see TIMERS.
  static constexpr timer_ns no_driver = std::numeric_limits<timer_ns>::min();
  std::atomic<timer_ns> driver_until_{no_driver};
  mutable std::atomic<std::uint64_t> timer_thread_hint_{0}; // relaxed: spreads foreign threads' timers

  // Read on every post; written only when frames cross workers.
  alignas(64) frame_exchange frames_;

  // Who last looked for I/O, and when; see I/O LOCALITY. io_poller_ is
  // cleared by its worker when it parks (seq_cst, paired with the deputy's
  // store of driver_deputy_); the time is a relaxed hint.
  alignas(64) std::atomic<timer_ns> io_polled_at_{0};
  std::atomic<const worker_slot*> io_poller_{nullptr};
  // Set (seq_cst) by the driver while it waits as a deputy; see I/O LOCALITY.
  std::atomic<bool> driver_deputy_{false};

  std::unique_ptr<io_reactor> reactor_;

  // Events on threads outside run() (worker_counters.hpp); fetch_add.
  alignas(64) worker_counters outside_;
};

} // namespace nanorun::detail
