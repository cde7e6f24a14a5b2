// Spawned tasks under concurrency: join handles crossing threads, and
// awaitable operators with cancellation on tasks run by two threads (the
// strand-per-task default must keep Asio's cancellation machinery race-free).
#include <nanorun/nanorun.hpp>

#include "stress/watchdog.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace boost::asio::experimental::awaitable_operators;

BOOST_AUTO_TEST_SUITE(stress_tasks)

BOOST_AUTO_TEST_CASE(join_handles_across_threads)
{
  nanorun::test::watchdog dog("join handles", 120s);
  nanorun::thread_pool pool(2);
  auto leaf = [](int x) -> asio::awaitable<int> {
    co_await nanorun::yield_now();
    co_return x;
  };
  auto parent = [&](int base) -> asio::awaitable<int> {
    auto ex = co_await asio::this_coro::executor;
    std::vector<nanorun::join_handle<int>> hs;
    for (int i = 0; i < 8; ++i)
      hs.push_back(nanorun::spawn(ex, leaf(base + i)));
    int sum = 0;
    for (auto& h : hs)
      sum += co_await std::move(h);
    co_return sum;
  };
  std::vector<nanorun::join_handle<int>> top;
  for (int i = 0; i < 500; ++i)
    top.push_back(nanorun::spawn(pool, parent(i * 8)));
  long total = 0;
  for (auto& h : top)
    total += h.get();
  pool.join();
  // Sum of 0 .. 3999.
  BOOST_TEST(total == 3999L * 4000L / 2);
}

BOOST_AUTO_TEST_CASE(or_operator_races_on_two_threads)
{
  nanorun::test::watchdog dog("|| with cancellation", 180s);
  nanorun::runtime rt(2);
  std::atomic<int> received{0};
  std::atomic<int> timed_out{0};
  auto one = [&](int i) -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    asio::experimental::concurrent_channel<void(boost::system::error_code, int)> ch(ex, 1);
    asio::steady_timer timer(ex, std::chrono::microseconds(i % 3 == 0 ? 0 : 200));
    // The send comes from a different task, so it completes on any worker.
    nanorun::spawn(ex, [&ch, i]() -> asio::awaitable<void> {
      co_await ch.async_send(boost::system::error_code{}, i, asio::use_awaitable);
    }()).detach();
    auto r = co_await (ch.async_receive(asio::use_awaitable) || timer.async_wait(asio::use_awaitable));
    if (r.index() == 0)
      ++received;
    else
      ++timed_out;
    ch.close();
  };
  for (int i = 0; i < 300; ++i)
    nanorun::spawn(rt, one(i)).detach();
  std::thread t([&] { rt.run(); });
  rt.run();
  t.join();
  BOOST_TEST(received.load() + timed_out.load() == 300);
}

BOOST_AUTO_TEST_SUITE_END()
