// The worker loop, posting and work counting. Parking is in park.cpp.
#include "executor/scheduler.hpp"
#include "task/task_memory.hpp"
#include "sys/thread_exit.hpp"

#include <nanorun/detail/op_memory.hpp>

#include <boost/asio/detail/thread_context.hpp>
#include <boost/asio/detail/thread_info_base.hpp>
#include <boost/asio/multiple_exceptions.hpp>

#include <algorithm>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>

namespace nanorun::detail {

constinit thread_local thread_state* this_thread_state = nullptr;
constinit thread_local const run_marker* this_thread_run_marker = nullptr;
constinit thread_local op_cache* this_thread_op_cache = nullptr;

namespace {

// The calling thread's op_cache lives as long as the thread, so that a
// thread calling run_one() in a loop keeps its recycled blocks; it is freed
// at thread exit (sys::at_thread_exit: a thread_local owner's destructor can
// run on freed memory with mingw-w64's emulated TLS).
void free_op_cache(void* p) noexcept
{
  this_thread_op_cache = nullptr;
  delete static_cast<op_cache*>(p);
}

void ensure_op_cache()
{
  if (this_thread_op_cache)
    return;
  auto cache = std::make_unique<op_cache>();
  sys::at_thread_exit(&free_op_cache, cache.get());
  this_thread_op_cache = cache.release();
}

// Registers the thread with Asio's per-thread call stack while it is inside
// run(), so that Asio's own recycling allocators (coroutine frames, cancellation
// signals, executor_function) reuse memory on nanorun workers as they do on
// io_context threads.
class asio_thread_scope : private boost::asio::detail::thread_context
{
public:
  asio_thread_scope() : ctx_(this, info_) {}

private:
  boost::asio::detail::thread_info_base info_;
  thread_call_stack::context ctx_;
};

std::uint32_t seed_rng(const void* p) noexcept
{
  auto v = static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(p) >> 4);
  v ^= static_cast<std::uint32_t>(std::hash<std::thread::id>()(std::this_thread::get_id()));
  return v ? v : 0x9e3779b9u;
}

std::uint32_t next_rng(std::uint32_t& s) noexcept
{
  // xorshift32: cheap and good enough to pick a victim.
  s ^= s << 13;
  s ^= s >> 17;
  s ^= s << 5;
  return s;
}

} // namespace

namespace {
std::size_t initial_slots(int concurrency_hint) noexcept
{
  return std::clamp<std::size_t>(concurrency_hint > 0 ? static_cast<std::size_t>(concurrency_hint)
                                                      : std::max(1u, std::thread::hardware_concurrency()),
                                 1, max_workers);
}
} // namespace

scheduler::scheduler(int concurrency_hint)
    : concurrency_hint_(concurrency_hint), one_thread_(concurrency_hint == 1), timers_(initial_slots(concurrency_hint), steady_now()),
      reactor_(std::make_unique<io_reactor>(make_reactor_backend(default_reactor_kind())))
{
  for (auto& s : slots_)
    s.store(nullptr, std::memory_order_relaxed);
  const std::size_t initial = initial_slots(concurrency_hint);
  for (std::size_t i = 0; i < initial; ++i)
  {
    auto* s = new worker_slot;
    s->index = i;
    slots_[i].store(s, std::memory_order_relaxed);
  }
  num_slots_.store(initial, std::memory_order_release);
}

scheduler::~scheduler()
{
  drain();
  for (auto& s : slots_)
    delete s.load(std::memory_order_relaxed);
}

std::size_t scheduler::concurrency() const noexcept
{
  return std::max<std::size_t>(1, std::max(num_slots_.load(std::memory_order_acquire),
                                           threads_in_run_.load(std::memory_order_relaxed)));
}

