// Runtime metrics under concurrency: snapshots taken from other threads while
// workers post, steal, park and fire timers (a data race here is a TSan
// report; a lost wake-up caused by a snapshot is a watchdog timeout).
#include <nanorun/nanorun.hpp>

#include "stress/watchdog.hpp"

#include <boost/asio/post.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(metrics_stress)

BOOST_AUTO_TEST_CASE(snapshots_race_the_workers_and_never_go_backwards)
{
  nanorun::test::watchdog dog("metrics_stress/snapshots_race_the_workers_and_never_go_backwards", 120s);
  nanorun::runtime rt(2);
  constexpr int rounds = 200;
  constexpr int fanout = 200;
  std::atomic<bool> finished{false};
  std::atomic<long> ran{0};
  std::size_t snapshots = 0;
  bool monotone = true;
  std::thread reader([&] {
    nanorun::worker_metrics last;
    while (!finished.load(std::memory_order_acquire))
    {
      const nanorun::worker_metrics now = rt.metrics().total();
      // Each counter on its own: a snapshot reads counters one after another,
      // so relations between them hold only once the workers are done.
      monotone = monotone && now.handlers_run >= last.handlers_run && now.steals >= last.steals &&
                 now.stolen >= last.stolen && now.steal_attempts >= last.steal_attempts &&
                 now.parks >= last.parks && now.timers_fired >= last.timers_fired;
      last = now;
      ++snapshots;
    }
  });
  std::size_t total_run = 0;
  for (int r = 0; r < rounds; ++r)
  {
    // From outside (the injector), each handler forking more (local queues,
    // steals), and a timer each round (the driver fires it).
    asio::post(rt, [&] {
      for (int i = 0; i < fanout; ++i)
        asio::post(rt, [&] { ran.fetch_add(1, std::memory_order_relaxed); });
    });
    auto timer = std::make_shared<nanorun::steady_timer>(rt, std::chrono::microseconds(100 * (r % 5)));
    timer->async_wait([timer](boost::system::error_code) {});
    std::vector<std::thread> threads;
    std::vector<std::size_t> counts(2);
    for (std::size_t i = 0; i < 2; ++i)
      threads.emplace_back([&, i] { counts[i] = rt.run(); });
    for (auto& t : threads)
      t.join();
    total_run += counts[0] + counts[1];
    rt.restart();
  }
  finished.store(true, std::memory_order_release);
  reader.join();
  BOOST_TEST(monotone);
  BOOST_TEST(snapshots > 0u);
  BOOST_TEST(ran.load() == long{rounds} * fanout);
  const nanorun::runtime_metrics m = rt.metrics();
  // Every handler run() counted is in the metrics, on some worker.
  BOOST_TEST(m.total().handlers_run == total_run);
  BOOST_TEST(m.total().timers_armed == std::uint64_t{rounds});
  BOOST_TEST(m.total().timers_fired == std::uint64_t{rounds});
  BOOST_TEST(m.injector_depth == 0u);
  BOOST_TEST(m.total().stolen >= m.total().steals);
  BOOST_TEST(m.total().steal_attempts >= m.total().steals);
}

BOOST_AUTO_TEST_SUITE_END()
