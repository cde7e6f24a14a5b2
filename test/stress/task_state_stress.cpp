// The spawned task's state machine under concurrency (src/task/ and
// include/nanorun/detail/join_state.hpp, spawned_task.hpp): a join registered
// while the task completes on another worker, handles detached or dropped
// while the task finishes, blocking get() racing completion, tasks destroyed
// with the runtime while still queued, and task blocks returned across
// workers. Run under ThreadSanitizer and the perturbation seeds.
#include <nanorun/nanorun.hpp>

#include "stress/runners.hpp"
#include "stress/watchdog.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>
#include <boost/test/unit_test.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

#if defined(__SANITIZE_THREAD__)
constexpr int rounds = 2'000;
#else
constexpr int rounds = 20'000;
#endif

asio::awaitable<int> quick(int v) { co_return v; }

asio::awaitable<int> yields_then(int v, int n)
{
  for (int i = 0; i < n; ++i)
    co_await nanorun::yield_now();
  co_return v;
}

// A result big enough to change the block's size class.
struct wide
{
  std::array<std::uint64_t, 24> words{};
};

asio::awaitable<wide> wide_result(std::uint64_t seed)
{
  wide w;
  for (std::size_t i = 0; i < w.words.size(); ++i)
    w.words[i] = seed * 31 + i;
  co_return w;
}

} // namespace

BOOST_AUTO_TEST_SUITE(stress_task_state)

// The join is registered from a foreign thread while the task completes on a
// worker: whichever of `done` and `waiting` comes second completes the waiter,
// exactly once, with the value.
BOOST_AUTO_TEST_CASE(joins_race_completion)
{
  nanorun::test::watchdog dog("joins racing completion", 240s);
  nanorun::runtime rt(2);
  auto work = asio::make_work_guard(rt);
  nanorun::test::runners run(rt, 2);
  std::atomic<long> sum{0}, calls{0}, errors{0};
  long expected = 0;
  for (int i = 0; i < rounds; ++i)
  {
    auto h = nanorun::spawn(rt, quick(i));
    if (i % 4 == 0)
      std::this_thread::yield(); // sometimes the task is done first
    h.async_join([&](std::exception_ptr e, int v) {
      if (e)
        errors.fetch_add(1);
      sum.fetch_add(v, std::memory_order_relaxed);
      calls.fetch_add(1); // seq_cst: the test's wait below synchronises with it
    });
    expected += i;
  }
  while (calls.load() < rounds)
    std::this_thread::sleep_for(1ms);
  BOOST_TEST(sum.load() == expected);
  BOOST_TEST(errors.load() == 0);
  work.reset();
}

// co_await of a handle whose task runs on the other worker, from tasks on both
// workers: the waiter lives inside the task's block, the task is freed by
// whichever side lets go last.
BOOST_AUTO_TEST_CASE(co_await_races_completion_on_two_workers)
{
  nanorun::test::watchdog dog("co_await racing completion", 240s);
  nanorun::runtime rt(2);
  std::atomic<long> sum{0};
  constexpr int parents = 64;
  const int per_parent = rounds / 16;
  for (int p = 0; p < parents; ++p)
    nanorun::spawn(rt, [](int n, std::atomic<long>& out) -> asio::awaitable<void> {
      auto ex = co_await asio::this_coro::executor;
      long s = 0;
      for (int i = 0; i < n; ++i)
        s += co_await nanorun::spawn(ex, yields_then(i, i % 3));
      out.fetch_add(s);
    }(per_parent, sum)).detach();
  nanorun::test::runners run(rt, 2);
  run.join();
  BOOST_TEST(sum.load() == long{parents} * (long{per_parent} * (per_parent - 1) / 2));
}

// Handles detached, dropped or moved away on a foreign thread while their
// tasks finish: every task runs once, nothing leaks (LSan), nothing is freed
// twice (ASan/TSan).
BOOST_AUTO_TEST_CASE(detach_races_completion)
{
  nanorun::test::watchdog dog("detach racing completion", 240s);
  nanorun::runtime rt(2);
  auto work = asio::make_work_guard(rt);
  nanorun::test::runners run(rt, 2);
  std::atomic<int> ran{0};
  auto body = [](std::atomic<int>& r, int n) -> asio::awaitable<int> {
    for (int i = 0; i < n; ++i)
      co_await nanorun::yield_now();
    r.fetch_add(1);
    co_return n;
  };
  for (int i = 0; i < rounds; ++i)
  {
    auto h = nanorun::spawn(rt, body(ran, i % 2));
    switch (i % 3)
    {
    case 0:
      h.detach();
      break;
    case 1:
      break; // dropped: detaches
    default: {
      auto moved = std::move(h);
      BOOST_TEST(!h.valid());
      (void)moved.is_finished(); // reads the state word while the task may finish
      break;
    }
    }
  }
  while (ran.load() < rounds)
    std::this_thread::sleep_for(1ms);
  work.reset();
}

