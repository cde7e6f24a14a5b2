// The scheduler under concurrency: posting from many threads, stealing, the
// park/wake protocol, work counting and stop/restart.
#include <nanorun/nanorun.hpp>

#include "stress/watchdog.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

template <class F>
void run_threads(nanorun::runtime& rt, int n, F&& check_each)
{
  std::vector<std::thread> threads;
  std::vector<std::size_t> counts(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&, i] { counts[static_cast<std::size_t>(i)] = rt.run(); });
  for (auto& t : threads)
    t.join();
  check_each(counts);
}

void spin_until(const std::atomic<bool>& flag)
{
  while (!flag.load(std::memory_order_acquire))
    std::this_thread::yield();
}

} // namespace

BOOST_AUTO_TEST_SUITE(stress_scheduler)

BOOST_AUTO_TEST_CASE(foreign_producers_into_a_multi_threaded_runtime)
{
  nanorun::test::watchdog dog("foreign producers", 120s);
  nanorun::runtime rt(2);
  auto guard = asio::make_work_guard(rt);
  constexpr int producers = 4;
  constexpr int per_producer = 20000;
  std::atomic<int> ran{0};
  std::vector<std::thread> ps;
  for (int p = 0; p < producers; ++p)
    ps.emplace_back([&] {
      for (int i = 0; i < per_producer; ++i)
        asio::post(rt, [&] { ran.fetch_add(1, std::memory_order_relaxed); });
    });
  std::thread closer([&] {
    for (auto& t : ps)
      t.join();
    guard.reset();
  });
  std::size_t total = 0;
  run_threads(rt, 2, [&](auto& counts) {
    for (auto c : counts)
      total += c;
  });
  closer.join();
  BOOST_TEST(ran.load() == producers * per_producer);
  BOOST_TEST(total == static_cast<std::size_t>(producers * per_producer));
}

BOOST_AUTO_TEST_CASE(no_lost_wakeup_one_handler_at_a_time)
{
  // A parked runtime must wake for every single post. If a wake-up is lost the
  // loop below stalls and the watchdog fires.
  nanorun::test::watchdog dog("lost wake-up", 180s);
  nanorun::runtime rt(2);
  auto guard = asio::make_work_guard(rt);
  std::thread a([&] { rt.run(); });
  std::thread b([&] { rt.run(); });
  for (int i = 0; i < 5000; ++i)
  {
    std::atomic<bool> done{false};
    asio::post(rt, [&] {
      // Half the time, bounce through a second post from inside the runtime,
      // so wakes come from workers as well as from outside.
      if (i % 2)
        asio::post(rt, [&] { done.store(true, std::memory_order_release); });
      else
        done.store(true, std::memory_order_release);
    });
    spin_until(done);
  }
  guard.reset();
  a.join();
  b.join();
  BOOST_TEST(rt.stopped());
}

BOOST_AUTO_TEST_CASE(fan_out_trees_end_every_run)
{
  // Work posted from inside handlers, stolen across workers; run() must return
  // on every thread once the tree is done, never before.
  nanorun::test::watchdog dog("fan-out trees", 180s);
  for (int round = 0; round < 200; ++round)
  {
    nanorun::runtime rt(3);
    std::atomic<int> leaves{0};
    struct node
    {
      nanorun::runtime* rt;
      std::atomic<int>* leaves;
      int depth;
      void operator()() const
      {
        if (depth == 0)
        {
          leaves->fetch_add(1, std::memory_order_relaxed);
          return;
        }
        for (int i = 0; i < 4; ++i)
          asio::post(*rt, node{rt, leaves, depth - 1});
      }
    };
    asio::post(rt, node{&rt, &leaves, 5});
    std::size_t total = 0;
    run_threads(rt, 3, [&](auto& counts) {
      for (auto c : counts)
        total += c;
    });
    BOOST_TEST_REQUIRE(leaves.load() == 1024);
    BOOST_TEST_REQUIRE(total == 1365u); // 1 + 4 + ... + 1024
  }
}

BOOST_AUTO_TEST_CASE(tracked_work_moves_between_threads)
{
  // Tracked executors created on one worker and destroyed on another (or
  // outside the runtime) must still count exactly.
  nanorun::test::watchdog dog("tracked work", 120s);
  for (int round = 0; round < 50; ++round)
  {
    nanorun::runtime rt(2);
    std::atomic<int> done{0};
    // Counted after a handler has stored its executor: the releaser must not
    // clear `outside` before the last store (a handler preempted between its
    // count and its store once left a tracked executor behind the clear, and
    // the runtime, rightly, never ran out of work).
    std::atomic<int> stored{0};
    using tracked_t = decltype(asio::require(rt.get_executor(), asio::execution::outstanding_work.tracked));
    std::vector<tracked_t> outside;
    std::mutex m;
    asio::post(rt, [&] {
      for (int i = 0; i < 200; ++i)
      {
        tracked_t w = asio::require(rt.get_executor(), asio::execution::outstanding_work.tracked);
        asio::post(rt, [&, w]() mutable {
          if (done.fetch_add(1) % 10 == 0)
          {
            std::lock_guard lock(m);
            outside.push_back(std::move(w));
          }
          stored.fetch_add(1);
        });
      }
    });
    std::thread releaser([&] {
      // Released from a thread that never runs the runtime.
      while (stored.load() < 200)
        std::this_thread::yield();
      std::this_thread::sleep_for(1ms);
      std::lock_guard lock(m);
      outside.clear();
    });
    run_threads(rt, 2, [](auto&) {});
    releaser.join();
    BOOST_TEST_REQUIRE(done.load() == 200);
    BOOST_TEST_REQUIRE(rt.stopped());
  }
}

BOOST_AUTO_TEST_CASE(stop_and_restart_while_posting)
{
  nanorun::test::watchdog dog("stop/restart", 120s);
  nanorun::runtime rt(2);
  std::atomic<int> ran{0};
  std::atomic<bool> producing{true};
  auto guard = asio::make_work_guard(rt);
  std::thread producer([&] {
    for (int i = 0; i < 20000; ++i)
      asio::post(rt, [&] { ran.fetch_add(1, std::memory_order_relaxed); });
    producing = false;
  });
  while (producing.load())
  {
    std::thread a([&] { rt.run(); });
    std::thread b([&] { rt.run(); });
    std::this_thread::sleep_for(200us);
    rt.stop();
    a.join();
    b.join();
    rt.restart();
  }
  producer.join();
  guard.reset();
  rt.run(); // the rest, then out of work
  BOOST_TEST(ran.load() == 20000);
}

BOOST_AUTO_TEST_CASE(run_one_loops_from_two_threads)
{
  nanorun::test::watchdog dog("run_one loops", 120s);
  nanorun::runtime rt(2);
  std::atomic<int> ran{0};
  for (int i = 0; i < 5000; ++i)
    asio::post(rt, [&, i] {
      ran.fetch_add(1, std::memory_order_relaxed);
      if (i % 7 == 0)
        asio::post(rt, [&] { ran.fetch_add(1, std::memory_order_relaxed); });
    });
  auto loop = [&] {
    while (rt.run_one() != 0)
    {
    }
  };
  std::thread a(loop);
  std::thread b(loop);
  a.join();
  b.join();
  BOOST_TEST(ran.load() == 5000 + 715);
  BOOST_TEST(rt.stopped());
}

BOOST_AUTO_TEST_SUITE_END()
