// Searching, parking and waking. The protocol is described in scheduler.hpp
// under "PARKING"; the numbered steps below refer to it.
#include "executor/scheduler.hpp"
#include "task/task_memory.hpp"

#include <nanorun/detail/cpu_relax.hpp>

#include "sys/perturb.hpp"

#include <algorithm>
#include <optional>
#include <thread>

namespace nanorun::detail {

namespace {

// ThreadSanitizer does not model standalone fences. Under TSan both sides of
// the protocol synchronise through seq_cst read-modify-writes of the idle word
// instead (an RMW of 0 on the producer's side, as tokio does), which is also
// correct, but makes every producer write a shared cache line, so the normal
// build keeps the fence and a plain load.
constexpr bool fences_supported = !built_with_tsan;

// How often a spinning worker looks at the other workers' queues. Each look
// pulls their owners' head and tail cache lines over here, and an owner
// running a chain of short handlers then pays a miss on its next pop: looking
// every 32 pauses (a hundred nanoseconds on a recent core) cost a one-link
// post chain on two workers 40% of its rate. Two microseconds still find a
// forked post far sooner than waking a parked worker would.
constexpr std::int64_t spin_peek_interval_ns = NANORUN_STRESS ? 0 : 2000;

// I/O LOCALITY (scheduler.hpp). A worker that looked for I/O this recently
// counts as polling (`io_poller_recency`): it will look again when its handler
// returns. Longer than the handlers of a busy echo (a few microseconds), short
// enough that a handler that computes hands the watch to an idle worker soon.
constexpr timer_ns io_poller_recency_ns = NANORUN_STRESS ? 2000 : 20000;
// How long a deputy driver sleeps before it looks again whether its peer
// still polls, doubling up to the maximum while the peer does: the bound on
// how late I/O is seen when the polling peer starts a long handler.
constexpr timer_ns deputy_first_check_ns = NANORUN_STRESS ? 5000 : 50000;
constexpr timer_ns deputy_max_check_ns = NANORUN_STRESS ? 20000 : 200000;

void full_fence() noexcept
{
  if constexpr (fences_supported)
    std::atomic_thread_fence(std::memory_order_seq_cst);
}

} // namespace

// Step 2's read of the idle word, after the producer published its work.
std::uint64_t scheduler::load_idle_after_publish() noexcept
{
  // The window between publishing work and reading the idle word.
  NANORUN_PERTURB_POINT();
  if constexpr (fences_supported)
  {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return idle_.load(std::memory_order_relaxed);
  }
  else
    return idle_.fetch_add(0, std::memory_order_seq_cst);
}

bool scheduler::try_begin_search(thread_state& ts) noexcept
{
  // At most half of the workers search at once: more thieves than that only
  // fight over the same queues. Sloppy on purpose; limiting searchers is an
  // optimisation, never needed for correctness.
  const std::uint64_t state = idle_.load(std::memory_order_seq_cst);
  const std::size_t workers = std::max<std::size_t>(1, threads_in_run_.load(std::memory_order_relaxed));
  if (2 * searching_of(state) >= workers && workers > 1)
    return false;
  NANORUN_PERTURB_POINT();
  idle_.fetch_add(searching_one, std::memory_order_seq_cst);
  ts.searching = true;
  return true;
}

void scheduler::end_search(thread_state& ts) noexcept
{
  ts.searching = false;
  // SeqCst: pairs with the fence in notify_one(); see step 2.
  const std::uint64_t prev = idle_.fetch_sub(searching_one, std::memory_order_seq_cst);
  // The last searcher to find work wakes one more worker if work is still
  // visible: more than it stole, or work a producer posted while it searched
  // (that producer skipped its wake-up because we were searching, so it is
  // ours to pass on; the fence makes this the store-buffering pair of step 2
  // again). Not otherwise: in a ping-pong the single item found would wake a
  // sleeper, often the driver, for nothing on every message.
  if (searching_of(prev) == 1)
  {
    NANORUN_PERTURB_POINT();
    full_fence();
    if (work_visible())
      notify_one();
  }
}

bool scheduler::work_visible() const noexcept
{
  if (stopped())
    return true;
  if (injector_.maybe_nonempty())
    return true;
  const std::size_t n = num_slots_.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < n; ++i)
    if (!slots_[i].load(std::memory_order_relaxed)->queue.empty())
      return true;
  return false;
}

