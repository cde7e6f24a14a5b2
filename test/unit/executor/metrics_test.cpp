// nanorun::runtime::metrics(): every counter through the public API.
#include "unit/io/io_test_support.hpp"
#include "unit/eventually.hpp"

#include <nanorun/nanorun.hpp>

#include <boost/asio/defer.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <thread>

namespace asio = boost::asio;
using namespace std::chrono_literals;

using nanorun_test::eventually;

namespace {

void burn(std::chrono::microseconds d)
{
  const auto end = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < end)
  {
  }
}

} // namespace

BOOST_AUTO_TEST_SUITE(runtime_metrics)

BOOST_AUTO_TEST_CASE(a_new_runtime_counts_nothing)
{
  nanorun::runtime rt(2);
  const nanorun::runtime_metrics m = rt.metrics();
  // One slot per thread the concurrency hint announced, none of them in use.
  BOOST_TEST(m.workers.size() == 2u);
  for (const nanorun::worker_metrics& w : m.workers)
    BOOST_TEST(!w.active);
  BOOST_TEST(m.total().handlers_run == 0u);
  BOOST_TEST(m.injector_depth == 0u);
  BOOST_TEST(m.outstanding_work == 0);
}

BOOST_AUTO_TEST_CASE(handlers_run_matches_what_run_returns)
{
  nanorun::runtime rt(1);
  for (int i = 0; i < 100; ++i)
    asio::post(rt, [] {});
  // Posted from outside: they wait in the injector until a worker comes.
  const nanorun::runtime_metrics before = rt.metrics();
  BOOST_TEST(before.injector_depth == 100u);
  BOOST_TEST(before.outstanding_work >= 100);
  const std::size_t n = rt.run();
  const nanorun::runtime_metrics after = rt.metrics();
  BOOST_TEST(n == 100u);
  BOOST_REQUIRE(after.workers.size() == 1u);
  BOOST_TEST(after.workers[0].handlers_run == n);
  BOOST_TEST(!after.workers[0].active);
  BOOST_TEST(after.injector_depth == 0u);
  BOOST_TEST(after.total().handlers_run == n);
}

BOOST_AUTO_TEST_CASE(local_queue_depth_and_activity_seen_from_inside_a_handler)
{
  nanorun::runtime rt(1);
  nanorun::runtime_metrics inside;
  asio::post(rt, [&] {
    for (int i = 0; i < 5; ++i)
      asio::post(rt, [] {}); // forks: to this worker's local queue
    inside = rt.metrics();
  });
  BOOST_TEST(rt.run() == 6u);
  BOOST_REQUIRE(inside.workers.size() == 1u);
  BOOST_TEST(inside.workers[0].active);
  BOOST_TEST(inside.workers[0].local_queue_depth == 5u);
  BOOST_TEST(rt.metrics().workers[0].local_queue_depth == 0u);
}

BOOST_AUTO_TEST_CASE(continuations_are_lifo_hits)
{
  nanorun::runtime rt(1);
  int left = 100;
  std::function<void()> step = [&] {
    if (--left > 0)
      asio::defer(rt.get_executor(), step); // a continuation: the LIFO slot
  };
  asio::post(rt, step);
  rt.run();
  BOOST_TEST(left == 0);
  BOOST_TEST(rt.metrics().workers[0].lifo_hits == 99u);
  // Fork posts never go through the slot.
  nanorun::runtime rt2(1);
  left = 100;
  std::function<void()> fork = [&] {
    if (--left > 0)
      asio::post(rt2, fork);
  };
  asio::post(rt2, fork);
  rt2.run();
  BOOST_TEST(rt2.metrics().workers[0].lifo_hits == 0u);
}

BOOST_AUTO_TEST_CASE(spawned_tasks_count_their_steps)
{
  nanorun::runtime rt(1);
  auto task = []() -> asio::awaitable<int> {
    co_await nanorun::yield_now();
    co_return 7;
  };
  auto h = nanorun::spawn(rt, task());
  rt.run();
  BOOST_TEST(h.get() == 7);
  const nanorun::worker_metrics w = rt.metrics().workers[0];
  BOOST_TEST(w.task_steps >= 2u); // its start and its resumption after the yield
  BOOST_TEST(w.handlers_run >= w.task_steps);
}

BOOST_AUTO_TEST_CASE(an_idle_worker_parks_and_is_woken_by_a_post)
{
  nanorun::runtime rt(1);
  auto guard = asio::make_work_guard(rt);
  std::thread t([&] { rt.run(); });
  BOOST_TEST(eventually([&] { return rt.metrics().total().parks >= 1; }));
  const std::uint64_t woken_before = rt.metrics().total().wakeups;
  std::atomic<bool> ran{false};
  asio::post(rt, [&] { ran = true; });
  BOOST_TEST(eventually([&] { return ran.load(); }));
  BOOST_TEST(eventually([&] { return rt.metrics().total().wakeups > woken_before; }));
  guard.reset();
  t.join();
  const nanorun::runtime_metrics m = rt.metrics();
  BOOST_TEST(m.workers.size() == 1u);
  BOOST_TEST(m.workers[0].handlers_run == 1u);
}

