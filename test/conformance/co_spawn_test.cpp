// Asio conformance: co_spawn and coroutines on a nanorun runtime, with every
// completion token, for awaitable<T> (any_io_executor) and for
// awaitable<T, nanorun::runtime::executor_type>; and nanorun's own spawn,
// join_handle and yield_now driven through Asio tokens.
#include <nanorun/join_handle.hpp>
#include "conformance/common.hpp"
#include <nanorun/runtime.hpp>
#include <nanorun/spawn.hpp>
#include <nanorun/yield_now.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <exception>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace asio = boost::asio;

namespace {

using conformance::ex_t;
using conformance::n_awaitable;
using conformance::n_use_awaitable;

using conformance::test_error;

// ---- coroutines on any_io_executor --------------------------------------------------

asio::awaitable<int> any_value(int v)
{
  co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  co_return v;
}

asio::awaitable<int> any_throws(std::string what)
{
  co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  throw test_error(what);
}

asio::awaitable<void> any_void(int& out, int v)
{
  co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  out = v;
}

// Awaits children through co_spawn(use_awaitable); rethrows theirs.
asio::awaitable<int> any_parent()
{
  auto ex = co_await asio::this_coro::executor;
  const int a = co_await asio::co_spawn(ex, any_value(20), asio::use_awaitable);
  const int b = co_await any_value(22); // direct co_await of an awaitable
  int caught = 0;
  try
  {
    co_await asio::co_spawn(ex, any_throws("child"), asio::use_awaitable);
  }
  catch (const test_error& e)
  {
    caught = std::string(e.what()) == "child" ? 1 : 100;
  }
  co_return a + b + caught;
}

// ---- coroutines on nanorun's executor ----------------------------------------------

n_awaitable<int> n_value(int v)
{
  co_await asio::post(co_await asio::this_coro::executor, n_use_awaitable);
  co_return v;
}

n_awaitable<int> n_throws(std::string what)
{
  co_await asio::post(co_await asio::this_coro::executor, n_use_awaitable);
  throw test_error(what);
}

n_awaitable<int> n_parent()
{
  auto ex = co_await asio::this_coro::executor;
  static_assert(std::is_same_v<decltype(ex), ex_t>);
  const int a = co_await asio::co_spawn(ex, n_value(20), n_use_awaitable);
  const int b = co_await n_value(22);
  int caught = 0;
  try
  {
    co_await asio::co_spawn(ex, n_throws("child"), n_use_awaitable);
  }
  catch (const test_error& e)
  {
    caught = std::string(e.what()) == "child" ? 1 : 100;
  }
  co_return a + b + caught;
}

// Records the outcome of a (exception_ptr, int) completion.
struct int_outcome
{
  std::optional<int> value;
  std::string error;
  int calls = 0;

  auto handler()
  {
    return [this](std::exception_ptr e, int v) {
      ++calls;
      if (e)
      {
        try
        {
          std::rethrow_exception(e);
        }
        catch (const std::exception& x)
        {
          error = x.what();
        }
      }
      else
        value = v;
    };
  }
};

std::string trace_string(const std::vector<int>& trace)
{
  std::string t;
  for (int x : trace)
    t += std::to_string(x);
  return t;
}

// Counts the times a coroutine resumed right after its own yield although
// another coroutine still had steps to run: a yield must let them go first.
int yield_violations(const std::vector<int>& trace)
{
  int n = 0;
  for (std::size_t i = 1; i < trace.size(); ++i)
  {
    if (trace[i] != trace[i - 1])
      continue;
    bool others_pending = false;
    for (std::size_t j = i + 1; j < trace.size(); ++j)
      others_pending = others_pending || trace[j] != trace[i];
    if (others_pending)
      ++n;
  }
  return n;
}

} // namespace

BOOST_AUTO_TEST_SUITE(conformance_co_spawn)

BOOST_AUTO_TEST_CASE(any_io_awaitable_with_callback_given_context_and_executor)
{
  nanorun::runtime rt(1);
  int_outcome by_ctx, by_ex, failed;
  asio::co_spawn(rt, any_value(1), by_ctx.handler());
  asio::co_spawn(rt.get_executor(), any_value(2), by_ex.handler());
  asio::co_spawn(rt, any_throws("boom"), failed.handler());
  BOOST_TEST(by_ctx.calls == 0); // never completes inside co_spawn
  rt.run();
  BOOST_TEST(by_ctx.calls == 1);
  BOOST_TEST(by_ctx.value.value_or(-1) == 1);
  BOOST_TEST(by_ex.value.value_or(-1) == 2);
  BOOST_TEST(failed.calls == 1);
  BOOST_TEST(!failed.value.has_value());
  BOOST_TEST(failed.error == "boom");
}