bool scheduler::peer_polls_io(const thread_state& ts) const noexcept
{
  // SeqCst: the deputy's side of the pair with stop_polling_io().
  const worker_slot* poller = io_poller_.load(std::memory_order_seq_cst);
  if (!poller || poller == ts.slot || reactor_->descriptor_count() > io_local_max_descriptors)
    return false;
  return steady_now() - io_polled_at_.load(std::memory_order_relaxed) < io_poller_recency_ns;
}

void scheduler::stop_polling_io(thread_state& ts) noexcept
{
  // A worker about to sleep no longer polls: if it was the poller, say so,
  // and make a deputy driver look again at once rather than at its next
  // check (I/O would wait for nobody meanwhile). SeqCst store, then seq_cst
  // load of driver_deputy_: with the deputy's store of driver_deputy_ and
  // load of io_poller_ in wait_as_deputy(), a store-buffering pair: either
  // the deputy sees no poller or we see the deputy.
  const worker_slot* self = ts.slot;
  if (io_poller_.load(std::memory_order_relaxed) != self)
    return;
  if (!io_poller_.compare_exchange_strong(self, nullptr, std::memory_order_seq_cst))
    return;
  NANORUN_PERTURB_POINT();
  if (!driver_deputy_.load(std::memory_order_seq_cst))
    return;
  worker_slot* d = driver_slot_.load(std::memory_order_acquire);
  if (!d || d == ts.slot)
    return;
  {
    std::lock_guard plock(d->park_mutex);
    d->recheck = true;
  }
  d->park_cv.notify_one();
}

bool scheduler::spin_for_work(thread_state& ts) noexcept
{
  // Waking a parked thread costs microseconds (tens on a VM), far more than a
  // handler. Watching the queues for a short while first keeps a worker awake
  // through the gaps of a steady stream of posts, and still costs a truly idle
  // runtime nothing after the first few microseconds. A timer due within
  // `timer_park_margin` is waited for here too: a futex would wake late.
  const timer_ns start = steady_now();
  const timer_ns spin_ns = std::chrono::nanoseconds(spin_before_park).count();
  const timer_ns margin_ns = std::chrono::nanoseconds(timer_park_margin).count();
  // One idle worker spins at a time; the others park at once. A second
  // spinner finds nothing the first would not, and on a machine with more
  // runnable threads than cores (a client on the same box) it holds a core
  // that the thread making our next work needs. Waiting for an imminent timer
  // is the exception: that wait is for punctuality, not for work.
  // Relaxed: a hint; two workers that both think they are first only spin.
  struct spinner_count
  {
    std::atomic<std::uint32_t>& n;
    ~spinner_count() { n.fetch_sub(1, std::memory_order_relaxed); }
  } counted{spinners_};
  if (spinners_.fetch_add(1, std::memory_order_relaxed) != 0)
  {
    const timer_ns timer = timers_.earliest();
    if (timer == timer_never || timer - start > margin_ns)
      return false;
  }
  bool timer_imminent = false;
  bool polite = false;
  timer_ns next_peek = start;
  for (unsigned i = 1;; ++i)
  {
    cpu_relax();
    if (ts.is_done())
      return true;
    // Look at the other queues only now and then (spin_peek_interval_ns).
    if (i % 32 == 24)
    {
      const timer_ns now = steady_now();
      if (now >= next_peek)
      {
        next_peek = now + spin_peek_interval_ns;
        if (stealable_work_visible(ts))
          return true;
      }
    }
    if (i % 256 == 0)
      timers_.prepare(timer_stage_budget);
    if (i % 32 == 16 && !peer_polls_io(ts) && poll_io(ts))
      return true;
    // Spin politely: lend the core now and then to a thread on the same
    // machine that makes our next work (a client on the same box, a peer
    // worker preempted on a VM); measured on a 2-vCPU VM with wrk, that is
    // worth a third of the HTTP throughput. But a yield on a loaded machine
    // costs a whole time slice of another process (3-4 ms on that VM), so
    // only a worker that nobody waits for may yield: not in the first half of
    // the spin, not with a timer imminent, and only while a parked driver
    // watches the reactor and the timers. It stops searching first, so that
    // a producer wakes a sleeper instead of counting on it. (Without these
    // rules a yielding worker, the only idle one, made posts, timers and I/O
    // completions wait for the slice; io_context never does.)
    if (i % 32 == 8 && polite && !timer_imminent && driver_taken_.load(std::memory_order_relaxed))
    {
      if (ts.searching)
        end_search(ts);
      std::this_thread::yield();
    }
    if (i % 32 == 0)
    {
      const timer_ns now = steady_now();
      const timer_ns timer = timers_.earliest();
      if (timer <= now)
        return true;
      timer_imminent = timer - now <= margin_ns;
      polite = now - start >= spin_ns / 2;
      const timer_ns until = timer_imminent ? timer : start + spin_ns;
      if (now >= until)
        return false;
    }
  }
}