// get() blocks a foreign thread while a worker completes the task: the
// completer wakes the word only when the blocked bit is set, and must not
// miss it.
BOOST_AUTO_TEST_CASE(blocking_get_races_completion)
{
  nanorun::test::watchdog dog("get racing completion", 240s);
  nanorun::runtime rt(2);
  auto work = asio::make_work_guard(rt);
  nanorun::test::runners run(rt, 2);
  std::vector<std::thread> getters;
  std::atomic<long> sum{0};
  for (int t = 0; t < 2; ++t)
    getters.emplace_back([&, t] {
      for (int i = 0; i < rounds / 4; ++i)
        sum.fetch_add(nanorun::spawn(rt, yields_then(t, i % 2)).get());
    });
  for (auto& g : getters)
    g.join();
  BOOST_TEST(sum.load() == long{rounds} / 4);
  work.reset();
}

// Tasks still queued (notified, or never started) when the runtime is
// destroyed: each handle reports either the value or operation_aborted, once;
// a waiter registered before the destruction is completed too.
BOOST_AUTO_TEST_CASE(tasks_dropped_while_notified)
{
  nanorun::test::watchdog dog("tasks dropped while queued", 240s);
  for (int round = 0; round < 20; ++round)
  {
    std::vector<nanorun::join_handle<int>> handles;
    std::atomic<int> waiter_calls{0}, waiter_aborts{0};
    {
      nanorun::runtime rt(2);
      for (int i = 0; i < 400; ++i)
        handles.push_back(nanorun::spawn(rt, yields_then(i, 1 + i % 5)));
      // Joined through callbacks, which run on the system executor (outlives rt).
      for (int i = 0; i < 40; ++i)
        nanorun::spawn(rt, yields_then(i, 1000)).async_join([&](std::exception_ptr e, int) {
          if (e)
            waiter_aborts.fetch_add(1);
          waiter_calls.fetch_add(1); // last: the test waits for it, then reuses the stack
        });
      std::thread t([&] { rt.run_for(std::chrono::microseconds(50 * (round % 4))); });
      t.join();
    } // destroyed with tasks queued and suspended
    int values = 0, aborted = 0;
    for (int i = 0; i < static_cast<int>(handles.size()); ++i)
    {
      try
      {
        BOOST_TEST(handles[static_cast<std::size_t>(i)].get() == i);
        ++values;
      }
      catch (const boost::system::system_error& e)
      {
        BOOST_TEST(e.code() == asio::error::operation_aborted);
        ++aborted;
      }
    }
    BOOST_TEST(values + aborted == 400);
    // The callbacks' executor (the system executor, no associated one) runs
    // them on its own threads: wait for them.
    for (int spin = 0; waiter_calls.load() < 40 && spin < 10'000; ++spin)
      std::this_thread::sleep_for(1ms);
    BOOST_TEST(waiter_calls.load() == 40);
    // 40 tasks of 1,000 yields cannot finish in the 150 µs at most that rt ran.
    BOOST_TEST(waiter_aborts.load() > 0);
  }
}

// Blocks of several size classes spawned on one worker and freed on the
// other go back to their owner (task_memory.cpp), while both keep spawning.
BOOST_AUTO_TEST_CASE(task_blocks_return_to_their_owner)
{
  nanorun::test::watchdog dog("task blocks across workers", 240s);
  for (int threads : {2, 4})
  {
    nanorun::runtime rt(threads);
    std::atomic<long> bad{0}, done{0};
    auto root = [](int n, std::atomic<long>& b, std::atomic<long>& d) -> asio::awaitable<void> {
      auto ex = co_await asio::this_coro::executor;
      std::vector<nanorun::join_handle<wide>> keep;
      for (int i = 0; i < n; ++i)
      {
        if (i % 2 == 0)
          nanorun::spawn(ex, [](std::atomic<long>& dd) -> asio::awaitable<void> {
            dd.fetch_add(1, std::memory_order_relaxed);
            co_return;
          }(d)).detach();
        else
          keep.push_back(nanorun::spawn(ex, wide_result(static_cast<std::uint64_t>(i))));
        if (keep.size() == 64)
        {
          for (auto& h : keep)
          {
            const wide w = co_await std::move(h);
            const std::uint64_t seed = (w.words[1] - 1) / 31;
            for (std::size_t k = 0; k < w.words.size(); ++k)
              if (w.words[k] != seed * 31 + k)
                b.fetch_add(1);
            d.fetch_add(1, std::memory_order_relaxed);
          }
          keep.clear();
        }
      }
      for (auto& h : keep)
      {
        (void)co_await std::move(h);
        d.fetch_add(1, std::memory_order_relaxed);
      }
    };
    for (int r = 0; r < threads; ++r)
      nanorun::spawn(rt, root(rounds * 2, bad, done)).detach();
    nanorun::test::runners run(rt, threads);
    run.join();
    BOOST_TEST(done.load() == long{threads} * rounds * 2);
    BOOST_TEST(bad.load() == 0);
  }
}

BOOST_AUTO_TEST_SUITE_END()
