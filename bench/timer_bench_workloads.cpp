// nanorun_timer_bench's measurements, written once for both contexts:
// boost::asio::io_context with boost::asio::steady_timer, and
// nanorun::runtime with nanorun::steady_timer.
//
// Everything runs on the context's own threads: the peer's threads sit in
// run() for the whole measurement (a work guard keeps them there) and the
// benchmark posts one task per thread. Timers are created by the thread that
// arms them, as a server's connections create theirs; nanorun binds a timer to
// the wheel shard of its creating worker, so creating them elsewhere would
// measure a different (and unusual) layout.
//
// The tasks meet at a std::barrier. On two threads that makes both work at
// once, so contention between the workers is part of what is measured, and the
// barrier's completion step stamps the clock while every worker waits: a phase
// is timed from the moment the last worker reached its start to the moment the
// last worker finished it.
#include "alloc_count.hpp"
#include "timer_bench.hpp"

#include <nanorun/runtime.hpp>
#include <nanorun/steady_timer.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <barrier>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <latch>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace tbench {
namespace {

using clock_type = std::chrono::steady_clock;
using std::chrono::nanoseconds;

std::int64_t ns_of(clock_type::time_point t) noexcept
{
  return std::chrono::duration_cast<nanoseconds>(t.time_since_epoch()).count();
}

double seconds_between(clock_type::time_point a, clock_type::time_point b) noexcept
{
  return std::chrono::duration<double>(b - a).count();
}

// User + system CPU time consumed so far by the whole process.
double process_cpu_seconds() noexcept
{
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

// A context whose threads stay inside run() until drain().
template <class Context>
class running_context
{
public:
  running_context(int hint, unsigned threads) : count_(threads)
  {
    if (hint > 0)
      ctx_.emplace(hint);
    else
      ctx_.emplace();
    guard_.emplace(ctx_->get_executor());
    for (unsigned i = 0; i < threads; ++i)
      threads_.emplace_back([this] { ctx_->run(); });
  }
  running_context(const running_context&) = delete;
  running_context& operator=(const running_context&) = delete;
  ~running_context() { drain(); }

  boost::asio::any_io_executor executor() { return ctx_->get_executor(); }
  unsigned threads() const noexcept { return count_; }

  // Runs task(i) for every i in [0, threads()) as handlers on the context and
  // returns once all have returned. Each task must wait at a barrier of
  // threads() parties before its real work: a task blocked there holds its
  // worker, which is what guarantees the others land on the other workers.
  template <class Task>
  void run_on_each_thread(Task& task)
  {
    std::latch done(static_cast<std::ptrdiff_t>(count_));
    for (unsigned i = 0; i < count_; ++i)
      boost::asio::post(ctx_->get_executor(), [&task, &done, i] {
        task(i);
        done.count_down();
      });
    done.wait();
  }

  // Lets run() return once every pending handler has run; joins the threads.
  void drain()
  {
    guard_.reset();
    for (auto& t : threads_)
      t.join();
    threads_.clear();
  }

private:
  unsigned count_;
  std::optional<Context> ctx_; // before the guard and threads: destroyed after them
  std::optional<boost::asio::executor_work_guard<typename Context::executor_type>> guard_;
  std::vector<std::thread> threads_;
};

// The barrier's completion step. It runs once per phase on the last thread to
// arrive, while the others are blocked, so both the clock and the allocation
// counter are read with every worker quiescent.
struct phase_stamps
{
  static constexpr std::size_t max_phases = 3;
  std::array<clock_type::time_point, max_phases> at{};
  std::array<std::uint64_t, max_phases> allocs{};
  std::array<long, max_phases> faults{}; // minor page faults of the process
  std::size_t phases = 0;

  void stamp() noexcept
  {
    if (phases == max_phases)
      return;
    allocs[phases] = bench::allocations();
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    faults[phases] = u.ru_minflt;
    at[phases] = clock_type::now();
    ++phases;
  }
};

// The slice of [0, n) that thread i of `threads` works on.
struct slice
{
  std::size_t lo, hi;
};
slice slice_of(std::size_t n, unsigned i, unsigned threads) noexcept
{
  return {n * i / threads, n * (i + 1) / threads};
}

// ---------------------------------------------------------------------------
// Arm and cancel with many timers armed.

// Without this, page faults would dominate the insert timing. Each wait's
// memory (Asio's operation; nanorun's operation and timer state) comes from the
// arming worker's malloc arena, and a first touch of a fresh page costs
// microseconds on a VM, more than the insert itself. Which peer pays would
// depend on what the allocator happened to keep from earlier runs, so each
// worker faults in `bytes` of its arena before the clock starts and frees
// them; main() tells malloc to keep freed memory mapped (mallopt), and the
// `faults/insert` column shows whether it worked.
void prefault_heap(std::size_t bytes)
{
  constexpr std::size_t block = 64 * 1024; // below the mmap threshold: carved from the arena
  std::vector<void*> blocks;
  blocks.reserve(bytes / block + 1);
  for (std::size_t done = 0; done < bytes; done += block)
  {
    void* p = std::malloc(block);
    if (!p)
      break;
    std::memset(p, 1, block);
    // Keeps the compiler from proving the block unused and dropping the pair.
    asm volatile("" : : "r"(p) : "memory");
    blocks.push_back(p);
  }
  for (void* p : blocks)
    std::free(p);
}

// Generous: both peers use well under this per armed timer.
constexpr std::size_t heap_per_timer = 512;

// What one timer's completion handler saw. Counting both kinds (instead of a
// flag) is what lets the check see a handler that ran twice.
struct outcome
{
  std::uint32_t aborted = 0;
  std::uint32_t other = 0;
};

// The completion handler that records into o.
inline auto record_into(outcome& o)
{
  return [o = &o](const boost::system::error_code& ec) {
    if (ec == boost::asio::error::operation_aborted)
      ++o->aborted;
    else
      ++o->other;
  };
}

// Sums of the outcomes, and how many handlers did not run exactly once.
struct outcome_sums
{
  std::uint64_t aborted = 0, other = 0, not_once = 0;
};
inline outcome_sums sum_outcomes(const std::vector<outcome>& outcomes)
{
  outcome_sums s;
  for (const outcome& o : outcomes)
  {
    s.aborted += o.aborted;
    s.other += o.other;
    s.not_once += o.aborted + o.other != 1 ? 1 : 0;
  }
  return s;
}

template <class Context, class Timer>
sample arm_cancel(const peer& p, std::size_t n)
{
  running_context<Context> ctx(p.hint, p.threads);
  const unsigned threads = ctx.threads();

  // Drawn up front so the timed loops do nothing but the timer calls.
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<std::int64_t> spread(1'000'000'000, 10'999'999'999); // [1 s, 11 s)
  std::vector<clock_type::duration> after(n);
  for (auto& d : after)
    d = std::chrono::duration_cast<clock_type::duration>(nanoseconds(spread(rng)));
  std::vector<outcome> outcomes(n);

  std::vector<std::vector<Timer>> timers(threads);
  std::vector<std::size_t> cancelled(threads, 0);
  phase_stamps stamps;
  auto on_phase = [&stamps]() noexcept { stamps.stamp(); };
  std::barrier sync(static_cast<std::ptrdiff_t>(threads), on_phase);
  const boost::asio::any_io_executor ex = ctx.executor();

  auto task = [&](unsigned i) {
    const slice s = slice_of(n, i, threads);
    std::vector<Timer>& mine = timers[i];
    mine.reserve(s.hi - s.lo);
    for (std::size_t j = s.lo; j < s.hi; ++j)
      mine.emplace_back(ex);
    prefault_heap((s.hi - s.lo) * heap_per_timer);
    sync.arrive_and_wait(); // stamp 0
    for (std::size_t j = s.lo; j < s.hi; ++j)
    {
      Timer& t = mine[j - s.lo];
      t.expires_after(after[j]);
      t.async_wait(record_into(outcomes[j]));
    }
    sync.arrive_and_wait(); // stamp 1
    std::size_t c = 0;
    for (Timer& t : mine)
      c += t.cancel();
    cancelled[i] = c;
    sync.arrive_and_wait(); // stamp 2
  };
  ctx.run_on_each_thread(task);
  ctx.drain(); // the aborted completions run here, untimed

  sample out;
  if (stamps.phases != phase_stamps::max_phases)
  {
    out.error = "internal: the phases were not all stamped";
    return out;
  }
  const double ops = static_cast<double>(n);
  out.values = {seconds_between(stamps.at[0], stamps.at[1]) * 1e9 / ops,
                seconds_between(stamps.at[1], stamps.at[2]) * 1e9 / ops,
                static_cast<double>(stamps.allocs[1] - stamps.allocs[0]) / ops,
                static_cast<double>(stamps.allocs[2] - stamps.allocs[1]) / ops,
                static_cast<double>(stamps.faults[1] - stamps.faults[0]) / ops};

  const auto [aborted, other, not_once] = sum_outcomes(outcomes);
  std::uint64_t cancel_count = 0;
  for (std::size_t c : cancelled)
    cancel_count += c;
  if (not_once)
    out.error = std::to_string(not_once) + " of " + std::to_string(n) + " handlers did not run exactly once";
  else if (cancel_count != aborted)
    out.error = "cancel() returned " + std::to_string(cancel_count) + " in all, but " + std::to_string(aborted) +
                " handlers saw operation_aborted";
  else if (other)
  {
    // Every worker is inside a task from the first arm to the last cancel, so
    // no timer can complete in between; and no wait is due before 1 s anyway.
    std::string what = std::to_string(other) + " waits completed without operation_aborted although cancelled";
    if (seconds_between(stamps.at[0], stamps.at[2]) < 1.0)
      out.error = what + " well before their expiry";
    else
      out.warning = what + " (arming and cancelling took over 1 s, so some may have been due)";
  }
  return out;
}

// ---------------------------------------------------------------------------
// Random deadlines: the shape of a server's timers. Each timer is created in
// the timed region as a program holding one per connection would
// (make_unique), armed at U[1 ms, 10 s), and then half of them, chosen at
// random, are cancelled in random order, so that neither arming nor
// cancelling walks memory in the order it was allocated.

template <class Context, class Timer>
sample arm_cancel_random(const peer& p, std::size_t n)
{
  running_context<Context> ctx(p.hint, p.threads);
  const unsigned threads = ctx.threads();

  std::mt19937_64 rng(2);
  std::uniform_int_distribution<std::int64_t> spread(1'000'000, 9'999'999'999); // [1 ms, 10 s)
  std::vector<clock_type::duration> after(n);
  for (auto& d : after)
    d = std::chrono::duration_cast<clock_type::duration>(nanoseconds(spread(rng)));
  // Each thread cancels a random half of its own timers, in random order.
  std::vector<std::vector<std::uint32_t>> victims(threads);
  std::size_t to_cancel = 0;
  for (unsigned i = 0; i < threads; ++i)
  {
    const slice s = slice_of(n, i, threads);
    std::vector<std::uint32_t>& v = victims[i];
    for (std::size_t j = 0; j < s.hi - s.lo; ++j)
      v.push_back(static_cast<std::uint32_t>(j));
    std::shuffle(v.begin(), v.end(), rng);
    v.resize(v.size() / 2);
    to_cancel += v.size();
  }
  std::vector<outcome> outcomes(n);

  std::vector<std::vector<std::unique_ptr<Timer>>> timers(threads);
  std::vector<std::size_t> cancelled(threads, 0);
  phase_stamps stamps;
  auto on_phase = [&stamps]() noexcept { stamps.stamp(); };
  std::barrier sync(static_cast<std::ptrdiff_t>(threads), on_phase);
  const boost::asio::any_io_executor ex = ctx.executor();

  auto task = [&](unsigned i) {
    const slice s = slice_of(n, i, threads);
    std::vector<std::unique_ptr<Timer>>& mine = timers[i];
    mine.reserve(s.hi - s.lo);
    prefault_heap((s.hi - s.lo) * heap_per_timer);
    sync.arrive_and_wait(); // stamp 0
    for (std::size_t j = s.lo; j < s.hi; ++j)
    {
      Timer& t = *mine.emplace_back(std::make_unique<Timer>(ex));
      t.expires_after(after[j]);
      t.async_wait(record_into(outcomes[j]));
    }
    sync.arrive_and_wait(); // stamp 1
    std::size_t c = 0;
    for (std::uint32_t k : victims[i])
      c += mine[k]->cancel();
    cancelled[i] = c;
    sync.arrive_and_wait(); // stamp 2
    // Untimed: destroying the rest aborts their waits, on either engine.
    // The last barrier keeps every worker inside its task until all timers
    // are gone, so that none of them can fire meanwhile.
    mine.clear();
    sync.arrive_and_wait();
  };
  ctx.run_on_each_thread(task);
  ctx.drain();

  sample out;
  if (stamps.phases != phase_stamps::max_phases)
  {
    out.error = "internal: the phases were not all stamped";
    return out;
  }
  out.values = {seconds_between(stamps.at[0], stamps.at[1]) * 1e9 / static_cast<double>(n),
                seconds_between(stamps.at[1], stamps.at[2]) * 1e9 / static_cast<double>(to_cancel),
                static_cast<double>(stamps.allocs[1] - stamps.allocs[0]) / static_cast<double>(n),
                static_cast<double>(stamps.allocs[2] - stamps.allocs[1]) / static_cast<double>(to_cancel),
                static_cast<double>(stamps.faults[1] - stamps.faults[0]) / static_cast<double>(n)};

  const auto [aborted, other, not_once] = sum_outcomes(outcomes);
  std::uint64_t cancel_count = 0;
  for (std::size_t c : cancelled)
    cancel_count += c;
  // Every worker is inside a task from the first arm to the last destruction,
  // so no wait can fire: all of them end aborted, by cancel() or destruction.
  if (not_once)
    out.error = std::to_string(not_once) + " of " + std::to_string(n) + " handlers did not run exactly once";
  else if (cancel_count != to_cancel)
    out.error = "cancel() returned " + std::to_string(cancel_count) + " in all, for " + std::to_string(to_cancel) +
                " armed timers";
  else if (other)
    out.error = std::to_string(other) + " waits completed without operation_aborted although cancelled or destroyed";
  return out;
}

// ---------------------------------------------------------------------------
// Firing lateness.

// A lateness slot holds nanoseconds past the expiry, or one of these markers.
constexpr std::int64_t not_run = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t failed = not_run + 1;
constexpr std::int64_t ran_twice = not_run + 2;

// Arming 100k timers takes milliseconds (more if the two workers contend),
// and a timer armed after its deadline would report the arming time as
// lateness: the 1 s window therefore opens this long after the run starts.
constexpr auto arm_lead = std::chrono::milliseconds(250);

// Nearest-rank percentile of sorted values, in microseconds.
double percentile_us(const std::vector<std::int64_t>& sorted, double q)
{
  if (sorted.empty())
    return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return static_cast<double>(sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1]) / 1e3;
}

template <class Context, class Timer>
sample lateness(const peer& p, std::size_t n, bool dense)
{
  running_context<Context> ctx(p.hint, p.threads);
  const unsigned threads = ctx.threads();

  std::mt19937_64 rng(2);
  std::uniform_int_distribution<std::int64_t> within(0, 999'999'999); // [0, 1 s)
  std::vector<clock_type::duration> offset(n);
  for (auto& d : offset)
    d = std::chrono::duration_cast<clock_type::duration>(nanoseconds(within(rng)));
  // Preallocated so that a handler only reads the clock and stores.
  std::vector<std::int64_t> late(n, not_run);

  std::vector<std::vector<Timer>> timers(threads);
  std::vector<clock_type::time_point> armed_at(threads);
  std::barrier sync(static_cast<std::ptrdiff_t>(threads));
  const boost::asio::any_io_executor ex = ctx.executor();
  const clock_type::time_point t0 = clock_type::now() + arm_lead;

  auto task = [&](unsigned i) {
    const slice s = slice_of(n, i, threads);
    std::vector<Timer>& mine = timers[i];
    mine.reserve(s.hi - s.lo);
    for (std::size_t j = s.lo; j < s.hi; ++j)
      mine.emplace_back(ex);
    sync.arrive_and_wait();
    for (std::size_t j = s.lo; j < s.hi; ++j)
    {
      Timer& t = mine[j - s.lo];
      const clock_type::time_point expiry = t0 + offset[j];
      t.expires_at(expiry);
      t.async_wait([slot = &late[j], due = ns_of(expiry)](const boost::system::error_code& ec) {
        const std::int64_t now = ns_of(clock_type::now());
        if (*slot != not_run)
          *slot = ran_twice;
        else
          *slot = ec ? failed : now - due;
      });
    }
    armed_at[i] = clock_type::now();
  };
  ctx.run_on_each_thread(task);
  // The CPU the peer burns while it waits for and fires the timers: punctual
  // firing is cheap when the context sleeps until each deadline, and not when
  // it spins.
  const clock_type::time_point wall0 = clock_type::now();
  const double cpu0 = process_cpu_seconds();
  ctx.drain(); // returns once every timer has fired
  const double busy = (process_cpu_seconds() - cpu0) / seconds_between(wall0, clock_type::now());

  std::vector<std::int64_t> ok;
  ok.reserve(n);
  std::size_t missing = 0, errors = 0, twice = 0, early = 0, armed_late = 0;
  std::int64_t earliest = 0;
  for (unsigned i = 0; i < threads; ++i)
  {
    const slice s = slice_of(n, i, threads);
    for (std::size_t j = s.lo; j < s.hi; ++j)
    {
      armed_late += t0 + offset[j] < armed_at[i] ? 1 : 0;
      const std::int64_t v = late[j];
      if (v == not_run)
        ++missing;
      else if (v == failed)
        ++errors;
      else if (v == ran_twice)
        ++twice;
      else
      {
        ok.push_back(v);
        if (v < 0)
        {
          ++early;
          earliest = std::min(earliest, v);
        }
      }
    }
  }
  std::sort(ok.begin(), ok.end());

  sample out;
  const double max_us = ok.empty() ? 0 : static_cast<double>(ok.back()) / 1e3;
  if (dense)
    out.values = {percentile_us(ok, 0.5), percentile_us(ok, 0.99), percentile_us(ok, 0.999), max_us,
                  static_cast<double>(early), busy};
  else
    out.values = {percentile_us(ok, 0.5), percentile_us(ok, 0.99), max_us, static_cast<double>(early), busy};

  const std::string of_n = " of " + std::to_string(n);
  std::string error;
  auto add = [&error](const std::string& e) { error += (error.empty() ? "" : "; ") + e; };
  if (missing)
    add(std::to_string(missing) + of_n + " waits never completed");
  if (errors)
    add(std::to_string(errors) + of_n + " waits completed with an error");
  if (twice)
    add(std::to_string(twice) + of_n + " handlers ran more than once");
  if (early)
    add(std::to_string(early) + of_n + " timers fired early (the earliest " +
        std::to_string(static_cast<double>(-earliest) / 1e3) + " us before its expiry)");
  out.error = error;
  if (armed_late)
    out.warning = std::to_string(armed_late) + " timers were armed after their deadline (arming overran the " +
                  std::to_string(arm_lead.count()) + " ms lead): their lateness includes arming time";
  return out;
}

sample run_arm_cancel(const peer& p, std::size_t n)
{
  if (p.nanorun)
    return arm_cancel<nanorun::runtime, nanorun::steady_timer>(p, n);
  return arm_cancel<boost::asio::io_context, boost::asio::steady_timer>(p, n);
}

sample run_arm_cancel_random(const peer& p, std::size_t n)
{
  if (p.nanorun)
    return arm_cancel_random<nanorun::runtime, nanorun::steady_timer>(p, n);
  return arm_cancel_random<boost::asio::io_context, boost::asio::steady_timer>(p, n);
}

sample run_lateness(const peer& p, std::size_t n, bool dense)
{
  if (p.nanorun)
    return lateness<nanorun::runtime, nanorun::steady_timer>(p, n, dense);
  return lateness<boost::asio::io_context, boost::asio::steady_timer>(p, n, dense);
}

} // namespace

const std::vector<peer>& peers()
{
  // Two threads whatever the machine: the targets are stated for one and two
  // workers. The two-thread io_context keeps its default hint, as a program
  // that shares one io_context between threads would.
  static const std::vector<peer> all = {
      {"io_context(1), 1 thread", false, 1, 1},
      {"io_context, 2 threads", false, 0, 2},
      {"nanorun::runtime(1), 1 thread", true, 1, 1},
      {"nanorun::runtime(2), 2 threads", true, 2, 2},
  };
  return all;
}

std::vector<workload> make_workloads()
{
  std::vector<workload> w;
  w.push_back({arm_cancel_name,
               "Timers created up front (untimed). Timed: each worker arms its share "
               "(expires_after(U[1 s, 11 s)) + async_wait), then cancel() on each; ns per timer, wall clock "
               "from the start barrier until the last worker is done. Then the aborted handlers drain (untimed).",
               1'000'000,
               {{"insert ns", 1, true, false},
                {"cancel ns", 1, true, false},
                {"allocs/insert", 2, false, false},
                {"allocs/cancel", 2, false, false},
                {"faults/insert", 3, false, false}},
               run_arm_cancel});
  w.push_back({arm_cancel_random_name,
               "Timed: each worker creates its share of the timers (make_unique) and arms them "
               "(expires_after(U[1 ms, 10 s)) + async_wait); then cancel() on a random half of them, in random "
               "order. insert ns per timer created and armed, cancel ns per timer cancelled, wall clock from the "
               "start barrier until the last worker is done. Then the rest are destroyed (untimed).",
               1'000'000,
               {{"insert ns", 1, true, false},
                {"cancel ns", 1, true, false},
                {"allocs/insert", 2, false, false},
                {"allocs/cancel", 2, false, false},
                {"faults/insert", 3, false, false}},
               run_arm_cancel_random});
  w.push_back({dense_name,
               "Timers armed with expires_at(t0 + U[0, 1 s)); each handler records now - expiry. Percentiles "
               "over all timers of a run, in microseconds; `early` counts timers that fired before their expiry; "
               "`cores busy` is process CPU time / wall time from the end of arming until the last timer fired.",
               200'000,
               {{"p50 us", 1, true, false},
                {"p99 us", 1, true, false},
                {"p99.9 us", 1, false, false},
                {"max us", 1, false, false},
                {"early", 0, false, true},
                {"cores busy", 2, false, false}},
               [](const peer& p, std::size_t n) { return run_lateness(p, n, true); }});
  w.push_back({sparse_name,
               "As dense, with few timers far apart: between deadlines the context is idle and sleeps, so this "
               "shows how precisely it wakes up for the next one.",
               2'000,
               {{"p50 us", 1, true, false},
                {"p99 us", 1, true, false},
                {"max us", 1, false, false},
                {"early", 0, false, true},
                {"cores busy", 2, false, false}},
               [](const peer& p, std::size_t n) { return run_lateness(p, n, false); }});
  return w;
}

} // namespace tbench
