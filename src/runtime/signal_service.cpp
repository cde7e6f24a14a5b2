// The runtime layer's signal delivery: nanorun::basic_signal_set's compiled
// entry points (include/nanorun/detail/signal_op.hpp), joining the OS's
// signals (sys/signals.hpp) to the reactor (which watches the self-pipe) and
// the executor layer (work counting, where completions run).
//
// THE REGISTRY. Signals are process-wide, so their bookkeeping is too: one
// registry, never destroyed (a runtime may be a static that outlives any
// other), holds under one mutex
//   * how many sets of the whole process register each signal, and the flags
//     it was installed with: the first registration installs the handler, the
//     last one gone restores the default disposition;
//   * the list of signal services, one per runtime that has had a set;
//   * per service, a table from signal number to the registrations of its
//     sets, and the list of its sets; per set, its registrations (in
//     ascending signal number: queued signals are taken in that order, as
//     Asio's) and its pending waits.
// Every operation on a set, every delivery and every cancellation runs under
// the mutex, and queues the waits it completes on their runtime before it
// lets go: a service leaves the list (its runtime's shutdown) under the same
// mutex, so a runtime is alive for as long as the registry can reach it. The
// scheduler's post never runs an operation and never calls back here, so
// posting under the mutex cannot deadlock.
//
// DELIVERY. POSIX: the handler writes the number into the self-pipe
// (sys/posix/signals.cpp). Each service asks its runtime's reactor to watch
// the pipe's read end (an external watch, one-shot): the worker that sees it
// readable reads every number waiting and delivers each to every service,
// whichever runtime it belongs to, then re-arms the watch; the other runtimes'
// watches find the pipe empty and re-arm. Windows: the handler calls
// deliver() directly (there is no descriptor to watch). Delivering a signal to
// a registration completes every wait of its set with that signal, or, with
// none pending, counts it (undelivered) for the set's next wait.
//
// WORK. A pending wait is outstanding work, as with io_context: counted when
// it starts, given back when its completion runs. The watch is not work: it
// never keeps run() from returning. Busy workers poll for the pipe only while
// a wait is pending (the watch's busy hook); a parked driver always watches it.
//
// SHUTDOWN. The service's shutdown (the runtime's destruction, step 1) takes
// it off the list, drops its sets' registrations (restoring dispositions),
// marks each set orphaned and destroys the pending waits without running
// them. A set destroyed later only frees its memory.
//
// FORK. As Asio's: between fork_prepare and fork_child, the child's first
// service renews the pipe (the parent keeps the old one); every service then
// watches the new read end (the reactor forgot its watches in the child).
#include <nanorun/detail/signal_op.hpp>
#include <nanorun/detail/runtime_service.hpp>
#include <nanorun/runtime.hpp>

#include "executor/scheduler.hpp"
#include "sys/signals.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/execution_context.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <stdexcept>

namespace nanorun::detail {

namespace {

// Above every OS's NSIG that nanorun runs on (Linux 65, Windows 23).
constexpr int max_signals = 128;

class signal_service;

struct registration
{
  int signal_number = 0;
  std::size_t undelivered = 0;          // occurrences waiting for a wait
  signal_set_impl* set = nullptr;
  registration* next_in_set = nullptr;  // the set's list, ascending numbers
  registration* prev_in_table = nullptr; // the service's table entry for the number
  registration* next_in_table = nullptr;
};

} // namespace

struct signal_set_impl
{
  signal_service* service = nullptr; // null once the runtime has shut down
  registration* signals = nullptr;
  op_queue waits;
  signal_set_impl* prev = nullptr;   // the service's list of sets
  signal_set_impl* next = nullptr;
};

namespace {

struct registry
{
  std::mutex mutex;
  signal_service* services = nullptr;
  std::size_t count[max_signals] = {};
  int flags[max_signals] = {};
  native_handle read_end = invalid_native_handle;
  bool fork_prepared = false;
};

// Never destroyed (see THE REGISTRY). Everything below is guarded by its mutex.
registry& the_registry()
{
  static registry* r = new registry;
  return *r;
}

void deliver(int signal_number) noexcept;

class signal_service final : public boost::asio::execution_context::service
{
public:
  static inline boost::asio::execution_context::id id;

  explicit signal_service(boost::asio::execution_context& ctx)
      : service(ctx), rt_(checked_runtime(ctx)), sched_(rt_.scheduler_impl()), watch_(this)
  {
    watch_.busy = &any_waiting;
    registry& reg = the_registry();
    std::lock_guard lock(reg.mutex);
    sys::signal_set_sink(&deliver);
    reg.read_end = sys::signal_pipe_open();
    if (reg.read_end != invalid_native_handle)
      sched_.reactor().watch_external(&watch_, reg.read_end);
    next_ = reg.services;
    if (next_)
      next_->prev_ = this;
    reg.services = this;
    listed_ = true;
  }

