// Asio conformance: lifetimes and error paths. Exceptions out of run(), stop
// and restart; destroying a runtime while coroutines are suspended (on a
// channel, an Asio steady_timer, a join handle) must destroy their frames;
// nanorun::thread_pool; block_on.
#include <nanorun/block_on.hpp>
#include "conformance/common.hpp"
#include <nanorun/join_handle.hpp>
#include <nanorun/runtime.hpp>
#include <nanorun/spawn.hpp>
#include <nanorun/thread_pool.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/system/system_error.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace experimental = boost::asio::experimental;
using boost::system::error_code;
using std::chrono::hours;
using std::chrono::milliseconds;

namespace {

using conformance::ex_t;
using conformance::n_awaitable;
using conformance::n_use_awaitable;

using conformance::test_error;

bool is_aborted(const boost::system::system_error& e)
{
  return e.code() == asio::error::operation_aborted;
}

// Lives in a coroutine frame; its destruction is observable (moved-from
// probes do not count).
struct frame_probe
{
  std::shared_ptr<int> token;
  std::atomic<int>* destroyed;

  frame_probe(std::shared_ptr<int> t, std::atomic<int>* d) noexcept : token(std::move(t)), destroyed(d) {}
  frame_probe(frame_probe&& o) noexcept : token(std::move(o.token)), destroyed(o.destroyed) {}
  frame_probe& operator=(frame_probe&&) = delete;
  ~frame_probe()
  {
    if (token)
      ++*destroyed;
  }
};

asio::awaitable<int> value_soon(int v)
{
  co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  co_return v;
}

asio::awaitable<int> throw_soon(std::string what)
{
  co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  throw test_error(what);
}

n_awaitable<int> n_value_soon(int v)
{
  co_await asio::post(co_await asio::this_coro::executor, n_use_awaitable);
  co_return v;
}

asio::awaitable<void> set_soon(bool* flag)
{
  co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  *flag = true;
}

asio::awaitable<int> stop_then_wait(nanorun::runtime* rt)
{
  asio::steady_timer t(co_await asio::this_coro::executor, hours(1));
  rt->stop();
  co_await t.async_wait(asio::use_awaitable);
  co_return 1;
}

// ---- suspended coroutines for the destruction tests -------------------------------

asio::awaitable<void> wait_on_channel(std::shared_ptr<experimental::channel<void(error_code, int)>> ch,
                                      frame_probe probe, bool* resumed)
{
  (void)probe;
  co_await ch->async_receive(asio::use_awaitable);
  *resumed = true;
}

asio::awaitable<void> wait_on_timer(frame_probe probe, bool* resumed)
{
  (void)probe;
  asio::steady_timer t(co_await asio::this_coro::executor, hours(1));
  co_await t.async_wait(asio::use_awaitable);
  *resumed = true;
}

asio::awaitable<int> wait_on_join(frame_probe outer, frame_probe inner, bool* resumed)
{
  (void)outer;
  auto ex = co_await asio::this_coro::executor;
  const int v = co_await nanorun::spawn(ex, [](frame_probe p) -> asio::awaitable<int> {
    (void)p;
    asio::steady_timer t(co_await asio::this_coro::executor, hours(1));
    co_await t.async_wait(asio::use_awaitable);
    co_return 1;
  }(std::move(inner)));
  *resumed = true;
  co_return v;
}

using concurrent = experimental::concurrent_channel<void(error_code, int)>;

asio::awaitable<void> wait_on_timer_or_channel(std::shared_ptr<concurrent> ch, frame_probe probe,
                                               std::atomic<int>* suspended)
{
  (void)probe;
  asio::steady_timer t(co_await asio::this_coro::executor, hours(1));
  if (++*suspended % 2)
    co_await t.async_wait(asio::use_awaitable);
  else
    co_await ch->async_receive(asio::use_awaitable);
}

asio::awaitable<void> signal_then_wait_on_timer(frame_probe probe, std::promise<void>* started, bool* resumed)
{
  (void)probe;
  asio::steady_timer t(co_await asio::this_coro::executor, hours(1));
  started->set_value();
  co_await t.async_wait(asio::use_awaitable);
  *resumed = true;
}

n_awaitable<void> n_wait_on_timer(frame_probe probe, bool* resumed)
{
  (void)probe;
  asio::steady_timer t(co_await asio::this_coro::executor, hours(1));
  co_await t.async_wait(n_use_awaitable);
  *resumed = true;
}

} // namespace