worker_slot* scheduler::claim_slot()
{
  const std::size_t n = num_slots_.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < n; ++i)
  {
    worker_slot* s = slots_[i].load(std::memory_order_relaxed);
    // Acquire: pairs with the release store in leave(), so the previous
    // owner's last use of the slot happens before ours.
    if (!s->owned.load(std::memory_order_relaxed) && !s->owned.exchange(true, std::memory_order_acquire))
      return s;
  }
  std::lock_guard lock(slots_mutex_);
  const std::size_t m = num_slots_.load(std::memory_order_relaxed);
  if (m == max_workers)
    throw std::length_error("nanorun::runtime: too many threads inside run() at once");
  auto* s = new worker_slot;
  s->index = m;
  s->owned.store(true, std::memory_order_relaxed);
  slots_[m].store(s, std::memory_order_relaxed);
  // Release: publishes the new slot pointer to thieves that load num_slots_.
  num_slots_.store(m + 1, std::memory_order_release);
  return s;
}

std::size_t scheduler::run(std::size_t max, bool block, const steady_time* deadline,
                          const std::atomic<bool>* done)
{
  if (stopped())
    return 0;
  if (outstanding_.load(std::memory_order_acquire) == 0)
  {
    stop_for_lack_of_work();
    return 0;
  }

  ensure_op_cache();
  attach_task_memory();
  thread_state ts;
  ts.sched = this;
  ts.outer = this_thread_state;
  // A nested run() of this runtime on the same thread uses the enclosing
  // run()'s slot: that thread is busy in our caller and cannot use it, and the
  // work the caller just posted (in its LIFO slot) must be visible to us.
  for (thread_state* o = ts.outer; o; o = o->outer)
    if (o->sched == this)
    {
      ts.slot = o->slot;
      ts.borrowed_slot = true;
      break;
    }
  if (!ts.slot)
    ts.slot = claim_slot();
  ts.rng = seed_rng(&ts);
  ts.run_max = max;
  ts.done = done;
  if (metrics_on_.load(std::memory_order_relaxed))
    ts.counters = &ts.slot->counters;
  std::optional<asio_thread_scope> asio_scope;
  if (!ts.outer)
    asio_scope.emplace();
  // A runtime made for one thread has no frames crossing workers.
  if (!one_thread_)
    frame_exchange::attach(ts.frames);
  ts.marker.owner = this;
  ts.marker.outer = this_thread_run_marker;
  this_thread_state = &ts;
  this_thread_run_marker = &ts.marker;
  if (!ts.borrowed_slot)
    threads_in_run_.fetch_add(1, std::memory_order_relaxed);

  struct leave_guard
  {
    scheduler* self;
    thread_state* ts;
    ~leave_guard()
    {
      self->leave(*ts);
      this_thread_state = ts->outer;
      this_thread_run_marker = ts->marker.outer;
    }
  } guard{this, &ts};

  std::size_t count = 0;
  while (count < max)
  {
    if (stop_state_.load(std::memory_order_relaxed) != running)
      break;
    if (ts.is_done())
      break;
    operation* op = next_op(ts);
    if (!op)
    {
      // Both, always: timers and I/O are each worth a look.
      const bool fired = poll_timers(ts);
      const bool io = poll_io(ts);
      if (fired || io)
        continue;
      if (!block)
        break;
      if (spin_for_work(ts))
        continue;
      const park_result r = park(ts, deadline);
      if (r == park_result::timed_out)
        break;
      continue;
    }
    if (ts.searching)
      end_search(ts);
    if (ts.counters)
      ts.counters->add(worker_counters::handlers_run);
    try
    {
      op->complete();
    }
    catch (...)
    {
      release_unit(ts);
      ts.yielding = false;
      throw;
    }
    release_unit(ts);
    ts.yielding = false;
    frames_.after_handler(ts.frames);
    ++count;
    if (ts.pending)
    {
      std::exception_ptr e = std::move(ts.pending);
      const int n = ts.pending_count;
      ts.pending = nullptr;
      ts.pending_count = 0;
      if (n > 1)
        throw boost::asio::multiple_exceptions(e);
      std::rethrow_exception(e);
    }
    // run_for()/run_until() return at their deadline even while work keeps
    // coming, as io_context's do (they check the clock before each handler);
    // the park above only sees the deadline when the runtime is idle. After
    // the pending exceptions: those leave through run*() first.
    if (deadline && std::chrono::steady_clock::now() >= *deadline)
      break;
  }
  return count;
}