BOOST_AUTO_TEST_CASE(n_awaitable_with_callback_given_context_and_executor)
{
  nanorun::runtime rt(1);
  int_outcome by_ctx, by_ex, failed;
  asio::co_spawn(rt, n_value(1), by_ctx.handler());
  asio::co_spawn(rt.get_executor(), n_value(2), by_ex.handler());
  asio::co_spawn(rt.get_executor(), n_throws("boom"), failed.handler());
  rt.run();
  BOOST_TEST(by_ctx.value.value_or(-1) == 1);
  BOOST_TEST(by_ex.value.value_or(-1) == 2);
  BOOST_TEST(failed.calls == 1);
  BOOST_TEST(failed.error == "boom");
}

BOOST_AUTO_TEST_CASE(use_awaitable_nested_co_spawn_and_exceptions)
{
  nanorun::runtime rt(1);
  int_outcome any_out, n_out;
  asio::co_spawn(rt, any_parent(), any_out.handler());
  asio::co_spawn(rt, n_parent(), n_out.handler());
  rt.run();
  BOOST_TEST(any_out.error == "");
  BOOST_TEST(any_out.value.value_or(-1) == 43);
  BOOST_TEST(n_out.error == "");
  BOOST_TEST(n_out.value.value_or(-1) == 43);
}

BOOST_AUTO_TEST_CASE(use_future_from_a_thread_outside_run)
{
  // co_spawn from a thread that is not running the executor (asio#552).
  nanorun::runtime rt(2);
  auto guard = asio::make_work_guard(rt);
  std::thread t1([&] { rt.run(); });
  std::thread t2([&] { rt.run(); });

  std::future<int> a = asio::co_spawn(rt, any_value(5), asio::use_future);
  std::future<int> b = asio::co_spawn(rt.get_executor(), n_value(6), asio::use_future);
  std::future<int> c = asio::co_spawn(rt, any_throws("future"), asio::use_future);
  std::future<int> d = asio::co_spawn(rt, n_throws("n-future"), asio::use_future);
  int out = 0;
  std::future<void> e = asio::co_spawn(rt, any_void(out, 7), asio::use_future);
  BOOST_TEST(a.get() == 5);
  BOOST_TEST(b.get() == 6);
  BOOST_CHECK_EXCEPTION(c.get(), test_error, [](const test_error& x) { return std::string(x.what()) == "future"; });
  BOOST_CHECK_EXCEPTION(d.get(), test_error, [](const test_error& x) { return std::string(x.what()) == "n-future"; });
  e.get();
  BOOST_TEST(out == 7);

  guard.reset();
  t1.join();
  t2.join();
}

BOOST_AUTO_TEST_CASE(deferred_token)
{
  nanorun::runtime rt(1);
  int_outcome any_out, n_out, failed;
  auto op1 = asio::co_spawn(rt, any_value(11), asio::deferred);
  auto op2 = asio::co_spawn(rt.get_executor(), n_value(12), asio::deferred);
  auto op3 = asio::co_spawn(rt, n_throws("deferred"), asio::deferred);
  rt.run(); // nothing started yet: deferred operations are lazy
  BOOST_TEST(any_out.calls == 0);
  rt.restart();
  std::move(op1)(any_out.handler());
  std::move(op2)(n_out.handler());
  std::move(op3)(failed.handler());
  rt.run();
  BOOST_TEST(any_out.value.value_or(-1) == 11);
  BOOST_TEST(n_out.value.value_or(-1) == 12);
  BOOST_TEST(failed.error == "deferred");
}

BOOST_AUTO_TEST_CASE(deferred_co_spawn_awaited_inside_a_coroutine)
{
  nanorun::runtime rt(1);
  auto parent = []() -> asio::awaitable<int> {
    auto op = asio::co_spawn(co_await asio::this_coro::executor, any_value(3), asio::deferred);
    co_return co_await std::move(op)(asio::use_awaitable);
  };
  std::future<int> f = asio::co_spawn(rt, parent(), asio::use_future);
  rt.run();
  BOOST_TEST(f.get() == 3);
}