BOOST_AUTO_TEST_SUITE(conformance_lifetime)

// ---- exceptions, stop, restart -----------------------------------------------------

BOOST_AUTO_TEST_CASE(exception_from_a_completion_handler_leaves_run_and_run_resumes)
{
  nanorun::runtime rt(1);
  int later = 0;
  asio::co_spawn(rt, throw_soon("from coroutine"), [](std::exception_ptr e, int) {
    if (e)
      std::rethrow_exception(e);
  });
  asio::co_spawn(rt, value_soon(3), [&](std::exception_ptr, int v) { later = v; });
  BOOST_CHECK_EXCEPTION(rt.run(), test_error,
                        [](const test_error& e) { return std::string(e.what()) == "from coroutine"; });
  rt.run(); // no restart needed: the rest is still there
  BOOST_TEST(later == 3);
  BOOST_TEST(rt.stopped());
}

BOOST_AUTO_TEST_CASE(exception_on_one_thread_leaves_the_other_running)
{
  nanorun::runtime rt(2);
  std::atomic<int> normal{0}, caught{0};
  auto guard = asio::make_work_guard(rt);
  auto runner = [&] {
    for (;;)
    {
      try
      {
        rt.run();
        return;
      }
      catch (const test_error&)
      {
        ++caught;
      }
    }
  };
  std::thread t(runner);
  for (int i = 0; i < 400; ++i)
  {
    if (i == 100 || i == 300)
      asio::post(rt, [] { throw test_error("one"); });
    asio::post(rt, [&] { ++normal; });
  }
  asio::post(rt, [&] { guard.reset(); });
  runner();
  t.join();
  BOOST_TEST(normal.load() == 400);
  BOOST_TEST(caught.load() == 2);
}