void scheduler::leave(thread_state& ts) noexcept
{
  frames_.leave(ts.frames);
  if (ts.searching)
    end_search(ts);
  // A thread that leaves run() polls no more (see I/O LOCALITY).
  stop_polling_io(ts);
  if (ts.borrowed_slot)
  {
    // The enclosing run() still owns the slot and what is in it.
    release_all_credit(ts);
    return;
  }
  // Hand everything still local to the injector, where any worker (or a later
  // run()) finds it, and where ~runtime destroys it.
  worker_slot* s = ts.slot;
  op_queue rest;
  if (operation* op = s->lifo.exchange(nullptr, std::memory_order_acquire))
    rest.push(op);
  while (operation* op = s->queue.pop())
    rest.push(op);
  if (!rest.empty())
  {
    injector_.push_batch(rest);
    notify_one();
  }
  release_all_credit(ts);
  threads_in_run_.fetch_sub(1, std::memory_order_relaxed);
  // Release: pairs with the acquire exchange in claim_slot().
  s->owned.store(false, std::memory_order_release);
}

operation* scheduler::next_op(thread_state& ts)
{
  worker_slot* s = ts.slot;
  // The periodic I/O poll waits while a continuation is in the LIFO slot:
  // what it finds would queue behind it and make take_completions() wake a
  // peer, which then takes the completion of, say, a server whose client runs
  // here (see I/O LOCALITY). It is owed until the slot is empty, for a few
  // handlers at most (a chain of continuations can keep the slot full for
  // good, and I/O must still be seen); meanwhile what is ready stays with the
  // reactor. Timers are not put off: a peer woken for a fired timer only
  // makes it more punctual.
  auto owed_io_poll = [&] {
    if (s->lifo.load(std::memory_order_relaxed) && ts.polls_deferred < max_lifo_polls)
    {
      ++ts.polls_deferred;
      return;
    }
    ts.io_poll_owed = false;
    poll_io(ts);
  };
  // A countdown rather than tick % 61: this runs once per handler.
  if (--ts.until_injector == 0)
  {
    ts.until_injector = injector_interval;
    poll_timers(ts);
    ts.io_poll_owed = true;
    ts.polls_deferred = 0;
    owed_io_poll();
    if (operation* op = pull_injector(ts))
      return op;
  }
  else if (ts.io_poll_owed)
    owed_io_poll();
  if (s->lifo.load(std::memory_order_relaxed))
  {
    // Acquire: a rescuing peer may have taken it (see THE LIFO SLOT).
    if (operation* op = s->lifo.exchange(nullptr, std::memory_order_acquire))
    {
      if (ts.lifo_polls < max_lifo_polls)
      {
        ++ts.lifo_polls;
        if (ts.counters)
          ts.counters->add(worker_counters::lifo_hits);
        return op;
      }
      if (s->queue.empty() && !injector_.maybe_nonempty())
      {
        // The budget is for fairness to queued work, and there is none: keep
        // the chain here rather than expose it to thieves (it would bounce
        // between cores).
        ts.lifo_polls = 1;
        if (ts.counters)
          ts.counters->add(worker_counters::lifo_hits);
        return op;
      }
      // The slot has had its turns: its occupant goes behind the queued work.
      push_local(ts, op);
    }
  }
  ts.lifo_polls = 0;
  if (operation* op = s->queue.pop())
    return op;
  if (operation* op = pull_injector(ts))
    return op;
  return search(ts);
}

operation* scheduler::pull_injector(thread_state& ts)
{
  if (!injector_.maybe_nonempty())
    return nullptr;
  const std::size_t workers = std::max<std::size_t>(1, threads_in_run_.load(std::memory_order_relaxed));
  // No more than this run() may run: run_one() and poll_one() take one
  // handler, and what they pulled beyond it would only go back to the
  // injector as they leave (a loop of run_one() calls once moved half a
  // queue there and back per handler).
  const std::size_t limit = std::min<std::size_t>(
      {local_queue::capacity / 2, std::size_t{ts.slot->queue.free_slots()} + 1, ts.run_max});
  op_queue batch;
  operation* first = injector_.pop_batch(workers, limit, batch);
  while (operation* op = batch.pop())
  {
    const bool ok = ts.slot->queue.try_push(op);
    (void)ok; // room was reserved above: only the owner adds to its queue
  }
  return first;
}