BOOST_AUTO_TEST_CASE(detached_runs_and_swallows_exceptions)
{
  nanorun::runtime rt(1);
  int out = 0;
  asio::co_spawn(rt, any_void(out, 9), asio::detached);
  asio::co_spawn(rt.get_executor(), any_throws("ignored"), asio::detached);
  int n_out = 0;
  asio::co_spawn(
      rt,
      [&n_out]() -> n_awaitable<void> {
        co_await asio::post(co_await asio::this_coro::executor, n_use_awaitable);
        n_out = 10;
      },
      asio::detached);
  BOOST_CHECK_NO_THROW(rt.run());
  BOOST_TEST(out == 9);
  BOOST_TEST(n_out == 10);
}

BOOST_AUTO_TEST_CASE(co_spawn_function_object_overload)
{
  nanorun::runtime rt(1);
  std::future<std::string> f = asio::co_spawn(
      rt.get_executor(),
      []() -> asio::awaitable<std::string> {
        co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
        co_return std::string("fn");
      },
      asio::use_future);
  rt.run();
  BOOST_TEST(f.get() == "fn");
}

BOOST_AUTO_TEST_CASE(this_coro_executor_types_and_identity)
{
  nanorun::runtime rt(1);
  bool any_ok = false, n_ok = false, strand_ok = false;
  asio::co_spawn(
      rt,
      [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        static_assert(std::is_same_v<decltype(ex), asio::any_io_executor>);
        any_ok = ex.target<ex_t>() != nullptr && *ex.target<ex_t>() == rt.get_executor();
      },
      asio::detached);
  asio::co_spawn(
      rt,
      [&]() -> n_awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        static_assert(std::is_same_v<decltype(ex), ex_t>);
        n_ok = &asio::query(ex, asio::execution::context) == &rt && ex.running_in_this_thread();
      },
      asio::detached);
  asio::co_spawn(
      asio::make_strand(rt),
      [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        auto* s = ex.target<asio::strand<ex_t>>();
        strand_ok = s != nullptr && s->running_in_this_thread();
      },
      asio::detached);
  rt.run();
  BOOST_TEST(any_ok);
  BOOST_TEST(n_ok);
  BOOST_TEST(strand_ok);
}

BOOST_AUTO_TEST_CASE(co_spawn_keeps_run_alive_across_foreign_completion)
{
  // The coroutine waits for a completion posted from a foreign thread; co_spawn's
  // tracked work must keep run() from returning meanwhile.
  nanorun::runtime rt(1);
  std::promise<void> go;
  std::thread helper;
  int result = 0;
  asio::co_spawn(
      rt,
      [&]() -> asio::awaitable<void> {
        // Suspend until the helper thread resumes us through the executor.
        co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
            [&](auto handler) {
              helper = std::thread([&go, h = std::move(handler)]() mutable {
                go.get_future().wait();
                auto hex = asio::get_associated_executor(h);
                asio::post(hex, std::move(h));
              });
            },
            asio::use_awaitable);
        result = 1;
      },
      asio::detached);
  asio::post(rt, [&] { go.set_value(); });
  rt.run();
  helper.join();
  BOOST_TEST(result == 1);
}

// ---- nanorun::spawn and join_handle --------------------------------------------------

BOOST_AUTO_TEST_CASE(spawn_with_use_future)
{
  nanorun::runtime rt(2);
  auto guard = asio::make_work_guard(rt);
  std::thread t1([&] { rt.run(); });
  std::thread t2([&] { rt.run(); });
  std::future<int> a = nanorun::spawn(rt, any_value(1), asio::use_future);
  std::future<int> b = nanorun::spawn(rt.get_executor(), n_value(2), asio::use_future);
  std::future<int> c = nanorun::spawn(rt, any_throws("spawned"), asio::use_future);
  BOOST_TEST(a.get() == 1);
  BOOST_TEST(b.get() == 2);
  BOOST_CHECK_EXCEPTION(c.get(), test_error, [](const test_error& x) { return std::string(x.what()) == "spawned"; });
  guard.reset();
  t1.join();
  t2.join();
}

BOOST_AUTO_TEST_CASE(spawn_runs_any_io_awaitable_on_a_task_executor_of_its_own)
{
  nanorun::runtime rt(1);
  bool on_strand = false, n_on_plain = false;
  // Named lambdas: a coroutine lambda's captures live in the closure, which
  // must outlive the coroutine.
  auto any_task = [&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    on_strand = ex.target<nanorun::task_executor>() != nullptr; // a serial executor of its own
  };
  auto n_task = [&]() -> n_awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    n_on_plain = ex == rt.get_executor();
  };
  auto h1 = nanorun::spawn(rt, any_task());
  auto h2 = nanorun::spawn(rt, n_task());
  rt.run();
  BOOST_TEST(on_strand);
  BOOST_TEST(n_on_plain);
  BOOST_TEST(h1.is_finished());
  BOOST_TEST(h2.is_finished());
}