  ~signal_service() override { shutdown(); }

  runtime& owner() noexcept { return rt_; }
  scheduler& sched() noexcept { return sched_; }

  // The rest is called with the registry's mutex held.
  void link(signal_set_impl* s) noexcept
  {
    s->service = this;
    s->next = sets_;
    if (sets_)
      sets_->prev = s;
    sets_ = s;
  }

  void unlink(signal_set_impl* s) noexcept
  {
    if (s->prev)
      s->prev->next = s->next;
    else
      sets_ = s->next;
    if (s->next)
      s->next->prev = s->prev;
    s->prev = s->next = nullptr;
    s->service = nullptr;
  }

  registration*& table(int signal_number) noexcept { return table_[signal_number]; }
  signal_service* next() const noexcept { return next_; }
  signal_set_impl* sets() const noexcept { return sets_; }

  // Relaxed: a hint for busy workers (see WORK), changed under the mutex.
  void waits_added(std::size_t n) noexcept { waiting_.fetch_add(n, std::memory_order_relaxed); }
  void waits_removed(std::size_t n) noexcept { waiting_.fetch_sub(n, std::memory_order_relaxed); }

private:
  struct watch_op final : external_watch
  {
    explicit watch_op(signal_service* s) noexcept : external_watch(&watch_op::run), service(s) {}
    static void run(operation* base, bool invoke);
    signal_service* service;
  };

  static runtime& checked_runtime(boost::asio::execution_context& ctx)
  {
    runtime* rt = find_runtime(ctx);
    if (!rt)
      throw std::invalid_argument("nanorun::basic_signal_set: the execution context is not a nanorun::runtime");
    return *rt;
  }

  static bool any_waiting(const external_watch* w) noexcept
  {
    return static_cast<const watch_op*>(w)->service->waiting_.load(std::memory_order_relaxed) != 0;
  }

  void shutdown() override;
  void notify_fork(boost::asio::execution_context::fork_event event) override;

