// The peers under test and the timed-run harness every workload uses.
//
// run_peer<Context> wraps a context that the benchmark runs with threads of
// its own (io_context, nanorun::runtime): work is queued first, then the clock
// starts and the threads call run(), and the clock stops once every run() has
// returned, i.e. when the context ran out of work. pool_peer wraps
// boost::asio::thread_pool, whose threads already run: the clock starts before
// the work is queued and stops when join() returns (join() releases the pool's
// own work, so it returns once the queued work is done).
#pragma once

#include "alloc_count.hpp"
#include "futex_count.hpp"
#include "bench.hpp"

#include <nanorun/nanorun.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <sys/resource.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace bench {

template <class Context>
class run_peer
{
public:
  static constexpr bool self_running = false;

  // hint <= 0: the context's default constructor.
  run_peer(int hint, unsigned threads) : threads_(threads)
  {
    if (hint > 0)
      ctx_.emplace(hint);
    else
      ctx_.emplace();
  }
  run_peer(const run_peer&) = delete;
  run_peer& operator=(const run_peer&) = delete;
  ~run_peer() { wait(); }

  auto executor() { return ctx_->get_executor(); }
  Context& context() { return *ctx_; }
  unsigned threads() const noexcept { return threads_; }

  void start()
  {
    for (unsigned i = 0; i < threads_; ++i)
      running_.emplace_back([this] { ctx_->run(); });
  }

  void wait()
  {
    for (auto& t : running_)
      t.join();
    running_.clear();
  }

private:
  std::optional<Context> ctx_;
  unsigned threads_;
  std::vector<std::thread> running_;
};

class pool_peer
{
public:
  static constexpr bool self_running = true;

  explicit pool_peer(unsigned threads) : pool_(threads), threads_(threads) {}

  auto executor() { return pool_.get_executor(); }
  unsigned threads() const noexcept { return threads_; }
  void start() {}
  void wait() { pool_.join(); }

private:
  boost::asio::thread_pool pool_;
  unsigned threads_;
};

using asio_io_peer = run_peer<boost::asio::io_context>;
using nanorun_peer = run_peer<nanorun::runtime>;

template <class Peer>
inline constexpr bool is_nanorun = std::is_same_v<Peer, nanorun_peer>;

/// User + system CPU time consumed so far by the whole process.
inline double process_cpu_seconds() noexcept
{
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

/// Times one run: `setup` queues the initial work, `foreground` runs on the
/// calling thread (not a thread of the peer) while the peer works.
template <class Peer, class Setup, class Foreground>
measurement timed_run(Peer& p, std::uint64_t ops, Setup&& setup, Foreground&& foreground)
{
  using clock = std::chrono::steady_clock;
  measurement m;
  m.ops = ops;
  clock::time_point t0;
  std::optional<std::uint64_t> f0;
  std::uint64_t a0 = 0;
  double c0 = 0;
  if constexpr (Peer::self_running)
  {
    a0 = allocations();
    f0 = futex_calls();
    c0 = process_cpu_seconds();
    t0 = clock::now();
    setup();
  }
  else
  {
    setup();
    a0 = allocations();
    f0 = futex_calls();
    c0 = process_cpu_seconds();
    t0 = clock::now();
    p.start();
  }
  foreground();
  p.wait();
  const auto t1 = clock::now();
  m.cpu_seconds = process_cpu_seconds() - c0;
  m.allocs = allocations() - a0;
  // Exact: the peer's threads have exited (wait() joins them), except a
  // thread_pool's, joined by wait() too.
  if (const auto f1 = futex_calls(); f0 && f1)
    m.futexes = static_cast<std::int64_t>(*f1 - *f0);
  m.seconds = std::chrono::duration<double>(t1 - t0).count();
  return m;
}

inline measurement timed_run(auto& p, std::uint64_t ops, auto&& setup)
{
  return timed_run(p, ops, setup, [] {});
}

/// Records a failed self-check in m.
inline void expect_eq(measurement& m, const char* what, std::uint64_t got, std::uint64_t want)
{
  if (got != want && m.error.empty())
    m.error = std::string(what) + ": got " + std::to_string(got) + ", expected " + std::to_string(want);
}

/// Builds the peer `id` afresh and calls f(peer).
template <class F>
measurement with_peer(peer_id id, F&& f)
{
  const unsigned n = core_count();
  switch (id)
  {
  case peer_id::asio_io_1: {
    asio_io_peer p(1, 1);
    return f(p);
  }
  case peer_id::asio_io_n: {
    asio_io_peer p(0, n);
    return f(p);
  }
  case peer_id::asio_pool_n: {
    pool_peer p(n);
    return f(p);
  }
  case peer_id::nanorun_1: {
    nanorun_peer p(1, 1);
    return f(p);
  }
  case peer_id::nanorun_n: {
    nanorun_peer p(static_cast<int>(n), n);
    return f(p);
  }
  case peer_id::nanorun_1_nometrics: {
    nanorun_peer p(1, 1);
    p.context().enable_metrics(false);
    return f(p);
  }
  case peer_id::nanorun_n_nometrics: {
    nanorun_peer p(static_cast<int>(n), n);
    p.context().enable_metrics(false);
    return f(p);
  }
  }
  return {};
}

} // namespace bench
