// Spawned tasks under concurrency: join handles crossing threads, and
// awaitable operators with cancellation on tasks run by two threads (the
// strand-per-task default must keep Asio's cancellation machinery race-free).
#include <nanorun/nanorun.hpp>

#include "stress/runners.hpp"
#include "stress/watchdog.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
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
  using channel_t = asio::experimental::concurrent_channel<void(boost::system::error_code, int)>;
  // Coroutine parameters, not lambda captures: a task may start after the
  // expression that spawned it has ended.
  auto sender = [](std::shared_ptr<channel_t> ch, int i) -> asio::awaitable<void> {
    boost::system::error_code ec; // the receiver may have closed the channel
    co_await ch->async_send(boost::system::error_code{}, i, asio::redirect_error(asio::use_awaitable, ec));
  };
  auto one = [&](int i) -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto ch = std::make_shared<channel_t>(ex, 1);
    asio::steady_timer timer(ex, std::chrono::microseconds(i % 3 == 0 ? 0 : 200));
    // The send comes from a different task, so it completes on any worker.
    nanorun::spawn(ex, sender(ch, i)).detach();
    auto r = co_await (ch->async_receive(asio::use_awaitable) || timer.async_wait(asio::use_awaitable));
    if (r.index() == 0)
      ++received;
    else
      ++timed_out;
    // close() alone does not end a send that is waiting (asio#1318): the
    // sender task may start on another worker after the receive was
    // cancelled, as it may on a multi-threaded io_context, so cancel too.
    ch->cancel();
    ch->close();
  };
  for (int i = 0; i < 300; ++i)
    nanorun::spawn(rt, one(i)).detach();
  std::thread t([&] { rt.run(); });
  rt.run();
  t.join();
  BOOST_TEST(received.load() + timed_out.load() == 300);
}

BOOST_AUTO_TEST_CASE(task_executor_serialises_posts_from_many_threads)
{
  nanorun::test::watchdog dog("task_executor serialisation", 120s);
  nanorun::runtime rt(2);
  auto guard = asio::make_work_guard(rt);
  nanorun::task_executor task(rt);
  constexpr int producers = 4;
  constexpr int per_producer = 5000;
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};
  int ran = 0;                                 // only touched inside the task: no atomics needed
  std::vector<int> last_seen(producers, -1);   // per-producer FIFO check, inside the task
  bool fifo = true;
  std::vector<std::thread> ps;
  for (int p = 0; p < producers; ++p)
    ps.emplace_back([&, p] {
      for (int i = 0; i < per_producer; ++i)
        asio::post(task, [&, p, i] {
          const int now = in_flight.fetch_add(1) + 1;
          int seen = max_in_flight.load();
          while (now > seen && !max_in_flight.compare_exchange_weak(seen, now))
          {
          }
          if (last_seen[static_cast<std::size_t>(p)] != i - 1)
            fifo = false;
          last_seen[static_cast<std::size_t>(p)] = i;
          if (++ran == producers * per_producer)
            guard.reset();
          in_flight.fetch_sub(1);
        });
    });
  std::thread t([&] { rt.run(); });
  rt.run();
  t.join();
  for (auto& th : ps)
    th.join();
  BOOST_TEST(ran == producers * per_producer);
  BOOST_TEST(max_in_flight.load() == 1);
  BOOST_TEST(fifo);
}

BOOST_AUTO_TEST_CASE(a_handler_waiting_for_its_own_post_is_unblocked)
{
  // A handler posts work and blocks until it has run; as on io_context, the
  // other worker must run it (a fork post is stealable and wakes it).
  nanorun::test::watchdog dog("post then wait", 120s);
  nanorun::runtime rt(2);
  auto guard = asio::make_work_guard(rt);
  std::thread t([&] { rt.run(); });
  std::thread u([&] { rt.run(); });
  for (int round = 0; round < 20; ++round)
  {
    std::atomic<bool> outer_done{false};
    asio::post(rt, [&] {
      std::atomic<bool> inner_ran{false};
      asio::post(rt, [&] { inner_ran.store(true); });
      while (!inner_ran.load())
        std::this_thread::yield();
      outer_done.store(true);
    });
    while (!outer_done.load())
      std::this_thread::yield();
  }
  guard.reset();
  t.join();
  u.join();
  BOOST_TEST(rt.stopped());
}