BOOST_AUTO_TEST_CASE(exception_inside_a_strand_does_not_wedge_the_strand)
{
  nanorun::runtime rt(1);
  const auto s = asio::make_strand(rt);
  std::vector<int> order;
  asio::post(s, [&] { order.push_back(1); });
  asio::post(s, [] { throw test_error("strand"); });
  asio::post(s, [&] { order.push_back(2); });
  BOOST_CHECK_THROW(rt.run(), test_error);
  rt.run();
  BOOST_TEST(order == (std::vector<int>{1, 2}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(stop_inside_a_coroutine_and_restart)
{
  nanorun::runtime rt(1);
  int steps = 0;
  bool finished = false;
  asio::co_spawn(
      rt,
      [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        for (int i = 0; i < 10; ++i)
        {
          ++steps;
          if (i == 4)
            rt.stop();
          co_await asio::post(ex, asio::use_awaitable);
        }
        finished = true;
      },
      asio::detached);
  rt.run();
  BOOST_TEST(rt.stopped());
  BOOST_TEST(steps == 5);
  BOOST_TEST(!finished);
  BOOST_TEST(rt.run() == 0u); // still stopped
  BOOST_TEST(steps == 5);
  rt.restart();
  rt.run();
  BOOST_TEST(steps == 10);
  BOOST_TEST(finished);
}

BOOST_AUTO_TEST_CASE(stop_from_outside_ends_every_run_and_keeps_the_queue)
{
  nanorun::runtime rt(2);
  auto guard = asio::make_work_guard(rt);
  std::atomic<int> in{0};
  std::thread t1([&] { rt.run(); });
  std::thread t2([&] { rt.run(); });
  asio::post(rt, [&] { ++in; });
  asio::post(rt, [&] { ++in; });
  while (in.load() < 2)
    std::this_thread::yield();
  rt.stop();
  t1.join();
  t2.join();
  BOOST_TEST(rt.stopped());
  int later = 0;
  asio::post(rt, [&] { ++later; }); // queued while stopped
  BOOST_TEST(rt.run() == 0u);
  BOOST_TEST(later == 0);
  rt.restart();
  guard.reset();
  BOOST_TEST(rt.run() == 1u);
  BOOST_TEST(later == 1);
}

// ---- destroying a runtime with suspended coroutines --------------------------------

BOOST_AUTO_TEST_CASE(destroy_with_coroutine_suspended_on_a_channel)
{
  std::atomic<int> destroyed{0};
  auto token = std::make_shared<int>(1);
  std::weak_ptr<int> weak = token;
  bool resumed = false;
  {
    nanorun::runtime rt(1);
    auto ch = std::make_shared<experimental::channel<void(error_code, int)>>(rt);
    asio::co_spawn(rt, wait_on_channel(ch, frame_probe{std::move(token), &destroyed}, &resumed), asio::detached);
    ch.reset(); // only the frame owns the channel now
    rt.poll();
    BOOST_TEST(destroyed.load() == 0);
    BOOST_TEST(!weak.expired()); // suspended, alive
  }
  BOOST_TEST(!resumed);
  BOOST_TEST(destroyed.load() == 1);
  BOOST_TEST(weak.expired());
}

BOOST_AUTO_TEST_CASE(destroy_with_coroutine_suspended_on_an_asio_timer)
{
  std::atomic<int> destroyed{0};
  auto token = std::make_shared<int>(1);
  std::weak_ptr<int> weak = token;
  auto n_token = std::make_shared<int>(2);
  std::weak_ptr<int> n_weak = n_token;
  bool resumed = false, n_resumed = false;
  {
    nanorun::runtime rt(1);
    asio::co_spawn(rt, wait_on_timer(frame_probe{std::move(token), &destroyed}, &resumed), asio::detached);
    asio::co_spawn(rt, n_wait_on_timer(frame_probe{std::move(n_token), &destroyed}, &n_resumed), asio::detached);
    rt.poll();
    BOOST_TEST(!weak.expired()); // suspended, alive
  }
  BOOST_TEST(!resumed);
  BOOST_TEST(!n_resumed);
  BOOST_TEST(destroyed.load() == 2);
  BOOST_TEST(weak.expired());
  BOOST_TEST(n_weak.expired());
}

BOOST_AUTO_TEST_CASE(destroy_with_coroutine_suspended_on_a_join_handle)
{
  std::atomic<int> destroyed{0};
  auto outer = std::make_shared<int>(1);
  auto inner = std::make_shared<int>(2);
  std::weak_ptr<int> weak_outer = outer, weak_inner = inner;
  bool resumed = false;
  nanorun::join_handle<int> outside; // outlives the runtime
  {
    nanorun::runtime rt(1);
    outside = nanorun::spawn(rt, wait_on_join(frame_probe{std::move(outer), &destroyed},
                                              frame_probe{std::move(inner), &destroyed}, &resumed));
    rt.poll();
    BOOST_TEST(!weak_outer.expired());
    BOOST_TEST(!weak_inner.expired());
    BOOST_TEST(!outside.is_finished());
  }
  BOOST_TEST(!resumed);
  BOOST_TEST(destroyed.load() == 2);
  BOOST_TEST(weak_outer.expired());
  BOOST_TEST(weak_inner.expired());
  // The task was destroyed before it completed: its handle says so.
  BOOST_TEST(outside.is_finished());
  BOOST_CHECK_EXCEPTION(outside.get(), boost::system::system_error, is_aborted);
}

BOOST_AUTO_TEST_CASE(destroy_with_coroutines_that_never_started)
{
  auto token = std::make_shared<int>(1);
  std::weak_ptr<int> weak = token;
  std::atomic<int> destroyed{0};
  bool resumed = false;
  nanorun::join_handle<void> h;
  {
    nanorun::runtime rt(1);
    h = nanorun::spawn(rt, wait_on_timer(frame_probe{token, &destroyed}, &resumed));
    asio::co_spawn(rt, wait_on_timer(frame_probe{std::move(token), &destroyed}, &resumed), asio::detached);
  }
  BOOST_TEST(!resumed);
  BOOST_TEST(destroyed.load() == 2);
  BOOST_TEST(weak.expired());
  BOOST_CHECK_EXCEPTION(h.get(), boost::system::system_error, is_aborted);
}

BOOST_AUTO_TEST_CASE(destroy_after_two_threads_ran_it)
{
  auto token = std::make_shared<int>(1);
  std::weak_ptr<int> weak = token;
  std::atomic<int> destroyed{0};
  std::atomic<int> suspended{0};
  {
    nanorun::runtime rt(2);
    auto guard = asio::make_work_guard(rt);
    std::thread t1([&] { rt.run(); });
    std::thread t2([&] { rt.run(); });
    auto ch = std::make_shared<concurrent>(rt);
    for (int i = 0; i < 20; ++i)
      nanorun::spawn(rt, wait_on_timer_or_channel(ch, frame_probe{token, &destroyed}, &suspended)).detach();
    while (suspended.load() < 20)
      std::this_thread::yield();
    rt.stop();
    t1.join();
    t2.join();
    ch.reset();
    token.reset();
    BOOST_TEST(!weak.expired());
    BOOST_TEST(destroyed.load() == 0);
  }
  BOOST_TEST(destroyed.load() == 20);
  BOOST_TEST(weak.expired());
}

BOOST_AUTO_TEST_CASE(destroy_with_handlers_queued_on_a_strand)
{
  // Strand handlers not yet run (the strand's invoker is queued in the
  // runtime, the rest wait in the strand) are destroyed, not invoked.
  auto token = std::make_shared<int>(1);
  std::weak_ptr<int> weak = token;
  bool invoked = false;
  {
    nanorun::runtime rt(1);
    const auto s = asio::make_strand(rt);
    for (int i = 0; i < 5; ++i)
      asio::post(s, [token, &invoked] { invoked = true; });
    asio::post(rt, [&rt, s, token, &invoked] {
      // Inside run(): queue more on the strand, then stop before they run.
      asio::post(s, [token, &invoked] { invoked = true; });
      rt.stop();
    });
    token.reset();
    rt.run_one(); // stops the runtime with everything else still queued
    BOOST_TEST(!weak.expired());
  }
  BOOST_TEST(weak.expired());
}

BOOST_AUTO_TEST_CASE(destroy_breaks_the_promise_of_an_unrun_use_future)
{
  std::future<int> f;
  std::future<void> g;
  {
    nanorun::runtime rt(1);
    f = asio::co_spawn(rt, value_soon(1), asio::use_future);
    g = asio::post(rt, asio::use_future);
  }
  BOOST_CHECK_EXCEPTION(f.get(), std::future_error,
                        [](const std::future_error& e) { return e.code() == std::future_errc::broken_promise; });
  BOOST_CHECK_EXCEPTION(g.get(), std::future_error,
                        [](const std::future_error& e) { return e.code() == std::future_errc::broken_promise; });
}

// ---- thread_pool -------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(thread_pool_destroyed_with_a_suspended_coroutine)
{
  auto token = std::make_shared<int>(1);
  std::weak_ptr<int> weak = token;
  std::atomic<int> destroyed{0};
  bool resumed = false;
  {
    nanorun::thread_pool pool(2);
    std::promise<void> started;
    nanorun::spawn(pool, signal_then_wait_on_timer(frame_probe{std::move(token), &destroyed}, &started, &resumed))
        .detach();
    started.get_future().wait();
  }
  BOOST_TEST(!resumed);
  BOOST_TEST(destroyed.load() == 1);
  BOOST_TEST(weak.expired());
}

BOOST_AUTO_TEST_CASE(thread_pool_join_runs_everything)
{
  nanorun::thread_pool pool(2);
  std::atomic<int> n{0};
  for (int i = 0; i < 1000; ++i)
    asio::post(pool, [&] { ++n; });
  std::future<int> f = asio::co_spawn(pool, value_soon(5), asio::use_future);
  pool.join();
  BOOST_TEST(n.load() == 1000);
  BOOST_TEST(f.get() == 5);
}

BOOST_AUTO_TEST_CASE(thread_pool_wait_and_strands)
{
  nanorun::thread_pool pool(3);
  const auto s = asio::make_strand(pool);
  std::atomic<int> in{0}, max_in{0}, n{0};
  for (int i = 0; i < 500; ++i)
    asio::post(s, [&] {
      const int now = ++in;
      if (now > max_in.load())
        max_in = now;
      ++n;
      --in;
    });
  pool.wait();
  BOOST_TEST(n.load() == 500);
  BOOST_TEST(max_in.load() == 1);
}

BOOST_AUTO_TEST_CASE(thread_pool_stop_ends_endless_work)
{
  nanorun::thread_pool pool(2);
  std::atomic<int> n{0};
  std::function<void()> again;
  again = [&] {
    ++n;
    asio::post(pool, again);
  };
  asio::post(pool, again);
  asio::post(pool, again);
  while (n.load() < 100)
    std::this_thread::yield();
  pool.stop();
  pool.join();
  BOOST_TEST(pool.stopped());
}

BOOST_AUTO_TEST_CASE(thread_pool_destructor_stops_endless_work)
{
  std::atomic<int> n{0};
  {
    nanorun::thread_pool pool(2);
    auto again = std::make_shared<std::function<void()>>();
    std::weak_ptr<std::function<void()>> weak_again = again;
    *again = [&n, &pool, weak_again] {
      ++n;
      if (auto a = weak_again.lock())
        asio::post(pool, *a);
    };
    asio::post(pool, *again);
    while (n.load() < 100)
      std::this_thread::yield();
    // again is destroyed before pool: the chain ends on its own or by the pool's destructor.
  }
  BOOST_TEST(n.load() >= 100);
}

BOOST_AUTO_TEST_CASE(thread_pool_join_rethrows_a_handler_exception)
{
  nanorun::thread_pool pool(2);
  std::atomic<int> n{0};
  for (int i = 0; i < 200; ++i)
  {
    if (i == 50)
      asio::post(pool, [] { throw test_error("pool"); });
    asio::post(pool, [&] { ++n; });
  }
  BOOST_CHECK_EXCEPTION(pool.join(), test_error, [](const test_error& e) { return std::string(e.what()) == "pool"; });
  // The pool kept going after the exception.
  BOOST_TEST(n.load() == 200);
  BOOST_CHECK_NO_THROW(pool.join()); // the exception was handed over once
}

BOOST_AUTO_TEST_CASE(thread_pool_attach)
{
  nanorun::thread_pool pool(1);
  std::atomic<int> n{0};
  std::thread attached([&] { pool.attach(); });
  for (int i = 0; i < 300; ++i)
    asio::post(pool, [&] { ++n; });
  pool.join();
  attached.join(); // returns once the pool is out of work
  BOOST_TEST(n.load() == 300);
}

// ---- block_on ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(block_on_returns_values_and_rethrows)
{
  BOOST_TEST(nanorun::block_on(value_soon(42)) == 42);
  BOOST_TEST(nanorun::block_on(n_value_soon(7)) == 7);
  bool ran = false;
  nanorun::block_on(set_soon(&ran));
  BOOST_TEST(ran);
  BOOST_CHECK_EXCEPTION(nanorun::block_on(throw_soon("block_on")), test_error,
                        [](const test_error& e) { return std::string(e.what()) == "block_on"; });
}

BOOST_AUTO_TEST_CASE(block_on_waits_for_asio_timers_and_spawned_tasks)
{
  const int v = nanorun::block_on([]() -> asio::awaitable<int> {
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer t(ex, milliseconds(5));
    co_await t.async_wait(asio::use_awaitable); // completed by Asio's hidden thread
    auto h = nanorun::spawn(ex, value_soon(10));
    co_return co_await std::move(h) + 1;
  }());
  BOOST_TEST(v == 11);
}

BOOST_AUTO_TEST_CASE(block_on_twice_on_one_runtime)
{
  nanorun::runtime rt(1);
  BOOST_TEST(rt.block_on(value_soon(1)) == 1);
  BOOST_TEST(rt.block_on(value_soon(2)) == 2); // restarts a runtime that ran out of work
  BOOST_CHECK_THROW(rt.block_on(throw_soon("again")), test_error);
  BOOST_TEST(rt.block_on(value_soon(3)) == 3);
}

BOOST_AUTO_TEST_CASE(block_on_a_runtime_run_by_another_thread)
{
  nanorun::runtime rt(2);
  auto guard = asio::make_work_guard(rt);
  std::thread t([&] { rt.run(); });
  for (int round = 0; round < 20; ++round)
  {
    const int v = rt.block_on([](int r) -> asio::awaitable<int> {
      auto ex = co_await asio::this_coro::executor;
      int sum = 0;
      std::vector<nanorun::join_handle<int>> hs;
      for (int i = 0; i < 8; ++i)
        hs.push_back(nanorun::spawn(ex, value_soon(i)));
      for (auto& h : hs)
        sum += co_await std::move(h);
      co_return sum + r;
    }(round));
    BOOST_TEST(v == 28 + round);
  }
  BOOST_CHECK_THROW(rt.block_on(throw_soon("shared")), test_error);
  guard.reset();
  t.join();
}

// Regression: one block_on must not be aborted because the runtime ran out of
// work (and stopped) when another caller's task finished.
BOOST_AUTO_TEST_CASE(block_on_from_two_threads_at_once)
{
  nanorun::runtime rt(2);
  std::atomic<int> wrong{0}, aborted{0}, other{0};
  auto caller = [&](int base) {
    for (int i = 0; i < 300; ++i)
    {
      try
      {
        if (rt.block_on(value_soon(base + i)) != base + i)
          ++wrong;
      }
      catch (const boost::system::system_error& e)
      {
        if (is_aborted(e))
          ++aborted;
        else
          ++other;
      }
      catch (...)
      {
        ++other;
      }
    }
  };
  std::thread t([&] { caller(100000); });
  caller(0);
  t.join();
  BOOST_TEST(wrong.load() == 0);
  BOOST_TEST(aborted.load() == 0);
  BOOST_TEST(other.load() == 0);
}

BOOST_AUTO_TEST_CASE(block_on_from_inside_the_runtime_throws_logic_error)
{
  nanorun::runtime rt(1);
  std::string what;
  asio::post(rt, [&] {
    try
    {
      rt.block_on(value_soon(1));
      what = "returned";
    }
    catch (const std::logic_error& e)
    {
      what = std::string("logic_error: ") + e.what();
    }
  });
  rt.run();
  BOOST_TEST(what.rfind("logic_error: ", 0) == 0u, "got: " << what);

  // Also from a coroutine running on the runtime.
  rt.restart();
  std::future<bool> f = asio::co_spawn(
      rt,
      [&rt]() -> asio::awaitable<bool> {
        try
        {
          rt.block_on(value_soon(1));
        }
        catch (const std::logic_error&)
        {
          co_return true;
        }
        co_return false;
      },
      asio::use_future);
  rt.run();
  BOOST_TEST(f.get());
}

BOOST_AUTO_TEST_CASE(block_on_when_the_runtime_is_stopped_first)
{
  nanorun::runtime rt(1);
  BOOST_CHECK_EXCEPTION(rt.block_on(stop_then_wait(&rt)), boost::system::system_error, is_aborted);
}

BOOST_AUTO_TEST_SUITE_END()
