// Coroutine workloads: spawning and yielding.
//
// co_spawn fan-out: a root coroutine on the context co_spawns N trivial
// coroutines (each bumps an atomic counter) with `detached`. Every spawn costs
// coroutine frames plus at least one post, so this is the price of a task.
// The root yields every `fanout_batch` spawns (--batch, default 1024) so the
// finished children can retire (an Asio child that completes inside co_spawn
// holds its frames until one more post has run); without that, 1M children
// would sit in memory at once. The batch size matters: a batch larger than a
// scheduler's per-thread queue or handler cache pays for the overflow.
//
// co_spawn(strand) fan-out: the same on make_strand(ex) per child, on every
// peer: the fair baseline for nanorun::spawn, which gives each task a strand.
//
// nanorun::spawn fan-out: the same with nanorun::spawn, handles detached, and
// a second variant that awaits every handle (co_await std::move(h)). nanorun
// only; the table's ratios compare it with the peers' plain co_spawn fan-out,
// the "strand cost" section with co_spawn(strand).
//
// yield ping-pong: two coroutines that each yield in a loop; 5M yields in all.
// nanorun yields with nanorun::yield_now(), Asio with
// co_await post(ex, use_awaitable). On one thread the two strictly alternate,
// which the workload checks (a yield that does not let the other coroutine run
// would be a suspect result; it is flagged as a warning).
#include "peers.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace bench {

std::uint64_t fanout_batch = 1024;

namespace {

namespace asio = boost::asio;
using asio::awaitable;

enum class spawn_kind
{
  co_spawn,           // co_spawn(ex, child, detached)
  co_spawn_strand,    // co_spawn(make_strand(ex), child, detached)
  nanorun_detached,   // nanorun::spawn(ex, child).detach()
  nanorun_joined,     // co_await std::move(nanorun::spawn(ex, child))
};

// The idiomatic "let others run" of each peer.
template <class Peer>
auto yield_op(const asio::any_io_executor& ex)
{
  if constexpr (is_nanorun<Peer>)
  {
    (void)ex;
    return nanorun::yield_now()(asio::use_awaitable);
  }
  else
    return asio::post(ex, asio::use_awaitable);
}

awaitable<void> child(std::atomic<std::uint64_t>* counter)
{
  counter->fetch_add(1, std::memory_order_relaxed);
  co_return;
}

template <class Peer, spawn_kind Kind, class Executor>
awaitable<void> fan_out_root(Executor ex, std::uint64_t n, std::atomic<std::uint64_t>* counter,
                             std::uint64_t* joined)
{
  const asio::any_io_executor self = co_await asio::this_coro::executor;
  [[maybe_unused]] std::vector<nanorun::join_handle<void>> handles;
  if constexpr (Kind == spawn_kind::nanorun_joined)
    handles.reserve(fanout_batch);
  for (std::uint64_t done = 0; done < n;)
  {
    const std::uint64_t b = std::min(fanout_batch, n - done);
    for (std::uint64_t i = 0; i < b; ++i)
    {
      if constexpr (Kind == spawn_kind::co_spawn)
        asio::co_spawn(ex, child(counter), asio::detached);
      else if constexpr (Kind == spawn_kind::co_spawn_strand)
        asio::co_spawn(asio::make_strand(ex), child(counter), asio::detached);
      else if constexpr (Kind == spawn_kind::nanorun_detached)
        nanorun::spawn(ex, child(counter)).detach();
      else
        handles.push_back(nanorun::spawn(ex, child(counter)));
    }
    done += b;
    if constexpr (Kind == spawn_kind::nanorun_joined)
    {
      for (auto& h : handles)
      {
        co_await std::move(h);
        ++*joined;
      }
      handles.clear();
    }
    else
      co_await yield_op<Peer>(self);
  }
}

template <spawn_kind Kind, class Peer>
measurement fan_out(Peer& p, std::uint64_t n)
{
  std::atomic<std::uint64_t> counter{0};
  std::uint64_t joined = 0;
  auto ex = p.executor();
  measurement m = timed_run(p, n, [&] {
    asio::co_spawn(ex, fan_out_root<Peer, Kind>(ex, n, &counter, &joined), asio::detached);
  });
  expect_eq(m, "children run", counter.load(), n);
  if (Kind == spawn_kind::nanorun_joined)
    expect_eq(m, "handles joined", joined, n);
  return m;
}

struct ping_state
{
  std::atomic<std::uint64_t> yields{0};
  std::atomic<std::uint64_t> handoffs{0}; // resumptions that found the other coroutine ran last
  std::atomic<int> last{-1};              // id of the coroutine that ran last (1-thread peers only)
  bool track = false;
};

template <class Peer>
awaitable<void> pinger(int id, std::uint64_t n, ping_state* st)
{
  const asio::any_io_executor ex = co_await asio::this_coro::executor;
  std::uint64_t handoffs = 0;
  for (std::uint64_t i = 0; i < n; ++i)
  {
    if (st->track)
      st->last.store(id, std::memory_order_relaxed);
    co_await yield_op<Peer>(ex);
    if (st->track && st->last.load(std::memory_order_relaxed) != id)
      ++handoffs;
  }
  st->yields.fetch_add(n, std::memory_order_relaxed);
  st->handoffs.fetch_add(handoffs, std::memory_order_relaxed);
}

template <bool UseNanorunSpawn, class Peer>
measurement ping_pong(Peer& p, std::uint64_t switches)
{
  ping_state st;
  st.track = p.threads() == 1;
  auto ex = p.executor();
  const std::uint64_t n0 = switches - switches / 2, n1 = switches / 2;
  measurement m = timed_run(p, switches, [&] {
    if constexpr (UseNanorunSpawn)
    {
      nanorun::spawn(ex, pinger<Peer>(0, n0, &st)).detach();
      nanorun::spawn(ex, pinger<Peer>(1, n1, &st)).detach();
    }
    else
    {
      asio::co_spawn(ex, pinger<Peer>(0, n0, &st), asio::detached);
      asio::co_spawn(ex, pinger<Peer>(1, n1, &st), asio::detached);
    }
  });
  expect_eq(m, "yields", st.yields.load(), switches);
  // Strict alternation: every resumption but the last couple finds the other
  // ran. A miss is a fairness defect, not a wrong count: warn, keep the rate.
  if (st.track && st.handoffs.load() + 2 < switches)
    m.warning = "the coroutines did not alternate: " + std::to_string(st.handoffs.load()) + " of " +
                std::to_string(switches) + " resumptions followed the other coroutine";
  return m;
}

template <spawn_kind Kind>
auto fan_out_runner()
{
  return [](peer_id id, std::uint64_t ops) {
    return with_peer(id, [&]<class Peer>(Peer& p) -> measurement {
      if constexpr ((Kind == spawn_kind::nanorun_detached || Kind == spawn_kind::nanorun_joined) &&
                    !is_nanorun<Peer>)
      {
        measurement m;
        m.error = "nanorun only";
        return m;
      }
      else
        return fan_out<Kind>(p, ops);
    });
  };
}

} // namespace