bool scheduler::take_driver(thread_state& ts, timer_ns& timer_deadline) noexcept
{
  // SeqCst: this follows the sleeper's registration (step 1) and pairs with
  // release_driver(); see THE DRIVER ROLE IS HANDED OVER.
  NANORUN_PERTURB_POINT();
  if (driver_taken_.load(std::memory_order_relaxed) || driver_taken_.exchange(true, std::memory_order_seq_cst))
    return false;
  NANORUN_PERTURB_POINT();
  driver_slot_.store(ts.slot, std::memory_order_release);
  timer_deadline = publish_driver_deadline();
  return true;
}

timer_ns scheduler::publish_driver_deadline() noexcept
{
  // SeqCst store, then seq_cst loads of every shard's next: see TIMERS.
  timer_ns until = timers_.earliest();
  for (;;)
  {
    driver_until_.store(until, std::memory_order_seq_cst);
    const timer_ns again = timers_.earliest();
    if (again >= until)
      break;
    until = again;
  }
  return until;
}

void scheduler::release_driver() noexcept
{
  driver_until_.store(no_driver, std::memory_order_seq_cst);
  NANORUN_PERTURB_POINT();
  // SeqCst: the store half of the releaser's side of the store-buffering
  // pair (the fence and idle-word read follow in hand_over_driver()); also
  // publishes this driver's use of the role to the next one's exchange. See
  // THE DRIVER ROLE IS HANDED OVER.
  driver_taken_.store(false, std::memory_order_seq_cst);
}