// Coroutine frames spawned on one worker and freed on another go back to an
// allocating worker through the frame exchange (src/executor/frame_exchange.hpp).
// Each child fills a frame-local array with its own pattern, suspends (so
// that other children run and free frames meanwhile) and checks the pattern:
// a frame handed to two live coroutines at once, or reused before it was
// freed, breaks it. Frames of three sizes cross, so blocks too small for a
// request are met too. Under TSan this is the exchange's race test.
template <std::size_t Words>
asio::awaitable<void> patterned_child(std::uint64_t id, std::atomic<long>& bad, std::atomic<long>& done)
{
  std::array<std::uint64_t, Words> local;
  for (std::size_t i = 0; i < Words; ++i)
    local[i] = id * 0x9e3779b97f4a7c15ull + i;
  co_await nanorun::yield_now();
  for (std::size_t i = 0; i < Words; ++i)
    if (local[i] != id * 0x9e3779b97f4a7c15ull + i)
    {
      bad.fetch_add(1);
      break;
    }
  done.fetch_add(1);
}

BOOST_AUTO_TEST_CASE(frames_crossing_workers_are_reused_intact)
{
  nanorun::test::watchdog dog("frames crossing workers", 300s);
#if defined(__SANITIZE_THREAD__)
  constexpr int children = 20'000;
#else
  constexpr int children = 200'000;
#endif
  for (int threads : {2, 4})
  {
    nanorun::runtime rt(threads);
    std::atomic<long> bad{0}, done{0};
    asio::co_spawn(
        rt,
        [&]() -> asio::awaitable<void> {
          auto ex = co_await asio::this_coro::executor;
          for (int i = 0; i < children; ++i)
          {
            const auto id = static_cast<std::uint64_t>(i);
            switch (i % 3)
            {
            case 0:
              asio::co_spawn(ex, patterned_child<4>(id, bad, done), asio::detached);
              break;
            case 1:
              asio::co_spawn(ex, patterned_child<40>(id, bad, done), asio::detached);
              break;
            default:
              nanorun::spawn(ex, patterned_child<120>(id, bad, done)).detach();
              break;
            }
            if (i % 1024 == 0)
              co_await nanorun::yield_now(); // let the others free some meanwhile
          }
        },
        asio::detached);
    nanorun::test::runners run(rt, threads);
    run.join();
    BOOST_TEST(done.load() == children);
    BOOST_TEST(bad.load() == 0);
  }
}

// Several threads each block_on short tasks, with no other work: every task
// finishing empties the runtime, and the stop that follows must not abort the
// block_on another thread has just begun (its task holds work).
BOOST_AUTO_TEST_CASE(block_on_from_three_threads_while_the_runtime_empties)
{
  nanorun::test::watchdog dog("block_on from three threads", 120s);
  nanorun::runtime rt(2);
  std::atomic<int> wrong{0}, failed{0};
  auto task = [](int v) -> asio::awaitable<int> {
    if (v % 2)
      co_await nanorun::yield_now();
    co_return v;
  };
  auto caller = [&](int base) {
    for (int i = 0; i < 2000; ++i)
    {
      try
      {
        if (rt.block_on(task(base + i)) != base + i)
          ++wrong;
      }
      catch (...)
      {
        ++failed;
      }
    }
  };
  std::thread a([&] { caller(1000000); });
  std::thread b([&] { caller(2000000); });
  caller(0);
  a.join();
  b.join();
  BOOST_TEST(wrong.load() == 0);
  BOOST_TEST(failed.load() == 0);
}

// stop() racing block_on: a block_on either returns its value or throws
// operation_aborted, and the stop() is never undone by the restart of a
// stale stop: the runtime stays stopped, and a block_on afterwards throws.
// (One begun after stop() returned may still see its task run, by a worker
// that had passed its stop check, as with io_context, so that is not
// asserted.)
BOOST_AUTO_TEST_CASE(stop_racing_block_on_is_never_undone)
{
  nanorun::test::watchdog dog("stop racing block_on", 120s);
  for (int round = 0; round < 200; ++round)
  {
    nanorun::runtime rt(2);
    std::atomic<int> other{0};
    auto task = [](int v) -> asio::awaitable<int> { co_return v; };
    auto caller = [&] {
      for (int i = 0; i < 50; ++i)
      {
        try
        {
          if (rt.block_on(task(i)) != i)
            ++other;
        }
        catch (const boost::system::system_error& e)
        {
          if (e.code() != asio::error::operation_aborted)
            ++other;
        }
      }
    };
    std::thread a(caller);
    std::thread b([&] {
      std::this_thread::yield();
      rt.stop();
    });
    caller();
    a.join();
    b.join();
    BOOST_TEST(other.load() == 0);
    BOOST_TEST(rt.stopped());
    BOOST_CHECK_THROW(rt.block_on(task(-1)), boost::system::system_error);
  }
}

BOOST_AUTO_TEST_SUITE_END()