BOOST_AUTO_TEST_CASE(co_await_spawn_and_async_join)
{
  nanorun::runtime rt(2);
  auto parent = []() -> asio::awaitable<int> {
    auto ex = co_await asio::this_coro::executor;
    int sum = co_await nanorun::spawn(ex, any_value(1)); // co_await the join handle directly
    auto h = nanorun::spawn(ex, any_value(2));
    sum += co_await std::move(h); // co_await an rvalue handle
    auto h2 = nanorun::spawn(ex, any_value(3));
    sum += co_await h2.async_join(asio::use_awaitable); // async_join with use_awaitable
    try
    {
      co_await nanorun::spawn(ex, any_throws("joined"));
      sum += 1000;
    }
    catch (const test_error& e)
    {
      if (std::string(e.what()) == "joined")
        sum += 10;
    }
    try
    {
      auto h3 = nanorun::spawn(ex, any_throws("async_join"));
      co_await h3.async_join(asio::use_awaitable);
      sum += 1000;
    }
    catch (const test_error& e)
    {
      if (std::string(e.what()) == "async_join")
        sum += 100;
    }
    co_return sum;
  };
  auto n_parent_fn = []() -> n_awaitable<int> {
    auto ex = co_await asio::this_coro::executor;
    int sum = co_await nanorun::spawn(ex, n_value(1));
    auto h = nanorun::spawn(ex, n_value(2));
    sum += co_await h.async_join(n_use_awaitable);
    try
    {
      co_await nanorun::spawn(ex, n_throws("joined"));
    }
    catch (const test_error&)
    {
      sum += 10;
    }
    co_return sum;
  };
  std::future<int> f = nanorun::spawn(rt, parent(), asio::use_future);
  std::future<int> g = nanorun::spawn(rt, n_parent_fn(), asio::use_future);
  std::thread t([&] { rt.run(); });
  rt.run();
  t.join();
  BOOST_TEST(f.get() == 116);
  BOOST_TEST(g.get() == 13);
}

BOOST_AUTO_TEST_CASE(join_handle_async_join_with_callback_and_get)
{
  nanorun::runtime rt(1);
  auto h1 = nanorun::spawn(rt, any_value(4));
  auto h2 = nanorun::spawn(rt, any_throws("cb"));
  auto h3 = nanorun::spawn(rt.get_executor(), n_value(5));
  int_outcome o1, o2;
  h1.async_join(asio::bind_executor(rt, o1.handler()));
  h2.async_join(asio::bind_executor(rt, o2.handler()));
  BOOST_TEST(o1.calls == 0);
  rt.run();
  BOOST_TEST(o1.value.value_or(-1) == 4);
  BOOST_TEST(o2.error == "cb");
  BOOST_TEST(h3.is_finished());
  BOOST_TEST(h3.get() == 5);
  // The outcome can be taken once.
  BOOST_CHECK_THROW(h3.get(), std::logic_error);
  BOOST_TEST(!h3.valid());
}

// Regression: misuse of a join handle must reach the awaiting coroutine as an
// exception, not escape from run() through the initiation.
BOOST_AUTO_TEST_CASE(awaiting_a_consumed_join_handle_throws_in_the_coroutine)
{
  for (int variant = 0; variant < 2; ++variant)
  {
    nanorun::runtime rt(1);
    std::string seen = "coroutine did not finish";
    auto body = [&seen, variant]() -> asio::awaitable<void> {
      auto h = nanorun::spawn(co_await asio::this_coro::executor, any_value(1));
      if (variant == 0)
        co_await std::move(h);
      else
        co_await h.async_join(asio::use_awaitable);
      try
      {
        if (variant == 0)
          co_await std::move(h);
        else
          co_await h.async_join(asio::use_awaitable);
        seen = "second join returned";
      }
      catch (const std::logic_error&)
      {
        seen = "logic_error";
      }
    };
    asio::co_spawn(rt, body, asio::detached);
    std::string escaped;
    try
    {
      rt.run();
    }
    catch (const std::exception& e)
    {
      escaped = e.what();
    }
    BOOST_TEST_INFO("variant " << variant);
    BOOST_TEST(escaped == "", "escaped from run(): " << escaped);
    BOOST_TEST_INFO("variant " << variant);
    BOOST_TEST(seen == "logic_error");
  }
}