BOOST_AUTO_TEST_CASE(forks_left_behind_a_long_handler_are_stolen)
{
  nanorun::runtime rt(2);
  auto guard = asio::make_work_guard(rt);
  std::thread a([&] { rt.run(); });
  std::thread b([&] { rt.run(); });
  std::atomic<int> ran{0};
  asio::post(rt, [&] {
    for (int i = 0; i < 64; ++i)
      asio::post(rt, [&] { ran.fetch_add(1); });
    // io_context's rule: the forks may start elsewhere at once. The other
    // worker steals them while this handler computes (given time to be
    // scheduled on a loaded machine).
    const auto limit = std::chrono::steady_clock::now() + 10s;
    while (ran.load() == 0 && std::chrono::steady_clock::now() < limit)
      burn(1ms);
  });
  BOOST_TEST(eventually([&] { return ran.load() == 64; }));
  guard.reset();
  a.join();
  b.join();
  const nanorun::worker_metrics t = rt.metrics().total();
  BOOST_TEST(t.steals >= 1u);
  BOOST_TEST(t.stolen >= t.steals);
  BOOST_TEST(t.steal_attempts >= t.steals);
  BOOST_TEST(t.handlers_run == 65u);
}

BOOST_AUTO_TEST_CASE(timers_armed_inside_and_outside_and_fired)
{
  nanorun::runtime rt(1);
  nanorun::steady_timer outside_a(rt, 1ms), outside_b(rt, 2ms);
  int fired = 0;
  outside_a.async_wait([&](boost::system::error_code) { ++fired; });
  outside_b.async_wait([&](boost::system::error_code) { ++fired; });
  BOOST_TEST(rt.metrics().outside.timers_armed == 2u);
  std::vector<std::unique_ptr<nanorun::steady_timer>> inside;
  asio::post(rt, [&] {
    for (int i = 0; i < 3; ++i)
    {
      inside.push_back(std::make_unique<nanorun::steady_timer>(rt, std::chrono::milliseconds(1 + i)));
      inside.back()->async_wait([&](boost::system::error_code) { ++fired; });
    }
  });
  rt.run();
  BOOST_TEST(fired == 5);
  const nanorun::runtime_metrics m = rt.metrics();
  BOOST_TEST(m.workers[0].timers_armed == 3u);
  BOOST_TEST(m.outside.timers_armed == 2u);
  BOOST_TEST(m.total().timers_armed == 5u);
  BOOST_TEST(m.total().timers_fired == 5u);
}

BOOST_AUTO_TEST_CASE(cancelled_timers_are_armed_but_not_fired)
{
  nanorun::runtime rt(1);
  nanorun::steady_timer t(rt, 1h);
  bool aborted = false;
  t.async_wait([&](boost::system::error_code ec) { aborted = ec == asio::error::operation_aborted; });
  t.cancel();
  rt.run();
  BOOST_TEST(aborted);
  BOOST_TEST(rt.metrics().total().timers_armed == 1u);
  BOOST_TEST(rt.metrics().total().timers_fired == 0u);
}

BOOST_AUTO_TEST_CASE(the_reactor_counts_waits_polls_and_events)
{
  nanorun::runtime rt(1);
  auto pair = io_test::connected_pair(rt);
  char in[4] = {};
  std::size_t got = 0;
  asio::async_read(pair.server, asio::buffer(in), [&](boost::system::error_code ec, std::size_t n) {
    BOOST_TEST(!ec);
    got = n;
  });
  std::thread t([&] { rt.run(); });
  // The read waits: the idle worker blocks in the reactor.
  BOOST_TEST(eventually([&] { return rt.metrics().total().reactor_waits >= 1; }));
  asio::write(pair.client, asio::buffer("abcd", 4));
  t.join();
  BOOST_TEST(got == 4u);
  const nanorun::worker_metrics w = rt.metrics().workers[0];
  BOOST_TEST(w.reactor_events >= 1u);

  // Between handlers, a busy worker polls the reactor without blocking.
  rt.restart();
  int left = 1000;
  std::function<void()> chain = [&] {
    if (--left > 0)
      asio::post(rt, chain);
  };
  asio::post(rt, chain);
  const std::uint64_t polls_before = w.reactor_polls;
  rt.run();
  BOOST_TEST(rt.metrics().workers[0].reactor_polls > polls_before);
}

BOOST_AUTO_TEST_CASE(counting_can_be_turned_off_and_on)
{
  nanorun::runtime rt(1);
  rt.enable_metrics(false);
  for (int i = 0; i < 10; ++i)
    asio::post(rt, [] {});
  BOOST_TEST(rt.run() == 10u);
  BOOST_TEST(rt.metrics().total().handlers_run == 0u);
  rt.enable_metrics(true);
  rt.restart();
  for (int i = 0; i < 10; ++i)
    asio::post(rt, [] {});
  BOOST_TEST(rt.run() == 10u);
  BOOST_TEST(rt.metrics().total().handlers_run == 10u);
}

BOOST_AUTO_TEST_CASE(a_thread_pool_has_metrics_too)
{
  nanorun::thread_pool pool(2);
  std::atomic<int> n{0};
  for (int i = 0; i < 100; ++i)
    asio::post(pool, [&] { n.fetch_add(1); });
  pool.join();
  BOOST_TEST(n.load() == 100);
  BOOST_TEST(pool.metrics().total().handlers_run == 100u);
}

BOOST_AUTO_TEST_SUITE_END()