  runtime& rt_;
  scheduler& sched_;
  watch_op watch_;
  registration* table_[max_signals] = {};
  signal_set_impl* sets_ = nullptr;
  signal_service* prev_ = nullptr; // the registry's list
  signal_service* next_ = nullptr;
  bool listed_ = false;
  std::atomic<std::size_t> waiting_{0};
};

boost::system::error_code to_boost(std::error_code ec) noexcept
{
  if (ec == std::errc::invalid_argument && ec.category() == std::generic_category())
    return boost::asio::error::invalid_argument;
  return {ec.value(), boost::system::system_category()};
}

bool valid_number(int signal_number) noexcept
{
  return signal_number >= 0 && signal_number < sys::signal_limit() && signal_number < max_signals;
}

// Unlinks r from its service's table and its count; restores the default
// disposition if it was the process's last. With the mutex held. If that
// fails, r stays (as with Asio), unless `force`: a set or runtime that goes
// must leave no registration pointing at it, and the handler then stays
// installed with nobody registered (its signals are dropped) until the next
// add() of the signal installs it again.
boost::system::error_code drop(registry& reg, signal_service& svc, registration* r, bool force) noexcept
{
  const int n = r->signal_number;
  if (reg.count[n] == 1)
    if (const std::error_code ec = sys::signal_default(n); ec && !force)
      return to_boost(ec);
  if (r->prev_in_table)
    r->prev_in_table->next_in_table = r->next_in_table;
  else
    svc.table(n) = r->next_in_table;
  if (r->next_in_table)
    r->next_in_table->prev_in_table = r->prev_in_table;
  --reg.count[n];
  return {};
}

// Removes every registration of s; stops at the first failure, as Asio.
boost::system::error_code drop_all(registry& reg, signal_set_impl* s, bool force) noexcept
{
  while (registration* r = s->signals)
  {
    if (const boost::system::error_code ec = drop(reg, *s->service, r, force))
      return ec;
    s->signals = r->next_in_set;
    delete r;
  }
  return {};
}

// Completes every wait of s with operation_aborted. With the mutex held.
void abort_waits(signal_set_impl* s) noexcept
{
  if (s->waits.empty())
    return;
  op_queue aborted;
  while (operation* o = s->waits.pop())
  {
    auto* op = static_cast<signal_op*>(o);
    op->ec = boost::asio::error::operation_aborted;
    op->signal_number = 0;
    aborted.push(op);
  }
  s->service->waits_removed(aborted.size());
  s->service->sched().post_counted(aborted);
}

void deliver(int signal_number) noexcept
{
  if (signal_number < 0 || signal_number >= max_signals)
    return;
  registry& reg = the_registry();
  std::lock_guard lock(reg.mutex);
  for (signal_service* svc = reg.services; svc; svc = svc->next())
  {
    op_queue done;
    for (registration* r = svc->table(signal_number); r; r = r->next_in_table)
    {
      if (r->set->waits.empty())
      {
        ++r->undelivered;
        continue;
      }
      while (operation* o = r->set->waits.pop())
      {
        auto* op = static_cast<signal_op*>(o);
        op->ec = {};
        op->signal_number = signal_number;
        done.push(op);
      }
    }
    svc->waits_removed(done.size());
    svc->sched().post_counted(done);
  }
}

void signal_service::watch_op::run(operation* base, bool invoke)
{
  auto* self = static_cast<watch_op*>(base);
  signal_service& svc = *self->service;
  // Queued by the reactor without a unit of work (a watch must not keep run()
  // going); the run loop gives one back after this returns.
  if (!invoke)
  {
    self->queued.store(false, std::memory_order_release);
    return;
  }
  svc.rt_.work_started();
  native_handle fd;
  {
    std::lock_guard lock(the_registry().mutex);
    fd = the_registry().read_end;
  }
  int numbers[64];
  while (const std::size_t n = sys::signal_pipe_read(fd, numbers, std::size(numbers)))
    for (std::size_t i = 0; i < n; ++i)
      deliver(numbers[i]);
  // Release: pairs with the reactor's exchange; from here on new readiness
  // queues the watch again. The pipe was read empty first, so a number
  // written after the last read leaves it readable for the re-armed watch.
  self->queued.store(false, std::memory_order_release);
  if (!svc.sched_.reactor().rearm_external(self))
    return;
  // Not re-armed (the backend failed, ENOMEM): nothing would report the pipe
  // again, so queue the watch now as if reported, unless the reactor got
  // there first (AcqRel, as its exchange); it re-arms again when it runs.
  if (!self->queued.exchange(true, std::memory_order_acq_rel))
  {
    op_queue again;
    again.push(self);
    svc.sched_.post_counted(again);
  }
}

void signal_service::shutdown()
{
  op_queue dead;
  {
    registry& reg = the_registry();
    std::lock_guard lock(reg.mutex);
    if (!listed_)
      return;
    listed_ = false;
    if (prev_)
      prev_->next_ = next_;
    else
      reg.services = next_;
    if (next_)
      next_->prev_ = prev_;
    prev_ = next_ = nullptr;
    while (signal_set_impl* s = sets_)
    {
      dead.splice(s->waits);
      (void)drop_all(reg, s, true);
      unlink(s);
    }
    waiting_.store(0, std::memory_order_relaxed);
  }
  sched_.reactor().unwatch_external(&watch_);
  // Destroyed, not run, as every operation of a runtime being destroyed.
  while (operation* op = dead.pop())
    op->destroy();
}

void signal_service::notify_fork(boost::asio::execution_context::fork_event event)
{
  registry& reg = the_registry();
  std::lock_guard lock(reg.mutex);
  switch (event)
  {
  case boost::asio::execution_context::fork_prepare:
    reg.fork_prepared = true;
    break;
  case boost::asio::execution_context::fork_parent:
    reg.fork_prepared = false;
    break;
  case boost::asio::execution_context::fork_child:
    // The runtime's own service has renewed the reactor already (it is
    // registered first), which forgot the watch: watch the pipe again,
    // renewed by the first service of the child.
    if (reg.fork_prepared)
    {
      reg.read_end = sys::signal_pipe_renew();
      reg.fork_prepared = false;
    }
    // A watch still queued (reported, not yet run) stays so: it runs in the
    // child, reads the new pipe and re-arms.
    if (listed_ && reg.read_end != invalid_native_handle)
      sched_.reactor().watch_external(&watch_, reg.read_end);
    break;
  }
}

} // namespace

signal_set_impl* signal_open(runtime& rt)
{
  signal_service& svc = boost::asio::use_service<signal_service>(rt);
  auto impl = std::make_unique<signal_set_impl>();
  registry& reg = the_registry();
  std::lock_guard lock(reg.mutex);
  svc.link(impl.get());
  return impl.release();
}

void signal_close(signal_set_impl* impl) noexcept
{
  {
    registry& reg = the_registry();
    std::lock_guard lock(reg.mutex);
    if (impl->service)
    {
      (void)drop_all(reg, impl, true);
      abort_waits(impl);
      impl->service->unlink(impl);
    }
  }
  delete impl;
}

void signal_add(signal_set_impl* impl, int signal_number, int flags, boost::system::error_code& ec)
{
  if (!valid_number(signal_number))
  {
    ec = boost::asio::error::invalid_argument;
    return;
  }
  if (flags != -1 && !sys::signal_flags_supported())
  {
    ec = boost::asio::error::operation_not_supported;
    return;
  }
  auto fresh = std::make_unique<registration>();
  registry& reg = the_registry();
  std::lock_guard lock(reg.mutex);
  if (!impl->service)
  {
    ec = boost::asio::error::operation_aborted;
    return;
  }
  registration** at = &impl->signals;
  while (*at && (*at)->signal_number < signal_number)
    at = &(*at)->next_in_set;
  if (*at && (*at)->signal_number == signal_number)
  {
    ec.clear(); // already in this set, whatever the flags (Asio's rule)
    return;
  }
  if (reg.count[signal_number] == 0)
  {
    if (const std::error_code e = sys::signal_catch(signal_number, flags))
    {
      ec = to_boost(e);
      return;
    }
    reg.flags[signal_number] = flags;
  }
  else if (flags != -1 && flags != reg.flags[signal_number])
  {
    // Another set registered it with other flags: only "don't care" yields.
    if (reg.flags[signal_number] != -1)
    {
      ec = boost::asio::error::invalid_argument;
      return;
    }
    if (const std::error_code e = sys::signal_catch(signal_number, flags))
    {
      ec = to_boost(e);
      return;
    }
    reg.flags[signal_number] = flags;
  }
  registration* r = fresh.release();
  r->signal_number = signal_number;
  r->set = impl;
  r->next_in_set = *at;
  *at = r;
  registration*& head = impl->service->table(signal_number);
  r->next_in_table = head;
  if (head)
    head->prev_in_table = r;
  head = r;
  ++reg.count[signal_number];
  ec.clear();
}

void signal_remove(signal_set_impl* impl, int signal_number, boost::system::error_code& ec)
{
  if (!valid_number(signal_number))
  {
    ec = boost::asio::error::invalid_argument;
    return;
  }
  registry& reg = the_registry();
  std::lock_guard lock(reg.mutex);
  registration** at = &impl->signals;
  while (*at && (*at)->signal_number < signal_number)
    at = &(*at)->next_in_set;
  registration* r = *at;
  if (!impl->service || !r || r->signal_number != signal_number)
  {
    ec.clear();
    return;
  }
  if ((ec = drop(reg, *impl->service, r, false)))
    return;
  *at = r->next_in_set;
  delete r;
}

void signal_clear(signal_set_impl* impl, boost::system::error_code& ec)
{
  registry& reg = the_registry();
  std::lock_guard lock(reg.mutex);
  ec = impl->service ? drop_all(reg, impl, false) : boost::system::error_code();
}

void signal_cancel(signal_set_impl* impl, boost::system::error_code& ec)
{
  registry& reg = the_registry();
  std::lock_guard lock(reg.mutex);
  if (impl->service)
    abort_waits(impl);
  ec.clear();
}

bool signal_start_wait(signal_set_impl* impl, signal_op* op)
{
  registry& reg = the_registry();
  std::lock_guard lock(reg.mutex);
  signal_service* svc = impl->service;
  if (!svc)
    return false;
  svc->sched().work_started();
  for (registration* r = impl->signals; r; r = r->next_in_set)
  {
    if (r->undelivered == 0)
      continue;
    --r->undelivered;
    op->ec = {};
    op->signal_number = r->signal_number;
    // Queued, never run from here.
    op_queue done;
    done.push(op);
    svc->sched().post_counted(done, op->continuation);
    return true;
  }
  impl->waits.push(op);
  svc->waits_added(1);
  return true;
}

void signal_cancel_key(runtime& rt, const void* key) noexcept
{
  registry& reg = the_registry();
  std::lock_guard lock(reg.mutex);
  // Found through the registry, never through a pointer the cancellation
  // handler kept: the set may be gone, and with it the wait.
  signal_service* svc = reg.services;
  while (svc && &svc->owner() != &rt)
    svc = svc->next();
  if (!svc)
    return;
  for (signal_set_impl* s = svc->sets(); s; s = s->next)
  {
    op_queue keep;
    op_queue aborted;
    while (operation* o = s->waits.pop())
    {
      auto* op = static_cast<signal_op*>(o);
      if (op->cancel_key == key)
      {
        op->ec = boost::asio::error::operation_aborted;
        op->signal_number = 0;
        aborted.push(op);
      }
      else
        keep.push(op);
    }
    s->waits.splice(keep);
    if (!aborted.empty())
    {
      svc->waits_removed(aborted.size());
      svc->sched().post_counted(aborted);
      return;
    }
  }
}

} // namespace nanorun::detail