BOOST_AUTO_TEST_CASE(join_handle_get_blocks_until_done_from_outside)
{
  nanorun::runtime rt(2);
  auto guard = asio::make_work_guard(rt);
  std::thread t([&] { rt.run(); });
  auto h = nanorun::spawn(rt, []() -> asio::awaitable<int> {
    auto ex = co_await asio::this_coro::executor;
    int v = 0;
    for (int i = 0; i < 50; ++i)
    {
      co_await nanorun::yield_now();
      v += co_await nanorun::spawn(ex, any_value(1));
    }
    co_return v;
  }());
  auto bad = nanorun::spawn(rt, any_throws("get"));
  BOOST_TEST(h.get() == 50);
  BOOST_CHECK_EXCEPTION(bad.get(), test_error, [](const test_error& x) { return std::string(x.what()) == "get"; });
  guard.reset();
  t.join();
}

BOOST_AUTO_TEST_CASE(join_handle_void_and_detach)
{
  nanorun::runtime rt(1);
  int out = 0, out2 = 0;
  auto h = nanorun::spawn(rt, any_void(out, 3));
  auto d = nanorun::spawn(rt, any_void(out2, 4));
  d.detach();
  BOOST_TEST(!d.valid());
  bool joined = false;
  std::exception_ptr err = std::make_exception_ptr(1);
  h.async_join(asio::bind_executor(rt, [&](std::exception_ptr e) {
    joined = true;
    err = e;
  }));
  {
    auto dropped = nanorun::spawn(rt, any_throws("dropped")); // destroyed unjoined: detached
  }
  BOOST_CHECK_NO_THROW(rt.run());
  BOOST_TEST(joined);
  BOOST_TEST(!err);
  BOOST_TEST(out == 3);
  BOOST_TEST(out2 == 4);
}

BOOST_AUTO_TEST_CASE(yield_now_lets_other_coroutines_run)
{
  nanorun::runtime rt(1);
  std::vector<int> trace;
  auto worker = [&trace](int id) -> asio::awaitable<void> {
    for (int i = 0; i < 5; ++i)
    {
      trace.push_back(id);
      co_await nanorun::yield_now();
    }
  };
  auto n_worker = [&trace](int id) -> n_awaitable<void> {
    for (int i = 0; i < 5; ++i)
    {
      trace.push_back(id);
      co_await nanorun::yield_now();
    }
  };
  asio::co_spawn(rt, worker(1), asio::detached);
  asio::co_spawn(rt, n_worker(2), asio::detached);
  asio::co_spawn(rt.get_executor(), worker(3), asio::detached);
  rt.run();
  BOOST_TEST_MESSAGE("yield trace: " << trace_string(trace));
  BOOST_REQUIRE(trace.size() == 15u);
  BOOST_TEST(yield_violations(trace) == 0, "trace " << trace_string(trace));
}

// Regression: yield_now() must let other tasks run even when the yielding
// task runs on a serialising executor of its own.
BOOST_AUTO_TEST_CASE(yield_now_yields_in_spawned_tasks_on_their_strands)
{
  nanorun::runtime rt(1);
  std::vector<int> trace;
  auto worker = [&trace](int id) -> asio::awaitable<void> {
    for (int i = 0; i < 5; ++i)
    {
      trace.push_back(id);
      co_await nanorun::yield_now();
    }
  };
  asio::co_spawn(rt, worker(1), asio::detached);
  nanorun::spawn(rt, worker(2)).detach();
  nanorun::spawn(rt, worker(3)).detach();
  rt.run();
  BOOST_TEST_MESSAGE("yield trace: " << trace_string(trace));
  BOOST_REQUIRE(trace.size() == 15u);
  BOOST_TEST(yield_violations(trace) == 0, "trace " << trace_string(trace));
}

BOOST_AUTO_TEST_CASE(yield_now_with_callback_token_is_not_inline)
{
  nanorun::runtime rt(1);
  bool done = false, before_return = true;
  asio::post(rt, [&] {
    nanorun::yield_now()(asio::bind_executor(rt, [&] { done = true; }));
    before_return = done;
  });
  rt.run();
  BOOST_TEST(!before_return);
  BOOST_TEST(done);
}

BOOST_AUTO_TEST_SUITE_END()