void add_coro_workloads(std::vector<workload>& out)
{
  const std::vector<peer_id> all(std::begin(all_peers), std::end(all_peers));
  const std::vector<peer_id> nr(std::begin(nanorun_peers), std::end(nanorun_peers));
  out.push_back({"co_spawn fan-out", "spawns", "", 1'000'000, all, fan_out_runner<spawn_kind::co_spawn>()});
  out.push_back({"co_spawn(strand) fan-out", "spawns", "", 1'000'000, all,
                 fan_out_runner<spawn_kind::co_spawn_strand>()});
  out.push_back({"nanorun::spawn fan-out, detached", "spawns", "co_spawn fan-out", 1'000'000, nr,
                 fan_out_runner<spawn_kind::nanorun_detached>()});
  out.push_back({"nanorun::spawn fan-out, joined", "spawns", "co_spawn fan-out", 1'000'000, nr,
                 fan_out_runner<spawn_kind::nanorun_joined>()});
  out.push_back({"yield ping-pong", "switches", "", 5'000'000, all, [](peer_id id, std::uint64_t ops) {
                   return with_peer(id, [&](auto& p) { return ping_pong<false>(p, ops); });
                 }});
  out.push_back({"yield ping-pong, nanorun::spawn tasks", "switches", "yield ping-pong", 5'000'000, nr,
                 [](peer_id id, std::uint64_t ops) {
                   return with_peer(id, [&]<class Peer>(Peer& p) -> measurement {
                     if constexpr (is_nanorun<Peer>)
                       return ping_pong<true>(p, ops);
                     else
                     {
                       measurement m;
                       m.error = "nanorun only";
                       return m;
                     }
                   });
                 }});
}

} // namespace bench
