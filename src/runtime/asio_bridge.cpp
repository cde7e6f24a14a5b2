// THE ASIO BRIDGE: Asio's own sockets, timers, signal sets and descriptors on
// a nanorun runtime, completed by nanorun's workers, with no thread of Asio's.
//
// Asio's I/O services find their reactor through the context: the first one
// asks for `use_service<detail::scheduler>(ctx)` and calls its init_task(),
// which creates the epoll_reactor. On a context that is not an io_context
// nobody has registered a scheduler, so use_service creates one with a thread
// of its own that blocks in the reactor: every completion then hops from that
// hidden thread to a worker. The bridge avoids it in four steps:
//
//  1. The runtime's constructor registers Asio's scheduler itself, as
//     io_context does, without a thread (own_thread = false) and with one
//     unit of work that is never given back, so that it never stops itself.
//     Its get_task hook (a constructor argument meant for this) runs when the
//     first Asio I/O object needs the reactor: it creates the epoll_reactor
//     and the bridge below. Runtimes whose users never touch Asio's I/O
//     objects pay for a mutex and a condition variable, nothing more.
//  2. The bridge asks nanorun's reactor to watch Asio's epoll descriptor (an
//     epoll instance is itself pollable: it is readable when any of its
//     descriptors, Asio's timerfd and its interrupter included, is ready).
//     Whichever worker sees it readable (the one parked in the reactor, or a
//     busy one polling) runs the bridge's operation: it takes Asio's task
//     operation (from the front of Asio's queue, or the middle, never from
//     the back behind completions: see drive()), runs Asio's reactor
//     without blocking to collect the ready events, re-arms the one-shot watch only then (so that a second worker
//     is not woken for events already taken), and runs the completions that
//     are ready through Asio's scheduler, one poll_one() at a time.
//     Completion handlers bound to the runtime's executor run inline there,
//     on the worker, as they would on an io_context thread.
//  3. Asio posts work to its scheduler from other paths too (an operation
//     that fails at once, cancellation, the resolver's thread). Its scheduler
//     then wakes a thread blocked in its condition variable (there are none)
//     or interrupts "the thread blocked in the task", unless it believes the
//     task is not running (task_interrupted_). nanorun's reactor is always
//     watching Asio's descriptor, which is as good as a thread blocked in the
//     task, so after each poll the bridge tells the scheduler so by clearing
//     task_interrupted_ (under the scheduler's mutex, if nothing else is
//     queued): the next post interrupts, the interrupter makes Asio's epoll
//     descriptor readable, and a worker runs the bridge again.
//  4. Busy workers poll the reactor only while there is something to poll
//     for: the bridge's watch says it is busy while Asio's scheduler counts
//     more work than the bridge's own unit (pending operations and timers).
//
// Timers keep Asio's precision: the epoll_reactor arms its timerfd for the
// earliest Asio timer, and the timerfd makes Asio's epoll readable at that
// instant, which wakes nanorun's driver.
//
// Steps 3 and 4 read and write private members of Asio's scheduler and
// reactor (the mutex, the task flag, the queue, the work count, the epoll
// descriptor). They are reached through explicit template instantiation,
// which the language exempts from access checking, and only for Boost 1.81
// (Asio 1.26), whose sources this was written against; any other version
// falls back to Asio's own thread (asio_bridge_supported() is false).
#include "runtime/asio_bridge.hpp"

#include <nanorun/detail/runtime_service.hpp>
#include <nanorun/runtime.hpp>

#include "executor/asio_private.hpp"
#include "executor/scheduler.hpp"
#include "sys/perturb.hpp"

#include <boost/asio/detail/config.hpp>
#include <boost/asio/detail/scheduler.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/version.hpp>

#include <exception>
#include <memory>

#if BOOST_VERSION == 108100 && defined(BOOST_ASIO_HAS_EPOLL) && defined(BOOST_ASIO_HAS_TIMERFD) &&                  \
    !defined(BOOST_ASIO_HAS_IOCP) && !defined(BOOST_ASIO_DISABLE_THREADS)