scheduler::park_result scheduler::park(thread_state& ts, const steady_time* deadline)
{
  // Credit held while asleep would keep the count above zero forever.
  release_all_credit(ts);
  // An idle worker holds a bounded amount of task memory (task_memory.cpp).
  trim_task_memory();
  worker_slot* s = ts.slot;
  {
    std::lock_guard lock(idle_mutex_);
    {
      std::lock_guard plock(s->park_mutex);
      s->notified = false;
      s->take_role = false;
      s->recheck = false;
    }
    sleepers_.push_back(s);
    s->in_sleepers = true;
    // Step 1: one RMW both registers the sleeper and ends the search.
    idle_.fetch_add(sleeper_one - (ts.searching ? searching_one : 0), std::memory_order_seq_cst);
    ts.searching = false;
  }
  // From here on every way out, an exception included, gives back what this
  // park took: the sleeper registration and, if taken, the driver role.
  struct park_guard
  {
    scheduler* self;
    thread_state* ts;
    bool driver = false;
    bool hand_over = false;
    ~park_guard()
    {
      if (driver)
      {
        self->release_driver();
        if (hand_over)
          self->hand_over_driver(ts->slot);
      }
      else if (!self->stopped() && self->role_offered_but_not_taken(*ts->slot))
      {
        // Offered the role and woken for work at the same moment: pass the
        // offer on, or the sleepers could be left without a driver.
        self->hand_over_driver(ts->slot);
      }
      self->cancel_sleep(*ts);
    }
  } guard{this, &ts};

  stop_polling_io(ts);
  // The window between registering as a sleeper and looking for work.
  NANORUN_PERTURB_POINT();
  full_fence();
  if (work_visible() || ts.is_done())
    return stopped() ? park_result::stopped : park_result::resumed;

  const timer_ns margin_ns = std::chrono::nanoseconds(timer_park_margin).count();
  timer_ns timer_deadline = timer_never;
  // Takes the driver role if it is free. Returns true if the timers are due
  // (or nearly): the caller then fires them rather than sleep.
  auto try_drive = [&] {
    guard.driver = take_driver(ts, timer_deadline);
    // A driver that leaves for any reason but stop() hands the role over.
    guard.hand_over = guard.driver;
    if (!guard.driver || timer_deadline == timer_never)
      return false;
    // About to sleep anyway: stage what can be staged before the deadline.
    bool staged = false;
    while (timer_deadline - steady_now() > 2 * margin_ns && timers_.prepare(4 * timer_stage_budget))
      staged = true;
    if (staged)
      timer_deadline = publish_driver_deadline();
    return timer_deadline - steady_now() <= margin_ns;
  };
  if (try_drive())
    return stopped() ? park_result::stopped : park_result::resumed;

  // No timeouts of our own: every wake-up this worker needs is owed to it by
  // the protocol (see PARKING and THE DRIVER ROLE). Only the caller's deadline
  // (run_for, run_until) and, for the driver, the next timer end the wait
  // (and a deputy's checks, inside wait_as_deputy()).
  bool woken = false;
  bool timer_first = false;
  bool own_timer = false; // the driver's timer ended the sleep, not a waker
  if (ts.counters)
    ts.counters->add(worker_counters::parks);
  for (;;)
  {
    std::optional<steady_time> wake_at;
    if (deadline)
      wake_at = *deadline;
    timer_first = false;
    if (guard.driver && timer_deadline != timer_never)
    {
      const steady_time timer_at{std::chrono::duration_cast<steady_time::duration>(
          std::chrono::nanoseconds(timer_deadline) - timer_park_margin)};
      if (!wake_at || timer_at < *wake_at)
      {
        wake_at = timer_at;
        timer_first = true;
      }
    }
    if (guard.driver)
    {
      // Relaxed first look: with no peer polling (one worker, no sockets)
      // the reactor it is, without the deputy's seq_cst store. Waiting in the
      // reactor is always safe; the deputy only spares wake-ups.
      std::optional<bool> deputy;
      const worker_slot* poller = io_poller_.load(std::memory_order_relaxed);
      if (poller && poller != s)
        deputy = wait_as_deputy(ts, wake_at ? &*wake_at : nullptr);
      woken = deputy ? *deputy : wait_in_reactor(ts, wake_at ? &*wake_at : nullptr);
    }
    else
    {
      std::unique_lock plock(s->park_mutex);
      auto ready = [&] {
        return s->notified || s->take_role || stopped() || ts.is_done();
      };
      if (wake_at)
        woken = s->park_cv.wait_until(plock, *wake_at, ready);
      else
      {
        s->park_cv.wait(plock, ready);
        woken = true;
      }
      if (woken && s->take_role && !s->notified)
      {
        // Handed the driver role by a driver that went back to work (see
        // hand_over_driver): still a registered sleeper, so take the role
        // and wait in the reactor, without a trip through the run loop.
        s->take_role = false;
        plock.unlock();
        if (stopped() || ts.is_done())
          break;
        if (try_drive())
          break; // timers due: fire them
        woken = false;
        continue; // as the driver, or, if another parker was first, as before
      }
    }
    if (woken || !timer_first || stopped() || ts.is_done())
      break;
    // The driver's timer wake-up. The wheel publishes a millisecond slot's
    // start until time reaches that slot; then its entries move to exact
    // deadlines. Fire what is due; if nothing is, sleep again, in the
    // reactor, until the exact deadline: going back to the run loop to spin
    // and park anew would cost a wake-up (or, on a loaded machine, a time
    // slice) for nothing.
    op_queue fired;
    timers_.expire(steady_now(), fired);
    if (!fired.empty())
    {
      if (ts.counters)
        ts.counters->add(worker_counters::timers_fired, fired.size());
      take_completions(ts, fired);
      woken = true;
      own_timer = true;
      break;
    }
    timer_deadline = publish_driver_deadline();
    if (timer_deadline != timer_never && timer_deadline - steady_now() <= margin_ns)
      break; // due within the margin: the run loop spins for it
  }
  if (ts.counters && woken && !own_timer)
    ts.counters->add(worker_counters::wakeups);
  if (stopped())
  {
    guard.hand_over = false; // every worker is leaving
    return park_result::stopped;
  }
  if (ts.is_done())
    return park_result::resumed;
  return woken || timer_first ? park_result::resumed : park_result::timed_out;
}