operation* scheduler::search(thread_state& ts)
{
  // A lone worker has nobody to steal from and nobody to hand a wake-up on
  // to: entering and leaving the search state (two seq_cst RMWs and a fence,
  // twice per message of a one-connection echo) would buy nothing.
  if (!ts.searching)
  {
    if (num_slots_.load(std::memory_order_acquire) == 1)
      return pull_injector(ts);
    if (!try_begin_search(ts))
      return nullptr;
  }
  const std::size_t n = num_slots_.load(std::memory_order_acquire);
  const std::size_t start = next_rng(ts.rng) % n;
  timer_ns now = 0; // read at the first victim: a lone worker has none
  const timer_ns patience = std::chrono::nanoseconds(lone_item_patience).count();
  for (std::size_t i = 0; i < n; ++i)
  {
    worker_slot* victim = slots_[(start + i) % n].load(std::memory_order_relaxed);
    if (victim == ts.slot)
      continue;
    if (now == 0)
      now = steady_now();
    const std::uint32_t before = ts.slot->queue.added();
    operation* op = victim->queue.steal_into(ts.slot->queue, &ts.slot->watches[victim->index], now, patience);
    if (ts.counters)
    {
      ts.counters->add(worker_counters::steal_attempts);
      if (op)
      {
        ts.counters->add(worker_counters::steals);
        ts.counters->add(worker_counters::stolen, 1 + (ts.slot->queue.added() - before));
      }
    }
    if (op)
      return op;
  }
  return pull_injector(ts);
}

bool scheduler::stealable_work_visible(thread_state& ts) const noexcept
{
  // What search() would take: the injector, a queue of two or more, or a lone
  // item that has outwaited its watch. Anything else is left to its owner.
  if (stopped() || injector_.maybe_nonempty())
    return true;
  const std::size_t n = num_slots_.load(std::memory_order_acquire);
  const timer_ns now = steady_now();
  const timer_ns patience = std::chrono::nanoseconds(lone_item_patience).count();
  for (std::size_t i = 0; i < n; ++i)
  {
    const worker_slot* s = slots_[i].load(std::memory_order_relaxed);
    if (s != ts.slot && s->queue.worth_stealing(ts.slot->watches[s->index], now, patience))
      return true;
  }
  return false;
}

void scheduler::push_local(thread_state& ts, operation* op)
{
  local_queue& q = ts.slot->queue;
  for (;;)
  {
    if (q.try_push(op))
      return;
    op_queue half;
    if (q.take_half_for_overflow(half))
    {
      half.push(op);
      injector_.push_batch(half);
      return;
    }
    if (q.steal_in_progress())
    {
      // A thief is making room; don't wait for it.
      injector_.push(op);
      return;
    }
  }
}

void scheduler::post(operation* op, bool continuation)
{
  thread_state* ts = this_thread_state;
  if (ts && ts->sched == this)
  {
    acquire_unit(*ts);
    // A handler that posts may be a loop that spawns: see FRAME EXCHANGE.
    frames_.before_allocation(ts->frames);
    worker_slot* s = ts->slot;
    if (ts->yielding)
    {
      // Everything the yielding handler posts goes behind queued work: the
      // yielded continuation itself, or, inside a strand, the strand's
      // invoker re-posting itself as the handler returns. Work waiting in the
      // injector (this worker's overflow, foreign posts) is runnable too, so
      // when there is any, the yield queues behind it there.
      if (injector_.maybe_nonempty())
      {
        op_queue one;
        one.push(op);
        injector_.push_batch(one);
        announce_fork();
        return;
      }
    }
    else if (continuation)
    {
      // Only the owner touches its slot while it runs (see THE LIFO SLOT), so
      // relaxed is enough. No wake-up for a continuation: it waits for the
      // running handler, as on io_context. The LIFO budget is enforced where
      // the slot is polled (next_op), which knows whether other work waits.
      operation* displaced = s->lifo.load(std::memory_order_relaxed);
      NANORUN_PERTURB_POINT();
      s->lifo.store(op, std::memory_order_relaxed);
      if (!displaced)
        return;
      op = displaced;
    }
    // A fork: stealable at once, and an idle worker is woken to steal it if
    // nobody is searching (io_context runs it on another thread at once).
    push_local(*ts, op);
    announce_fork();
    return;
  }
  // Relaxed: the injector's mutex orders this increment before the decrement
  // made by whichever worker runs the operation.
  outstanding_.fetch_add(1, std::memory_order_relaxed);
  injector_.push(op);
  notify_one();
}

