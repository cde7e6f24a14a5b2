// nanorun::runtime: io_context's run/poll/stop semantics.
#include <nanorun/nanorun.hpp>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/multiple_exceptions.hpp>
#include <boost/asio/post.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <new>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace asio = boost::asio;

BOOST_AUTO_TEST_SUITE(runtime_semantics)

BOOST_AUTO_TEST_CASE(run_without_work_returns_zero_and_stops)
{
  nanorun::runtime rt;
  BOOST_TEST(rt.run() == 0u);
  BOOST_TEST(rt.stopped());
  rt.restart();
  BOOST_TEST(!rt.stopped());
}

BOOST_AUTO_TEST_CASE(run_counts_handlers_and_returns_when_work_ends)
{
  nanorun::runtime rt;
  int n = 0;
  for (int i = 0; i < 10; ++i)
    asio::post(rt, [&] { ++n; });
  BOOST_TEST(rt.run() == 10u);
  BOOST_TEST(n == 10);
  BOOST_TEST(rt.stopped());
}

BOOST_AUTO_TEST_CASE(handler_posts_from_inside_run_in_order)
{
  nanorun::runtime rt;
  std::vector<int> order;
  asio::post(rt, [&] {
    for (int i = 0; i < 5; ++i)
      asio::post(rt, [&order, i] { order.push_back(i); });
  });
  rt.run();
  BOOST_TEST(order == (std::vector<int>{0, 1, 2, 3, 4}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(run_one_and_poll_one)
{
  nanorun::runtime rt;
  int n = 0;
  asio::post(rt, [&] { ++n; });
  asio::post(rt, [&] { ++n; });
  BOOST_TEST(rt.run_one() == 1u);
  BOOST_TEST(n == 1);
  BOOST_TEST(rt.poll_one() == 1u);
  BOOST_TEST(n == 2);
  BOOST_TEST(rt.poll() == 0u);
}

BOOST_AUTO_TEST_CASE(poll_does_not_block_with_tracked_work)
{
  nanorun::runtime rt;
  auto guard = asio::make_work_guard(rt);
  BOOST_TEST(rt.poll() == 0u);
  BOOST_TEST(!rt.stopped());
  guard.reset();
}

BOOST_AUTO_TEST_CASE(run_for_returns_at_deadline_with_tracked_work)
{
  nanorun::runtime rt;
  auto guard = asio::make_work_guard(rt);
  const auto start = std::chrono::steady_clock::now();
  BOOST_TEST(rt.run_for(std::chrono::milliseconds(30)) == 0u);
  BOOST_TEST((std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(30)));
  BOOST_TEST(!rt.stopped());
}

// io_context checks the deadline before each handler: run_for() returns even
// when the work never runs out (a game loop's frame, a test's time slice).
BOOST_AUTO_TEST_CASE(run_for_returns_at_deadline_while_work_keeps_coming)
{
  for (int threads : {1, 2})
  {
    nanorun::runtime rt(threads);
    constexpr std::size_t chain = 50'000'000; // minutes of work at any speed this suite runs at
    struct link
    {
      nanorun::runtime* rt;
      std::atomic<std::size_t>* left;
      void operator()() const
      {
        if (left->fetch_sub(1) > 1)
          asio::post(*rt, *this);
      }
    };
    std::atomic<std::size_t> left{chain};
    asio::post(rt, link{&rt, &left});
    const std::size_t ran = rt.run_for(std::chrono::milliseconds(10));
    BOOST_TEST(ran > 0u);
    BOOST_TEST(ran < chain);
    BOOST_TEST(left.load() > 0u); // the chain is still queued
    BOOST_TEST(rt.run_one() == 1u);
    BOOST_TEST(rt.run_until(std::chrono::system_clock::now() + std::chrono::milliseconds(5)) > 0u);
    left.store(1); // let the chain end, so destruction finds at most one handler
  }
}

// An exception from a handler dispatched inline leaves through run_for() even
// when the deadline passed while the outer handler ran.
BOOST_AUTO_TEST_CASE(run_for_rethrows_at_its_deadline)
{
  nanorun::runtime rt;
  asio::post(rt, [&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(5)); // past the deadline below
    asio::dispatch(rt.get_executor(), [] { throw std::runtime_error("inline"); });
  });
  BOOST_CHECK_THROW(rt.run_for(std::chrono::milliseconds(1)), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(run_one_for_runs_one_ready_handler)
{
  nanorun::runtime rt;
  auto guard = asio::make_work_guard(rt);
  int n = 0;
  asio::post(rt, [&] { ++n; });
  asio::post(rt, [&] { ++n; });
  BOOST_TEST(rt.run_one_for(std::chrono::seconds(5)) == 1u);
  BOOST_TEST(n == 1);
  BOOST_TEST(rt.run_until(std::chrono::system_clock::now() + std::chrono::milliseconds(20)) == 1u);
  BOOST_TEST(n == 2);
}

BOOST_AUTO_TEST_CASE(stop_leaves_handlers_queued_until_restart)
{
  nanorun::runtime rt;
  int n = 0;
  asio::post(rt, [&] {
    ++n;
    rt.stop();
  });
  asio::post(rt, [&] { ++n; });
  BOOST_TEST(rt.run() == 1u);
  BOOST_TEST(n == 1);
  BOOST_TEST(rt.run() == 0u); // still stopped
  rt.restart();
  BOOST_TEST(rt.run() == 1u);
  BOOST_TEST(n == 2);
}

BOOST_AUTO_TEST_CASE(stop_from_another_thread_wakes_a_parked_run)
{
  nanorun::runtime rt;
  auto guard = asio::make_work_guard(rt);
  std::thread t([&] { rt.run(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  rt.stop();
  t.join();
  BOOST_TEST(rt.stopped());
}

BOOST_AUTO_TEST_CASE(exception_leaves_run_and_run_resumes)
{
  nanorun::runtime rt;
  int n = 0;
  asio::post(rt, [] { throw std::runtime_error("boom"); });
  asio::post(rt, [&] { ++n; });
  BOOST_CHECK_THROW(rt.run(), std::runtime_error);
  BOOST_TEST(!rt.stopped());
  BOOST_TEST(rt.run() == 1u);
  BOOST_TEST(n == 1);
}

BOOST_AUTO_TEST_CASE(exception_from_inline_dispatch_is_rethrown_after_the_handler)
{
  nanorun::runtime rt;
  bool after = false;
  asio::post(rt, [&] {
    asio::dispatch(rt, [] { throw std::logic_error("inline"); });
    after = true; // the outer handler finishes first
  });
  BOOST_CHECK_THROW(rt.run(), std::logic_error);
  BOOST_TEST(after);
}

BOOST_AUTO_TEST_CASE(two_inline_exceptions_become_multiple_exceptions)
{
  nanorun::runtime rt;
  asio::post(rt, [&] {
    asio::dispatch(rt, [] { throw std::logic_error("one"); });
    asio::dispatch(rt, [] { throw std::logic_error("two"); });
  });
  BOOST_CHECK_THROW(rt.run(), asio::multiple_exceptions);
}

BOOST_AUTO_TEST_CASE(destructor_destroys_pending_handlers_without_invoking)
{
  auto token = std::make_shared<int>(0);
  std::weak_ptr<int> weak = token;
  bool invoked = false;
  {
    nanorun::runtime rt;
    asio::post(rt, [t = std::move(token), &invoked] { invoked = true; });
  }
  BOOST_TEST(!invoked);
  BOOST_TEST(weak.expired());
}

BOOST_AUTO_TEST_CASE(work_is_spread_over_threads_in_run)
{
  nanorun::runtime rt(2);
  std::atomic<int> done{0};
  std::mutex m;
  std::set<std::thread::id> ids;
  asio::post(rt, [&] {
    for (int i = 0; i < 2000; ++i)
      asio::post(rt, [&] {
        {
          std::lock_guard lock(m);
          ids.insert(std::this_thread::get_id());
        }
        // Long enough that the other worker has time to wake and steal.
        // Computed, not slept: mingw-w64's sleep_for rounds anything under a
        // millisecond down to nothing.
        const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(50);
        while (std::chrono::steady_clock::now() < until)
        {
        }
        ++done;
      });
  });
  std::thread t([&] { rt.run(); });
  rt.run();
  t.join();
  BOOST_TEST(done.load() == 2000);
  BOOST_TEST(ids.size() == 2u);
}

BOOST_AUTO_TEST_CASE(nested_run_on_another_runtime)
{
  nanorun::runtime outer;
  nanorun::runtime inner;
  int n = 0;
  asio::post(outer, [&] {
    asio::post(inner, [&] { ++n; });
    inner.run();
    ++n;
  });
  outer.run();
  BOOST_TEST(n == 2);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(runtime_join_handle)

BOOST_AUTO_TEST_CASE(awaiting_a_finished_task_resumes_without_a_trip_through_the_queue)
{
  nanorun::runtime rt(1);
  int value = 0;
  bool threw = false;
  bool other_ran_first = true, other_ran_first_on_error = true;
  // Out here, not in the coroutine's frame: the queued handlers run after
  // the coroutine has finished.
  bool other = false, other2 = false;
  asio::co_spawn(
      rt,
      [&]() -> asio::awaitable<void> {
        auto ok = nanorun::spawn(rt, []() -> asio::awaitable<int> { co_return 42; }());
        auto bad = nanorun::spawn(rt, []() -> asio::awaitable<int> {
          throw std::runtime_error("task failed");
          co_return 0;
        }());
        while (!ok.is_finished() || !bad.is_finished())
          co_await nanorun::yield_now();
        asio::post(rt, [&] { other = true; }); // queued before the join
        value = co_await std::move(ok);
        other_ran_first = other;
        asio::post(rt, [&] { other2 = true; });
        try
        {
          (void)co_await std::move(bad);
        }
        catch (const std::runtime_error&)
        {
          threw = true;
        }
        other_ran_first_on_error = other2;
      },
      asio::detached);
  rt.run();
  BOOST_TEST(value == 42);
  BOOST_TEST(threw);
  BOOST_TEST(!other_ran_first);
  BOOST_TEST(!other_ran_first_on_error);
}

BOOST_AUTO_TEST_CASE(a_long_run_of_finished_joins_lets_other_work_in_and_keeps_the_stack_flat)
{
  // 20000 finished tasks joined in a row: resumed inline without a bound,
  // each would nest a level of Asio's pump (megabytes of stack); bounded,
  // every 17th join is posted, so a handler queued before the loop runs
  // within its first 17 joins.
  nanorun::runtime rt(1);
  constexpr int n = 20000;
  long long sum = 0;
  int joined_when_other_ran = -1;
  int joined = 0; // read by a queued handler: not in the coroutine's frame
  asio::co_spawn(
      rt,
      [&]() -> asio::awaitable<void> {
        std::vector<nanorun::join_handle<int>> hs;
        for (int i = 0; i < n; ++i)
          hs.push_back(nanorun::spawn(rt, [](int v) -> asio::awaitable<int> { co_return v; }(i)));
        while (!std::all_of(hs.begin(), hs.end(), [](const auto& h) { return h.is_finished(); }))
          co_await nanorun::yield_now();
        asio::post(rt, [&] { joined_when_other_ran = joined; });
        for (auto& h : hs)
        {
          sum += co_await std::move(h);
          ++joined;
        }
      },
      asio::detached);
  rt.run();
  BOOST_TEST(sum == static_cast<long long>(n) * (n - 1) / 2);
  BOOST_TEST(joined_when_other_ran >= 0);
  BOOST_TEST(joined_when_other_ran <= 17);
}

BOOST_AUTO_TEST_CASE(async_join_still_posts_for_a_finished_task)
{
  nanorun::runtime rt(1);
  bool inside = false, completed_inside = false, completed = false;
  asio::co_spawn(
      rt,
      [&]() -> asio::awaitable<void> {
        auto h = nanorun::spawn(rt, []() -> asio::awaitable<int> { co_return 5; }());
        while (!h.is_finished())
          co_await nanorun::yield_now();
        inside = true;
        // Bound to the runtime: a bare lambda's associated executor is the
        // system executor, whose thread would run it after run() returned.
        h.async_join(asio::bind_executor(rt, [&](std::exception_ptr e, int v) {
          completed_inside = inside;
          completed = !e && v == 5;
        }));
        inside = false;
      },
      asio::detached);
  rt.run();
  BOOST_TEST(completed);
  BOOST_TEST(!completed_inside);
}

BOOST_AUTO_TEST_CASE(get_from_inside_the_runtime_throws_instead_of_deadlocking)
{
  nanorun::runtime rt(1);
  bool threw = false;
  asio::post(rt, [&] {
    auto h = nanorun::spawn(rt, []() -> asio::awaitable<int> { co_return 1; }());
    try
    {
      (void)h.get();
    }
    catch (const std::logic_error&)
    {
      threw = true;
    }
  });
  rt.run();
  BOOST_TEST(threw);
}

BOOST_AUTO_TEST_CASE(get_after_the_runtime_is_destroyed_reports_operation_aborted)
{
  nanorun::join_handle<int> h;
  {
    nanorun::runtime rt(1);
    h = nanorun::spawn(rt, []() -> asio::awaitable<int> { co_return 7; }());
    // Never run: the task is destroyed with the runtime.
  }
  try
  {
    (void)h.get();
    BOOST_FAIL("expected an exception");
  }
  catch (const boost::system::system_error& e)
  {
    BOOST_TEST((e.code() == asio::error::operation_aborted));
  }
}

// Every I/O object's constructor looks its runtime up from the executor's
// context, and the answer is cached per thread by the context's address. A
// context built later at the same address (an io_context, another runtime)
// must be told apart from the destroyed runtime the cache remembers.
BOOST_AUTO_TEST_CASE(io_objects_find_the_context_built_where_a_runtime_was_destroyed)
{
  constexpr std::size_t size = std::max(sizeof(nanorun::runtime), sizeof(asio::io_context));
  alignas(64) unsigned char place[size];

  auto* first = ::new (static_cast<void*>(place)) nanorun::runtime(1);
  {
    nanorun::steady_timer t(first->get_executor()); // now cached
  }
  first->~runtime();

  auto* io = ::new (static_cast<void*>(place)) asio::io_context(1);
  BOOST_CHECK_THROW(nanorun::steady_timer(io->get_executor()), std::invalid_argument);
  io->~io_context();

  auto* second = ::new (static_cast<void*>(place)) nanorun::runtime(1);
  bool fired = false;
  {
    nanorun::steady_timer t(second->get_executor(), std::chrono::milliseconds(1));
    t.async_wait([&](boost::system::error_code ec) { fired = !ec; });
    BOOST_TEST(second->run() == 1u);
  }
  BOOST_TEST(fired);
  second->~runtime();

  // Another thread has its own cache: it finds a live runtime too.
  nanorun::runtime third(1);
  bool constructed = false;
  std::thread([&] {
    nanorun::steady_timer t(third.get_executor());
    constructed = true;
  }).join();
  BOOST_TEST(constructed);
}

BOOST_AUTO_TEST_SUITE_END()