#define NANORUN_ASIO_BRIDGE 1
#include <boost/asio/detail/epoll_reactor.hpp>
#include <boost/asio/detail/op_queue.hpp>
#else
#define NANORUN_ASIO_BRIDGE 0
#endif

namespace nanorun::detail {

#if NANORUN_ASIO_BRIDGE

// Asio's private members the bridge reads (executor/asio_private.hpp).
NANORUN_ASIO_PRIVATE(sched_mutex, &boost::asio::detail::scheduler::mutex_);
NANORUN_ASIO_PRIVATE(sched_task_interrupted, &boost::asio::detail::scheduler::task_interrupted_);
NANORUN_ASIO_PRIVATE(sched_queue, &boost::asio::detail::scheduler::op_queue_);
NANORUN_ASIO_PRIVATE(sched_task_op, &boost::asio::detail::scheduler::task_operation_);
NANORUN_ASIO_PRIVATE(sched_work, &boost::asio::detail::scheduler::outstanding_work_);
NANORUN_ASIO_PRIVATE(reactor_epoll_fd, &boost::asio::detail::epoll_reactor::epoll_fd_);

namespace {

namespace ad = boost::asio::detail;

// Unlinks Asio's task operation from its queue if it is at the front, or if
// another operation follows it; never from the back behind other operations
// (see drive()). `anywhere`: look past the front.
bool take_task(ad::op_queue<ad::scheduler_operation>& q, ad::scheduler_operation* task, bool anywhere) noexcept
{
  ad::scheduler_operation* prev = nullptr;
  for (ad::scheduler_operation* o = q.front(); o; prev = o, o = ad::op_queue_access::next(o))
  {
    if (o != task)
    {
      if (!anywhere)
        return false;
      continue;
    }
    if (!prev)
    {
      q.pop();
      return true;
    }
    ad::scheduler_operation* after = ad::op_queue_access::next(o);
    if (!after)
      return false;
    ad::op_queue_access::next(prev, after);
    ad::op_queue_access::next(o, static_cast<ad::scheduler_operation*>(nullptr));
    return true;
  }
  return false;
}

// The bridge of one runtime: a service, created with Asio's reactor.
class asio_bridge final : public boost::asio::execution_context::service
{
public:
  static inline boost::asio::execution_context::id id;

  asio_bridge(boost::asio::execution_context& ctx, nanorun::runtime& rt, ad::scheduler& sched,
              ad::epoll_reactor& reactor)
      : service(ctx), rt_(rt), sched_(sched), reactor_(reactor), watch_(this)
  {
    watch_.busy = &asio_busy;
    rt_.scheduler_impl().reactor().watch_external(&watch_, reactor_.*member(reactor_epoll_fd{}));
  }

  ~asio_bridge() override { rt_.scheduler_impl().reactor().unwatch_external(&watch_); }

  // Called with the scheduler's mutex held, from init_task().
  void armed_under_lock() noexcept { sched_.*member(sched_task_interrupted{}) = false; }

private:
  struct watch_op final : external_watch
  {
    explicit watch_op(asio_bridge* b) noexcept : external_watch(&watch_op::run), bridge(b) {}
    static void run(operation* base, bool invoke);
    asio_bridge* bridge;
  };

  void shutdown() override { rt_.scheduler_impl().reactor().unwatch_external(&watch_); }

  void notify_fork(boost::asio::execution_context::fork_event event) override
  {
    // Registered after Asio's reactor, so in the child its epoll instance has
    // been renewed already (and nanorun's, by the runtime's service, first).
    if (event == boost::asio::execution_context::fork_child)
      rt_.scheduler_impl().reactor().watch_external(&watch_, reactor_.*member(reactor_epoll_fd{}));
  }

