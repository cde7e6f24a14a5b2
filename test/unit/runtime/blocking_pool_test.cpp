// nanorun::spawn_blocking and the blocking pool (src/runtime/blocking_pool.cpp).
#include <nanorun/nanorun.hpp>
#include <nanorun/spawn_blocking.hpp>
#include "unit/eventually.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace asio = boost::asio;
using namespace std::chrono_literals;

using nanorun_test::eventually;

namespace {

// A gate blocking functions wait at until opened.
struct gate
{
  std::mutex m;
  std::condition_variable cv;
  bool open = false;
  int waiting = 0;
  void wait()
  {
    std::unique_lock lock(m);
    ++waiting;
    cv.notify_all();
    cv.wait(lock, [&] { return open; });
  }
  void open_now()
  {
    std::lock_guard lock(m);
    open = true;
    cv.notify_all();
  }
  bool wait_for_waiters(int n, std::chrono::milliseconds limit = 10s)
  {
    std::unique_lock lock(m);
    return cv.wait_for(lock, limit, [&] { return waiting >= n; });
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(blocking_pool)

BOOST_AUTO_TEST_CASE(a_blocking_call_never_holds_the_only_worker)
{
  // One worker. The function blocks until a handler on that worker opens its
  // gate: were it run on the worker, this would never finish.
  nanorun::runtime rt(1);
  gate g;
  int result = 0;
  asio::co_spawn(
      rt,
      [&]() -> asio::awaitable<void> {
        auto h = nanorun::spawn_blocking(rt, [&] {
          g.wait();
          return 42;
        });
        asio::post(rt, [&] {
          std::thread([&] {
            g.wait_for_waiters(1);
            g.open_now();
          }).detach();
        });
        result = co_await std::move(h);
      },
      asio::detached);
  rt.run();
  BOOST_TEST(result == 42);
}

BOOST_AUTO_TEST_CASE(values_voids_and_exceptions_reach_the_handle)
{
  nanorun::runtime rt(2);
  auto v = nanorun::spawn_blocking(rt, [] { return std::string("text"); });
  bool ran = false;
  auto n = nanorun::spawn_blocking(rt.get_executor(), [&] { ran = true; });
  auto e = nanorun::spawn_blocking(rt, []() -> int { throw std::runtime_error("boom"); });
  std::thread t([&] { rt.run(); });
  BOOST_TEST(v.get() == "text");
  n.get();
  BOOST_TEST(ran);
  BOOST_CHECK_THROW(e.get(), std::runtime_error);
  t.join();
}

BOOST_AUTO_TEST_CASE(the_handle_takes_any_completion_token)
{
  nanorun::runtime rt(1);
  int got = 0;
  std::exception_ptr err;
  // As with io_context: if the call finished (on its pool thread) before
  // async_join, its work would drop to zero and stop the runtime, and run()
  // would return at once. The guard keeps work outstanding until the join
  // holds its own.
  auto guard = asio::make_work_guard(rt);
  auto h = nanorun::spawn_blocking(rt, [] { return 7; });
  h.async_join(asio::bind_executor(rt, [&](std::exception_ptr e, int v) {
    err = e;
    got = v;
  }));
  guard.reset();
  rt.run();
  BOOST_TEST(!err);
  BOOST_TEST(got == 7);
  // Joining twice: logic_error, delivered like any outcome.
  bool logic = false;
  rt.restart();
  h.async_join(asio::bind_executor(rt, [&](std::exception_ptr e, int) {
    try
    {
      std::rethrow_exception(e);
    }
    catch (const std::logic_error&)
    {
      logic = true;
    }
  }));
  rt.run();
  BOOST_TEST(logic);
}

BOOST_AUTO_TEST_CASE(run_waits_for_a_detached_blocking_call)
{
  // Pending blocking work is outstanding work, as a pending operation is.
  nanorun::runtime rt(1);
  std::atomic<bool> done{false};
  nanorun::spawn_blocking(rt, [&] {
    std::this_thread::sleep_for(50ms);
    done = true;
  }).detach();
  rt.run();
  BOOST_TEST(done.load());
}

BOOST_AUTO_TEST_CASE(the_pool_grows_on_demand)
{
  nanorun::runtime rt(1);
  gate g;
  std::vector<nanorun::join_handle<void>> hs;
  for (int i = 0; i < 4; ++i)
    hs.push_back(nanorun::spawn_blocking(rt, [&] { g.wait(); }));
  // All four block at once: each needed a thread of its own.
  BOOST_TEST(g.wait_for_waiters(4));
  BOOST_TEST(nanorun::blocking_pool_threads(rt) == 4u);
  g.open_now();
  for (auto& h : hs)
    h.get();
}

BOOST_AUTO_TEST_CASE(the_pool_is_bounded_and_queues_beyond_its_limit)
{
  nanorun::runtime rt(1);
  nanorun::set_blocking_pool_limits(rt, 2, 10s);
  std::atomic<int> running{0}, most{0};
  std::vector<nanorun::join_handle<int>> hs;
  for (int i = 0; i < 6; ++i)
    hs.push_back(nanorun::spawn_blocking(rt, [&, i] {
      const int now = running.fetch_add(1) + 1;
      int seen = most.load();
      while (now > seen && !most.compare_exchange_weak(seen, now))
      {
      }
      std::this_thread::sleep_for(20ms);
      running.fetch_sub(1);
      return i;
    }));
  for (int i = 0; i < 6; ++i)
    BOOST_TEST(hs[static_cast<std::size_t>(i)].get() == i);
  BOOST_TEST(most.load() >= 1);
  BOOST_TEST(most.load() <= 2);
  BOOST_TEST(nanorun::blocking_pool_threads(rt) <= 2u);
}

BOOST_AUTO_TEST_CASE(the_limit_is_reached_and_the_rest_wait_in_order)
{
  // Two threads at most: two calls block at a gate, the third waits in the
  // queue (no third thread) until the gate opens. An lvalue callable too.
  nanorun::runtime rt(1);
  nanorun::set_blocking_pool_limits(rt, 2, 10s);
  gate g;
  std::atomic<bool> third_ran{false};
  auto blocker = [&] { g.wait(); };
  auto a = nanorun::spawn_blocking(rt, blocker);
  auto b = nanorun::spawn_blocking(rt, blocker);
  auto c = nanorun::spawn_blocking(rt, [&] { third_ran = true; });
  BOOST_TEST(g.wait_for_waiters(2));
  std::this_thread::sleep_for(20ms);
  BOOST_TEST(!third_ran.load());
  BOOST_TEST(nanorun::blocking_pool_threads(rt) == 2u);
  g.open_now();
  a.get();
  b.get();
  c.get();
  BOOST_TEST(third_ran.load());
}

BOOST_AUTO_TEST_CASE(idle_threads_exit_after_the_keep_alive)
{
  nanorun::runtime rt(1);
  nanorun::set_blocking_pool_limits(rt, 8, 20ms);
  std::vector<nanorun::join_handle<void>> hs;
  gate g;
  for (int i = 0; i < 3; ++i)
    hs.push_back(nanorun::spawn_blocking(rt, [&] { g.wait(); }));
  BOOST_TEST(g.wait_for_waiters(3));
  BOOST_TEST(nanorun::blocking_pool_threads(rt) == 3u);
  g.open_now();
  for (auto& h : hs)
    h.get();
  BOOST_TEST(eventually([&] { return nanorun::blocking_pool_threads(rt) == 0u; }));
  // And it grows again afterwards.
  BOOST_TEST(nanorun::spawn_blocking(rt, [] { return 5; }).get() == 5);
}

BOOST_AUTO_TEST_CASE(a_destroyed_runtime_aborts_queued_calls_and_waits_for_running_ones)
{
  gate g;
  std::atomic<bool> first_returned{false};
  std::atomic<bool> second_ran{false};
  nanorun::join_handle<int> first, second;
  {
    nanorun::runtime rt(1);
    nanorun::set_blocking_pool_limits(rt, 1, 10s);
    first = nanorun::spawn_blocking(rt, [&] {
      g.wait();
      first_returned = true;
      return 1;
    });
    second = nanorun::spawn_blocking(rt, [&] {
      second_ran = true;
      return 2;
    });
    BOOST_TEST(g.wait_for_waiters(1));
    std::thread opener([&] {
      std::this_thread::sleep_for(30ms);
      g.open_now();
    });
    opener.detach();
  } // ~runtime: waits for the first, drops the second
  BOOST_TEST(first_returned.load());
  BOOST_TEST(!second_ran.load());
  BOOST_TEST(first.get() == 1);
  try
  {
    second.get();
    BOOST_FAIL("a call the runtime dropped returned");
  }
  catch (const boost::system::system_error& e)
  {
    BOOST_TEST(e.code() == asio::error::operation_aborted);
  }
}

BOOST_AUTO_TEST_CASE(get_from_a_worker_and_block_on_from_any_worker_are_refused)
{
  nanorun::runtime rt(1), other(1);
  gate g;
  auto h = nanorun::spawn_blocking(rt, [&] {
    g.wait();
    return 1;
  });
  std::string get_error, block_on_error;
  asio::post(rt, [&] {
    try
    {
      h.get();
    }
    catch (const std::logic_error& e)
    {
      get_error = e.what();
    }
    try
    {
      other.block_on([]() -> asio::awaitable<int> { co_return 1; }());
    }
    catch (const std::logic_error& e)
    {
      block_on_error = e.what();
    }
    g.open_now();
  });
  rt.run();
  BOOST_TEST(get_error.find("use co_await") != std::string::npos, get_error);
  BOOST_TEST(block_on_error.find("another nanorun runtime") != std::string::npos, block_on_error);
  BOOST_TEST(h.get() == 1);
}

BOOST_AUTO_TEST_CASE(works_on_asio_io_context_too)
{
  asio::io_context io;
  int got = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        got = co_await nanorun::spawn_blocking(io, [] { return 9; });
      },
      asio::detached);
  io.run();
  BOOST_TEST(got == 9);
}

BOOST_AUTO_TEST_SUITE_END()