void scheduler::announce_fork() noexcept
{
  // With concurrency hint 1 the user promised io_context that one thread runs
  // it, and io_context then keeps work posted by a handler on that thread
  // until the handler returns, waking nobody. nanorun does no less: the work
  // sits in the local queue, where a worker that happens to search still
  // steals it. This spares a single-threaded runtime the seq_cst fence that
  // announcing costs (a third of a one-thread post chain).
  if (one_thread_)
    return;
  notify_one();
}

void scheduler::acquire_unit(thread_state& ts) noexcept
{
  if (ts.credit == 0)
  {
    // Relaxed: this thread already holds a unit (the handler it is running),
    // so the counter cannot be at zero and no one is waiting on this change.
    outstanding_.fetch_add(work_credit_batch, std::memory_order_relaxed);
    ts.credit = work_credit_batch;
  }
  --ts.credit;
}

void scheduler::release_unit(thread_state& ts) noexcept
{
  if (++ts.credit > 2 * work_credit_batch)
  {
    // Cannot reach zero: we keep more than a batch.
    outstanding_.fetch_sub(work_credit_batch, std::memory_order_relaxed);
    ts.credit -= work_credit_batch;
  }
}

void scheduler::release_all_credit(thread_state& ts) noexcept
{
  if (ts.credit == 0)
    return;
  const std::int64_t c = ts.credit;
  ts.credit = 0;
  NANORUN_PERTURB_POINT();
  // AcqRel: whoever takes the count to zero must see all the work that was
  // finished before, and stop() publishes that.
  if (outstanding_.fetch_sub(c, std::memory_order_acq_rel) == c)
    stop_for_lack_of_work();
}

void scheduler::work_started() noexcept
{
  thread_state* ts = this_thread_state;
  if (ts && ts->sched == this)
    acquire_unit(*ts);
  else
    outstanding_.fetch_add(1, std::memory_order_relaxed);
}

void scheduler::work_finished() noexcept
{
  thread_state* ts = this_thread_state;
  if (ts && ts->sched == this)
    release_unit(*ts);
  else if (outstanding_.fetch_sub(1, std::memory_order_acq_rel) == 1)
    stop_for_lack_of_work();
}

void scheduler_post(scheduler& s, operation* op, bool continuation)
{
  s.post(op, continuation);
}

void scheduler_work_started(scheduler& s) noexcept
{
  s.work_started();
}

void scheduler_work_finished(scheduler& s) noexcept
{
  s.work_finished();
}

void scheduler::capture_current_exception() noexcept
{
  thread_state* ts = this_thread_state;
  while (ts && ts->sched != this)
    ts = ts->outer;
  if (!ts)
    return;
  if (ts->pending_count++ == 0)
    ts->pending = std::current_exception();
}

void scheduler::stop() noexcept
{
  stop_state_.store(requested, std::memory_order_seq_cst);
  NANORUN_PERTURB_POINT();
  wake_all();
}

bool scheduler::restart_if_work() noexcept
{
  std::uint8_t s = stop_state_.load(std::memory_order_acquire);
  if (s == running)
    return true;
  // Acquire pairs with the AcqRel decrements: a count above zero read here
  // was raised after the decrement that stopped us, so that stop is stale.
  if (s != out_of_work || outstanding_.load(std::memory_order_acquire) == 0)
    return false;
  // Fails only if stop() stored `requested` meanwhile, which must stand.
  return stop_state_.compare_exchange_strong(s, running, std::memory_order_acq_rel) || s == running;
}

void scheduler::stop_for_lack_of_work() noexcept
{
  NANORUN_PERTURB_POINT(); // work may be added between the decrement and this
  // A stop() that came first keeps its reason.
  std::uint8_t expected = running;
  stop_state_.compare_exchange_strong(expected, out_of_work, std::memory_order_seq_cst);
  NANORUN_PERTURB_POINT();
  wake_all();
}