  // Whether Asio's scheduler counts work beyond the bridge's own unit: an
  // operation waiting in its reactor, a timer, a queued completion.
  static bool asio_busy(const external_watch* w) noexcept
  {
    const auto& self = *static_cast<const watch_op*>(w)->bridge;
    return (self.sched_.*member(sched_work{})).load(std::memory_order_relaxed) > 1;
  }

  void drive();
  void rearm() noexcept;

  nanorun::runtime& rt_;
  ad::scheduler& sched_;
  ad::epoll_reactor& reactor_;
  watch_op watch_;
};

void asio_bridge::watch_op::run(operation* base, bool invoke)
{
  auto* self = static_cast<watch_op*>(base);
  asio_bridge& b = *self->bridge;
  // Queued by the reactor without a unit of work (a watch must not keep
  // run() going); the run loop gives one back after this returns.
  if (!invoke)
  {
    self->queued.store(false, std::memory_order_release);
    return;
  }
  b.rt_.work_started();
  b.drive();
}

void asio_bridge::rearm() noexcept
{
  // Release: pairs with the reactor's exchange; from here on new readiness
  // queues the watch again, even while this worker runs Asio's handlers, so
  // another worker can take Asio's reactor alongside.
  watch_.queued.store(false, std::memory_order_release);
  if (!rt_.scheduler_impl().reactor().rearm_external(&watch_))
    return;
  // The watch could not be armed (epoll_ctl failed: ENOMEM, say), so nothing
  // would report Asio's events again. Queue it now, as if reported, unless
  // the reactor got there first: the next drive polls Asio's reactor without
  // blocking and re-arms again. A failing epoll_ctl then costs polling
  // through the run queue, never an event; once a re-arm succeeds, the watch
  // is back to waiting. AcqRel: as the reactor's exchange.
  if (!watch_.queued.exchange(true, std::memory_order_acq_rel))
  {
    detail::op_queue again;
    again.push(&watch_);
    rt_.scheduler_impl().post_counted(again);
  }
}

void asio_bridge::drive()
{
  ad::scheduler_operation* const task_op = &(sched_.*member(sched_task_op{}));
  ad::op_queue<ad::scheduler_operation>& queue = sched_.*member(sched_queue{});
  auto& mutex = sched_.*member(sched_mutex{});

  // This drive consumed one report of the one-shot watch and owes exactly one
  // re-arm. It pays it right after it has collected Asio's events, so that a
  // second worker is not woken for events this one is about to take, or, if
  // another worker holds the task operation (and will collect), on leaving.
  // If a handler throws out of poll_one(), the exception leaves through run()
  // as on io_context; the re-arm is paid then too, and interrupting makes
  // Asio's epoll descriptor readable, so a worker comes back for what is
  // still queued.
  struct owed_rearm
  {
    asio_bridge& b;
    bool paid = false;
    int exceptions = std::uncaught_exceptions();
    void pay() noexcept
    {
      paid = true;
      b.rearm();
    }
    ~owed_rearm()
    {
      if (std::uncaught_exceptions() > exceptions)
      {
        if (!paid)
          b.rearm();
        b.reactor_.interrupt();
      }
    }
  } rearm_guard{*this};

  // Where the task operation may be taken from. Asio's reactor tells whether
  // a descriptor's completion is already queued by its link to the next
  // operation; Asio's own scheduler runs the reactor only with the task
  // operation at the front, when every completion the reactor produced
  // earlier has been dequeued. Every such completion sits ahead of the task
  // operation, so each has a link, unless it is the last in the queue, which
  // it can only be once the task operation is unlinked from behind it. So
  // the task operation is taken from the front, or from the middle when an
  // operation follows it (then the last operation is a posted one, and stays
  // last: others only pop from the front and push behind it); never from
  // the back behind other operations. Taking it from there (this bridge once
  // did) let the reactor queue the completion that became last a second
  // time, which lost the rest of Asio's queue, the task operation with it.
  // A drive that finds the task operation at the back behind completions
  // runs them first (as another thread of io_context would), then collects.
  // It looks past the front once: every turn of a long queue would
  // otherwise walk it.
  //
  // When the task operation comes to the front with completions behind it
  // after this drive has collected (a handler that ran here posted them), it
  // goes to the back instead of running Asio's reactor again: the re-armed
  // watch sends another worker for anything new. After `max_turns` such turns
  // poll() runs the reactor too, so a run of completions that post more
  // cannot keep it from Asio's reactor on a single worker.
  constexpr int max_turns = 16;
  bool collected = false;
  bool look_past_front = true;
  int turns = 0;
  boost::system::error_code ec;
  for (;;)
  {
    NANORUN_PERTURB_POINT();
    bool take = false;
    {
      ad::conditionally_enabled_mutex::scoped_lock lock(mutex);
      ad::scheduler_operation* front = queue.front();
      const bool anywhere = look_past_front;
      look_past_front = false;
      if (!collected && front && take_task(queue, task_op, anywhere))
      {
        // As Asio's scheduler does while its task runs: nothing needs an
        // interrupt, everything queued meanwhile is run by this loop.
        sched_.*member(sched_task_interrupted{}) = true;
        take = true;
      }
      else if (!front || (front == task_op && ad::op_queue_access::next(front) == nullptr))
      {
        // Nothing but the task queued (or the task out, held by another
        // worker, which runs what is queued after it collects): from now on
        // posts must interrupt (see step 3).
        sched_.*member(sched_task_interrupted{}) = false;
        lock.unlock();
        if (!collected)
          rearm_guard.pay();
        return;
      }
      else if (front == task_op && turns++ < max_turns)
      {
        queue.pop();
        queue.push(task_op);
      }
    }
    if (take)
    {
      {
        ad::op_queue<ad::scheduler_operation> ready;
        // Gives the task operation back behind what it collected, as Asio's
        // task_cleanup does, even if the reactor throws.
        struct give_back
        {
          ad::conditionally_enabled_mutex& mutex;
          ad::op_queue<ad::scheduler_operation>& queue;
          ad::op_queue<ad::scheduler_operation>& ready;
          ad::scheduler_operation* task_op;
          ~give_back()
          {
            ad::conditionally_enabled_mutex::scoped_lock lock(mutex);
            queue.push(ready);
            queue.push(task_op);
          }
        } back{mutex, queue, ready, task_op};
        NANORUN_PERTURB_POINT();
        reactor_.run(0, ready);
        NANORUN_PERTURB_POINT();
      }
      collected = true;
      rearm_guard.pay();
      continue;
    }
    if (turns > max_turns)
    {
      turns = 0;
      sched_.poll(ec);
    }
    else
      sched_.poll_one(ec);
  }
}

// The scheduler's get_task hook (step 1). Runs inside init_task(), with the
// scheduler's mutex held; nested use_service calls are allowed there.
ad::scheduler_task* bridge_get_task(boost::asio::execution_context& ctx)
{
  auto& reactor = boost::asio::use_service<ad::epoll_reactor>(ctx);
  nanorun::runtime* rt = find_runtime(ctx);
  if (rt && !boost::asio::has_service<asio_bridge>(ctx))
  {
    auto bridge = std::make_unique<asio_bridge>(ctx, *rt, boost::asio::use_service<ad::scheduler>(ctx), reactor);
    boost::asio::add_service(ctx, bridge.get());
    // init_task() calls wake_one_thread_and_unlock() next, which interrupts
    // the reactor once this says the task is running.
    bridge.release()->armed_under_lock();
  }
  return &reactor;
}

} // namespace

bool asio_bridge_supported() noexcept { return true; }

void install_asio_scheduler(runtime& rt, int concurrency_hint)
{
  auto* sched = new ad::scheduler(rt, concurrency_hint > 0 ? concurrency_hint : -1, false, &bridge_get_task);
  boost::asio::add_service(rt, sched);
  sched->work_started(); // never given back: see step 1
}

#else

bool asio_bridge_supported() noexcept { return false; }

void install_asio_scheduler(runtime&, int) {}

#endif

} // namespace nanorun::detail
