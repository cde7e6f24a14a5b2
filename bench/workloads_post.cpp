// Plain handler posting: the scheduler's hot path with no coroutine machinery.
//
// post-chain K=k: k independent chains; each handler posts its successor with
// boost::asio::post until the chain has run its share of the total. K=1 is
// pure single-chain latency (nothing to steal), K=2 gives each core a chain,
// K=64 gives work-stealing something to balance. Posting from inside the
// context should reach neither malloc nor a shared lock in the steady state.
//
// cross-thread post: a producer outside the context (the main thread) posts
// every handler while the context's threads run them; a work guard keeps run()
// from returning early and the last handler releases it. This is the injector
// path, and the producer has no handler cache, so one allocation per handler
// is expected from every peer.
#include "peers.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <cstdint>
#include <string>

namespace bench {
namespace {

template <class Executor>
struct chain_link
{
  Executor ex;
  std::uint64_t left; // handlers of this chain still to run, this one included
  std::uint64_t ran;  // handlers of this chain that have run
  std::atomic<std::uint64_t>* total;

  void operator()()
  {
    ++ran;
    if (--left == 0)
      total->fetch_add(ran, std::memory_order_relaxed);
    else
      boost::asio::post(ex, std::move(*this));
  }
};

template <class Peer>
measurement post_chain(Peer& p, std::uint64_t handlers, std::uint64_t chains)
{
  std::atomic<std::uint64_t> total{0};
  auto ex = p.executor();
  measurement m = timed_run(p, handlers, [&] {
    for (std::uint64_t i = 0; i < chains; ++i)
    {
      const std::uint64_t len = handlers / chains + (i < handlers % chains ? 1 : 0);
      if (len)
        boost::asio::post(ex, chain_link<decltype(ex)>{ex, len, 0, &total});
    }
  });
  expect_eq(m, "handlers run", total.load(), handlers);
  return m;
}

template <class Peer>
measurement cross_thread(Peer& p, std::uint64_t handlers)
{
  std::atomic<std::uint64_t> count{0};
  auto ex = p.executor();
  auto guard = boost::asio::make_work_guard(ex);
  auto last = [&count, &guard, handlers] {
    if (count.fetch_add(1, std::memory_order_relaxed) + 1 == handlers)
      guard.reset();
  };
  measurement m = timed_run(
      p, handlers, [] {},
      [&] {
        for (std::uint64_t i = 0; i < handlers; ++i)
          boost::asio::post(ex, last);
      });
  expect_eq(m, "handlers run", count.load(), handlers);
  return m;
}

} // namespace

void add_post_workloads(std::vector<workload>& out)
{
  std::vector<peer_id> peers(std::begin(all_peers), std::end(all_peers));
  peers.insert(peers.end(), std::begin(metrics_off_peers), std::end(metrics_off_peers));
  for (std::uint64_t k : {1, 2, 64})
    out.push_back({"post-chain K=" + std::to_string(k), "handlers", "", 10'000'000, peers,
                   [k](peer_id id, std::uint64_t ops) {
                     return with_peer(id, [&](auto& p) { return post_chain(p, ops, k); });
                   }});
  out.push_back({"cross-thread post", "handlers", "", 2'000'000, peers, [](peer_id id, std::uint64_t ops) {
                   return with_peer(id, [&](auto& p) { return cross_thread(p, ops); });
                 }});
}

} // namespace bench