void scheduler::hand_over_driver(worker_slot* self) noexcept
{
  // Whether or not timers or descriptors are registered now: one may be
  // registered by the handler this worker is about to run, which could keep
  // it busy for long. Give the role to another sleeper directly: it stays
  // registered as a sleeper, takes the role and waits in the reactor, with no
  // trip through the run loop or spin (a plain notify_one would make it
  // search and spin first, a few microseconds of CPU on every hand-over).
  // A searching worker is no reason to skip this: it may find work and run
  // it for long while the sleepers sleep without a driver. If there is no
  // other sleeper, every other worker is awake, and the first to park takes
  // the role (it looks after registering; see below).
  // Step 2 of the store-buffering pair: release_driver() stored the role
  // free; a parker that registered before our fence is seen here, and one
  // that registers after it sees the role free.
  const std::uint64_t state = load_idle_after_publish();
  if (sleepers_of(state) == 0)
    return;
  worker_slot* s = nullptr;
  {
    std::lock_guard lock(idle_mutex_);
    // The most recent other sleeper (we may still be registered ourselves).
    for (auto it = sleepers_.rbegin(); it != sleepers_.rend(); ++it)
      if (*it != self)
      {
        s = *it;
        break;
      }
    if (!s)
      return;
    // Under idle_mutex_, so s cannot leave the list (cancel_sleep) and reuse
    // its flags for another park before we set them.
    std::lock_guard plock(s->park_mutex);
    s->take_role = true;
  }
  s->park_cv.notify_one();
}

bool scheduler::role_offered_but_not_taken(worker_slot& s) noexcept
{
  std::lock_guard plock(s.park_mutex);
  const bool offered = s.take_role;
  s.take_role = false;
  return offered;
}

bool scheduler::wait_in_reactor(thread_state& ts, const steady_time* wake_at)
{
  worker_slot* s = ts.slot;
  for (;;)
  {
    {
      std::lock_guard plock(s->park_mutex);
      if (s->notified || stopped() || ts.is_done())
        return true;
      // From here on a waker writes the eventfd (see REACTOR).
      s->in_reactor = true;
    }
    NANORUN_PERTURB_POINT();
    std::int64_t timeout_ns = -1;
    if (wake_at)
      timeout_ns = std::max<std::int64_t>(
          0, std::chrono::duration_cast<std::chrono::nanoseconds>(*wake_at - std::chrono::steady_clock::now())
                 .count());
    op_queue done;
    bool woken;
    if (ts.counters)
      ts.counters->add(worker_counters::reactor_waits); // counted as it begins
    try
    {
      const std::size_t events = reactor_->run(timeout_ns, done);
      if (ts.counters)
        ts.counters->add(worker_counters::reactor_events, events);
    }
    catch (...)
    {
      std::lock_guard plock(s->park_mutex);
      s->in_reactor = false;
      throw;
    }
    {
      std::lock_guard plock(s->park_mutex);
      s->in_reactor = false;
      woken = s->notified || stopped() || ts.is_done();
    }
    if (!done.empty())
    {
      take_completions(ts, done);
      return true;
    }
    if (woken)
      return true;
    // Nothing for us: a stale wake-up, a signal, or the deadline.
    if (wake_at && std::chrono::steady_clock::now() >= *wake_at)
      return false;
  }
}