bool scheduler::poll_timers(thread_state& ts)
{
  const timer_ns earliest = timers_.earliest();
  if (earliest == timer_never)
    return false;
  const timer_ns now = steady_now();
  if (earliest > now)
  {
    // A moment to spare: stage a little of the next 64 ms.
    timers_.prepare(timer_stage_budget);
    return false;
  }
  op_queue fired;
  timers_.expire(now, fired);
  if (fired.empty())
    return false; // a cascade, or another worker was first
  if (ts.counters)
    ts.counters->add(worker_counters::timers_fired, fired.size());
  // One completion is for this worker, which is about to run it; waking a
  // peer would only put a futex call between the deadline and the handler.
  take_completions(ts, fired);
  return true;
}

bool scheduler::poll_io(thread_state& ts)
{
  if (!reactor_->has_descriptors())
    return false;
  op_queue done;
  const std::size_t events = reactor_->run(0, done);
  if (ts.counters)
  {
    ts.counters->add(worker_counters::reactor_polls);
    ts.counters->add(worker_counters::reactor_events, events);
  }
  // I/O LOCALITY: this worker will look again when its next handler returns.
  // One that found several completions at once has more than it can run
  // alone: it does not count as keeping up, and idle workers watch too. With
  // many descriptors nobody reads the record: the workers that poll at once
  // do not write it, one cache line fewer passed between them.
  // With concurrency hint 1 there is no peer to read it (and its clock read
  // would be one of a handful per message of a one-connection echo).
  if (!one_thread_ && reactor_->descriptor_count() <= io_local_max_descriptors)
  {
    io_polled_at_.store(done.size() > 1 ? 0 : steady_now(), std::memory_order_relaxed);
    if (io_poller_.load(std::memory_order_relaxed) != ts.slot)
      io_poller_.store(ts.slot, std::memory_order_relaxed);
  }
  if (done.empty())
    return false;
  take_completions(ts, done);
  return true;
}

void scheduler::take_completions(thread_state& ts, op_queue& done)
{
  // Called between handlers: the worker that found them runs them; a peer is
  // woken only for the rest. "Runs them" only holds if they come next: a
  // worker that polls between handlers (every injector_interval) may hold a
  // continuation in its LIFO slot or other work in its queue, and the handler
  // that runs first may compute for long. io_context wakes another thread
  // whenever its queue holds more than the handler it takes; so a peer is
  // woken here too when the completions queue up behind other work (a read
  // whose data arrived while its peer computed sat in the poller's queue
  // until that handler returned; test wakeup_deadlines/reads_while_the_
  // polling_peer_computes).
  // Completions behind other work are announced as a fork post is (so, with
  // concurrency hint 1, not at all: see announce_fork()).
  worker_slot* s = ts.slot;
  const bool behind = s->lifo.load(std::memory_order_relaxed) != nullptr || !s->queue.empty();
  const bool several = done.size() > 1;
  while (operation* op = done.pop())
    push_local(ts, op);
  if (several)
    notify_one();
  else if (behind)
    announce_fork();
}

void scheduler::shutdown_io() noexcept
{
  op_queue pending;
  reactor_->shutdown(pending);
  // As for timers: destroying a handler may close sockets and post more work.
  while (operation* op = pending.pop())
    op->destroy();
}

void scheduler::post_counted(op_queue& ops, bool continuation)
{
  if (ops.empty())
    return;
  thread_state* ts = this_thread_state;
  if (ts && ts->sched == this)
  {
    // Inside a handler (or an operation's initiation): fork posts, stealable
    // and announced, except the suspending coroutine's own resumption.
    if (continuation && ops.size() == 1 && !ts->yielding)
    {
      operation* op = ops.pop();
      operation* displaced = ts->slot->lifo.load(std::memory_order_relaxed);
      ts->slot->lifo.store(op, std::memory_order_relaxed);
      if (!displaced)
        return;
      ops.push(displaced);
    }
    while (operation* op = ops.pop())
      push_local(*ts, op);
    announce_fork();
    return;
  }
  injector_.push_batch(ops);
  notify_one();
}

std::size_t scheduler::timer_shard_hint() const noexcept
{
  thread_state* ts = this_thread_state;
  if (ts && ts->sched == this)
    return ts->slot->index;
  // Relaxed: any spread will do.
  return static_cast<std::size_t>(timer_thread_hint_.fetch_add(1, std::memory_order_relaxed));
}

void scheduler::timer_armed_earlier(timer_ns deadline) noexcept
{
  // SeqCst: the arming thread has stored the shard's next deadline; see TIMERS.
  // With nobody driving (no_driver is the lowest value) this returns at once:
  // a worker that parks later takes the role and sees the new deadline, and
  // one that is asleep now is woken by the driver that released the role.
  NANORUN_PERTURB_POINT();
  if (deadline >= driver_until_.load(std::memory_order_seq_cst))
    return;
  NANORUN_PERTURB_POINT();
  worker_slot* s = driver_slot_.load(std::memory_order_acquire);
  if (!s)
    return;
  signal(s);
}

void scheduler::shutdown_timers() noexcept
{
  op_queue pending;
  timers_.shutdown(pending);
  // Destroying a handler may destroy a coroutine frame, its timers with it
  // (which finds nothing left to cancel) and post more work (drained later).
  while (operation* op = pending.pop())
    op->destroy();
}

std::size_t scheduler::drain()
{
  std::size_t n = 0;
  for (;;)
  {
    op_queue all = injector_.take_all();
    const std::size_t slots = num_slots_.load(std::memory_order_acquire);
    for (std::size_t i = 0; i < slots; ++i)
    {
      worker_slot* s = slots_[i].load(std::memory_order_relaxed);
      if (operation* op = s->lifo.exchange(nullptr, std::memory_order_acquire))
        all.push(op);
      while (operation* op = s->queue.pop())
        all.push(op);
    }
    if (all.empty())
      return n;
    while (operation* op = all.pop())
    {
      op->destroy();
      ++n;
    }
  }
}

} // namespace nanorun::detail

namespace nanorun::detail {

void begin_yield() noexcept
{
  // Lasts until the current handler returns (see post()).
  if (thread_state* ts = this_thread_state)
    ts->yielding = true;
}

void scheduler::count_timer_armed() noexcept
{
  thread_state* ts = this_thread_state;
  if (ts && ts->sched == this)
  {
    if (ts->counters)
      ts->counters->add(worker_counters::timers_armed);
  }
  else if (metrics_on_.load(std::memory_order_relaxed))
    outside_.add_shared(worker_counters::timers_armed);
}

namespace {
worker_metrics read_counters(const worker_counters& c) noexcept
{
  using k = worker_counters;
  worker_metrics m;
  m.handlers_run = c.get(k::handlers_run);
  m.task_steps = c.get(k::task_steps);
  m.lifo_hits = c.get(k::lifo_hits);
  m.steal_attempts = c.get(k::steal_attempts);
  m.steals = c.get(k::steals);
  m.stolen = c.get(k::stolen);
  m.parks = c.get(k::parks);
  m.wakeups = c.get(k::wakeups);
  m.timers_armed = c.get(k::timers_armed);
  m.timers_fired = c.get(k::timers_fired);
  m.reactor_polls = c.get(k::reactor_polls);
  m.reactor_waits = c.get(k::reactor_waits);
  m.reactor_events = c.get(k::reactor_events);
  return m;
}
} // namespace

void scheduler::snapshot(runtime_metrics& out)
{
  out.taken_at = std::chrono::steady_clock::now();
  // Acquire: pairs with claim_slot()'s release store of the count, which
  // publishes the slots it counts.
  const std::size_t n = num_slots_.load(std::memory_order_acquire);
  out.workers.clear();
  out.workers.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
  {
    const worker_slot* s = slots_[i].load(std::memory_order_relaxed);
    worker_metrics m = read_counters(s->counters);
    m.local_queue_depth = s->queue.size_hint() + (s->lifo.load(std::memory_order_relaxed) ? 1 : 0);
    m.active = s->owned.load(std::memory_order_relaxed);
    out.workers.push_back(m);
  }
  out.outside = read_counters(outside_);
  out.injector_depth = injector_.depth();
  out.outstanding_work = outstanding_.load(std::memory_order_relaxed);
}

} // namespace nanorun::detail