std::optional<bool> scheduler::wait_as_deputy(thread_state& ts, const steady_time* wake_at)
{
  // See I/O LOCALITY. Returns nothing when no peer polls (the caller waits
  // in the reactor), else what wait_in_reactor() would: true if woken,
  // false at wake_at.
  worker_slot* s = ts.slot;
  timer_ns check_ns = deputy_first_check_ns;
  for (;;)
  {
    driver_deputy_.store(true, std::memory_order_seq_cst);
    NANORUN_PERTURB_POINT();
    if (!peer_polls_io(ts))
    {
      driver_deputy_.store(false, std::memory_order_relaxed);
      return std::nullopt;
    }
    steady_time until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(check_ns);
    if (wake_at && *wake_at < until)
      until = *wake_at;
    bool woken;
    {
      std::unique_lock plock(s->park_mutex);
      s->park_cv.wait_until(plock, until, [&] {
        return s->notified || s->recheck || stopped() || ts.is_done();
      });
      s->recheck = false;
      woken = s->notified || stopped() || ts.is_done();
    }
    driver_deputy_.store(false, std::memory_order_relaxed);
    if (woken)
      return true;
    if (wake_at && std::chrono::steady_clock::now() >= *wake_at)
      return false;
    check_ns = std::min(2 * check_ns, deputy_max_check_ns);
  }
}

void scheduler::signal(worker_slot* s) noexcept
{
  bool via_reactor;
  {
    std::lock_guard plock(s->park_mutex);
    s->notified = true;
    via_reactor = s->in_reactor;
  }
  NANORUN_PERTURB_POINT();
  if (via_reactor)
    reactor_->wake();
  else
    s->park_cv.notify_one();
}

void scheduler::cancel_sleep(thread_state& ts) noexcept
{
  worker_slot* s = ts.slot;
  NANORUN_PERTURB_POINT();
  std::lock_guard lock(idle_mutex_);
  if (s->in_sleepers)
  {
    sleepers_.erase(std::find(sleepers_.begin(), sleepers_.end(), s));
    s->in_sleepers = false;
    idle_.fetch_sub(sleeper_one, std::memory_order_seq_cst);
  }
  else
  {
    // A waker took us off the list and counted us as searching.
    ts.searching = true;
  }
}

void scheduler::notify_one() noexcept
{
  // Step 2: the caller has published its work.
  const std::uint64_t state = load_idle_after_publish();
  if (searching_of(state) != 0 || sleepers_of(state) == 0)
    return;
  NANORUN_PERTURB_POINT();
  worker_slot* s;
  {
    std::lock_guard lock(idle_mutex_);
    if (sleepers_.empty() || searching_of(idle_.load(std::memory_order_relaxed)) != 0)
      return;
    s = sleepers_.back();
    sleepers_.pop_back();
    s->in_sleepers = false;
    // The woken worker starts out searching, so further producers don't wake
    // a second worker for the same burst.
    idle_.fetch_add(searching_one - sleeper_one, std::memory_order_seq_cst);
  }
  signal(s);
}

void scheduler::wake_all() noexcept
{
  std::vector<worker_slot*> woken;
  {
    std::lock_guard lock(idle_mutex_);
    woken.swap(sleepers_);
    for (worker_slot* s : woken)
      s->in_sleepers = false;
    if (!woken.empty())
      idle_.fetch_add(woken.size() * (searching_one - sleeper_one), std::memory_order_seq_cst);
  }
  for (worker_slot* s : woken)
    signal(s);
}

} // namespace nanorun::detail
