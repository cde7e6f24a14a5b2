// Asio conformance: post, dispatch, defer and execute on a nanorun runtime,
// given the executor or the context; bind_executor, work guards, use_future,
// associated allocators, and any_io_executor wrapping nanorun's executor.
#include <nanorun/runtime.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/defer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <future>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace execution = boost::asio::execution;

namespace {

using ex_t = nanorun::runtime::executor_type;

struct error_code_holder
{
  boost::system::error_code ec = boost::asio::error::would_block;
  bool in_run = false;
};

struct alloc_counters
{
  std::atomic<int> allocations{0};
  std::atomic<int> deallocations{0};
};

// Counts what Asio and nanorun allocate through a handler's associated allocator.
template <class T>
struct counting_allocator
{
  using value_type = T;
  alloc_counters* counters;

  explicit counting_allocator(alloc_counters& c) noexcept : counters(&c) {}
  template <class U>
  counting_allocator(const counting_allocator<U>& o) noexcept : counters(o.counters)
  {
  }

  T* allocate(std::size_t n)
  {
    ++counters->allocations;
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, std::size_t n) noexcept
  {
    ++counters->deallocations;
    std::allocator<T>().deallocate(p, n);
  }

  template <class U>
  friend bool operator==(const counting_allocator& a, const counting_allocator<U>& b) noexcept
  {
    return a.counters == b.counters;
  }
  template <class U>
  friend bool operator!=(const counting_allocator& a, const counting_allocator<U>& b) noexcept
  {
    return a.counters != b.counters;
  }
};

// Runs rt.run() on a thread of its own, with a work guard, until stopped.
struct background_runner
{
  nanorun::runtime& rt;
  asio::executor_work_guard<ex_t> guard;
  std::thread thread;
  std::thread::id id;

  explicit background_runner(nanorun::runtime& r) : rt(r), guard(asio::make_work_guard(r.get_executor()))
  {
    std::promise<std::thread::id> started;
    auto f = started.get_future();
    thread = std::thread([this, &started] {
      asio::post(rt, [&started] { started.set_value(std::this_thread::get_id()); });
      rt.run();
    });
    id = f.get();
  }
  ~background_runner()
  {
    guard.reset();
    thread.join();
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(conformance_post_dispatch)

BOOST_AUTO_TEST_CASE(post_given_executor_or_context_never_runs_inline)
{
  nanorun::runtime rt(1);
  std::vector<int> order;
  asio::post(rt, [&] {
    asio::post(rt, [&] { order.push_back(2); });
    asio::post(rt.get_executor(), [&] { order.push_back(3); });
    order.push_back(1); // both posts return before their handlers run
  });
  BOOST_TEST(order.empty()); // not even from outside run()
  BOOST_TEST(rt.run() == 3u);
  BOOST_TEST(order == (std::vector<int>{1, 2, 3}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(dispatch_runs_inline_inside_run_and_queues_outside)
{
  nanorun::runtime rt(1);
  bool outside = false, inside = false, inside_before_return = false, ctx_inside_before_return = false;
  asio::dispatch(rt, [&] { outside = true; });
  BOOST_TEST(!outside); // the caller is not in run(): queued
  asio::post(rt, [&] {
    asio::dispatch(rt.get_executor(), [&] { inside = true; });
    inside_before_return = inside;
    bool ctx = false;
    asio::dispatch(rt, [&] { ctx = true; });
    ctx_inside_before_return = ctx;
  });
  BOOST_TEST(rt.run() == 2u); // inline bodies are not counted, as with io_context
  BOOST_TEST(outside);
  BOOST_TEST(inside_before_return);
  BOOST_TEST(ctx_inside_before_return);
}

BOOST_AUTO_TEST_CASE(dispatch_from_another_runtime_queues)
{
  nanorun::runtime a(1);
  nanorun::runtime b(1);
  bool ran = false, ran_inline = true;
  asio::post(a, [&] {
    asio::dispatch(b, [&] { ran = true; });
    ran_inline = ran;
  });
  a.run();
  BOOST_TEST(!ran_inline);
  BOOST_TEST(!ran);
  BOOST_TEST(b.run() == 1u);
  BOOST_TEST(ran);
}

BOOST_AUTO_TEST_CASE(defer_never_runs_inline)
{
  nanorun::runtime rt(1);
  std::vector<int> order;
  asio::post(rt, [&] {
    asio::defer(rt, [&] { order.push_back(2); });
    asio::defer(rt.get_executor(), [&] { order.push_back(3); });
    order.push_back(1);
  });
  asio::defer(rt, [&] { order.push_back(0); }); // from outside: queued behind the first
  BOOST_TEST(rt.run() == 4u);
  BOOST_TEST(order.size() == 4u);
  BOOST_TEST(order.front() == 1);
}

BOOST_AUTO_TEST_CASE(execute_possibly_blocking_inline_only_inside_run)
{
  nanorun::runtime rt(1);
  const ex_t ex = rt.get_executor();

  // Inside run(): inline.
  bool inline_ran = false, inline_before_return = false;
  asio::post(rt, [&] {
    ex.execute([&] { inline_ran = true; });
    inline_before_return = inline_ran;
  });
  rt.run();
  BOOST_TEST(inline_before_return);

  // From a thread that is not inside run(): queued, and it runs on the thread
  // that is inside run(), never inline on the calling thread.
  rt.restart();
  background_runner runner(rt);
  for (int i = 0; i < 20; ++i)
  {
    std::promise<std::thread::id> where;
    ex.execute([&] { where.set_value(std::this_thread::get_id()); });
    const auto id = where.get_future().get();
    BOOST_TEST((id == runner.id));
    BOOST_TEST((id != std::this_thread::get_id()));
  }
}

BOOST_AUTO_TEST_CASE(post_from_foreign_thread_runs_on_run_thread)
{
  nanorun::runtime rt(1);
  background_runner runner(rt);
  std::promise<std::thread::id> p1, p2, p3;
  asio::post(rt, [&] { p1.set_value(std::this_thread::get_id()); });
  asio::dispatch(rt, [&] { p2.set_value(std::this_thread::get_id()); });
  asio::defer(rt, [&] { p3.set_value(std::this_thread::get_id()); });
  BOOST_TEST((p1.get_future().get() == runner.id));
  BOOST_TEST((p2.get_future().get() == runner.id));
  BOOST_TEST((p3.get_future().get() == runner.id));
}

BOOST_AUTO_TEST_CASE(bind_executor_routes_the_handler_to_its_runtime)
{
  nanorun::runtime a(1);
  nanorun::runtime b(1);
  bool in_b = false, in_a = true;
  auto h = asio::bind_executor(b.get_executor(), [&] {
    in_b = b.get_executor().running_in_this_thread();
    in_a = a.get_executor().running_in_this_thread();
  });
  static_assert(std::is_same_v<asio::associated_executor_t<decltype(h)>, ex_t>);
  BOOST_TEST((asio::get_associated_executor(h) == b.get_executor()));
  asio::post(a, std::move(h));
  a.run();
  BOOST_TEST(!in_b); // a only forwards it
  // The forwarded handler holds tracked work on b, so b.run() waits for it.
  BOOST_TEST(b.run() == 1u);
  BOOST_TEST(in_b);
  BOOST_TEST(!in_a);
}

BOOST_AUTO_TEST_CASE(post_with_bound_executor_alone)
{
  nanorun::runtime rt(1);
  int n = 0;
  asio::post(asio::bind_executor(rt.get_executor(), [&] { ++n; }));
  asio::dispatch(asio::bind_executor(rt, [&] { ++n; }));
  asio::defer(asio::bind_executor(rt.get_executor(), [&] { ++n; }));
  BOOST_TEST(n == 0);
  rt.run();
  BOOST_TEST(n == 3);
}

BOOST_AUTO_TEST_CASE(work_guard_keeps_run_alive_and_reset_lets_it_return)
{
  for (int variant = 0; variant < 2; ++variant)
  {
    nanorun::runtime rt(1);
    auto guard = variant == 0 ? asio::make_work_guard(rt) : asio::make_work_guard(rt.get_executor());
    std::atomic<bool> returned{false};
    std::thread t([&] {
      rt.run();
      returned = true;
    });
    std::promise<void> ran;
    asio::post(rt, [&] { ran.set_value(); });
    ran.get_future().wait();
    // The guard is the only work left; run() must still be there to take this one.
    std::promise<void> ran2;
    asio::post(rt, [&] { ran2.set_value(); });
    ran2.get_future().wait();
    BOOST_TEST(!returned.load());
    BOOST_TEST(!rt.stopped());
    guard.reset();
    t.join();
    BOOST_TEST(returned.load());
    BOOST_TEST(rt.stopped());
  }
}

BOOST_AUTO_TEST_CASE(post_use_future)
{
  nanorun::runtime rt(2);
  background_runner runner(rt);
  std::future<void> f0 = asio::post(rt.get_executor(), asio::use_future);
  f0.get();
  std::future<int> f1 = asio::post(rt, asio::use_future([] { return 42; }));
  BOOST_TEST(f1.get() == 42);
  std::future<int> f2 = asio::post(rt.get_executor(), asio::use_future([]() -> int { throw std::domain_error("x"); }));
  BOOST_CHECK_THROW(f2.get(), std::domain_error);
  std::future<void> f3 = asio::dispatch(rt, asio::use_future);
  f3.get();
  std::future<void> f4 = asio::defer(rt.get_executor(), asio::use_future);
  f4.get();
}

BOOST_AUTO_TEST_CASE(associated_allocator_is_used_for_posted_handlers)
{
  alloc_counters counters;
  {
    nanorun::runtime rt(1);
    counting_allocator<void> alloc(counters);
    int n = 0;
    asio::post(rt.get_executor(), asio::bind_allocator(alloc, [&] { ++n; }));
    const int after_post = counters.allocations.load();
    BOOST_TEST(after_post > 0);
    asio::post(rt, asio::bind_allocator(alloc, [&] { ++n; }));
    asio::defer(rt.get_executor(), asio::bind_allocator(alloc, [&] { ++n; }));
    asio::dispatch(rt.get_executor(), asio::bind_allocator(alloc, [&] { ++n; })); // queued from outside
    BOOST_TEST(counters.allocations.load() >= after_post + 3);
    // Posted from inside run() as well (the path that would use the worker's cache).
    asio::post(rt, [&] {
      const int before = counters.allocations.load();
      asio::post(rt.get_executor(), asio::bind_allocator(alloc, [&] { ++n; }));
      BOOST_TEST(counters.allocations.load() > before);
    });
    rt.run();
    BOOST_TEST(n == 5);
    BOOST_TEST(counters.allocations.load() == counters.deallocations.load());
  }
  BOOST_TEST(counters.allocations.load() == counters.deallocations.load());
}

BOOST_AUTO_TEST_CASE(associated_allocator_memory_is_freed_when_destroyed_unrun)
{
  alloc_counters counters;
  auto token = std::make_shared<int>(0);
  std::weak_ptr<int> weak = token;
  {
    nanorun::runtime rt(1);
    asio::post(rt, asio::bind_allocator(counting_allocator<void>(counters), [t = std::move(token)] {}));
    BOOST_TEST(counters.allocations.load() > 0);
  }
  BOOST_TEST(weak.expired());
  BOOST_TEST(counters.allocations.load() == counters.deallocations.load());
}

BOOST_AUTO_TEST_CASE(any_io_executor_post_dispatch_and_target)
{
  nanorun::runtime rt(1);
  const asio::any_io_executor any = rt.get_executor();
  BOOST_REQUIRE(any.target<ex_t>() != nullptr);
  BOOST_TEST((*any.target<ex_t>() == rt.get_executor()));
  std::vector<int> order;
  asio::post(any, [&] {
    order.push_back(1);
    asio::dispatch(any, [&] { order.push_back(2); }); // inline: we are in run()
    asio::post(any, [&] { order.push_back(4); });
    asio::defer(any, [&] { order.push_back(5); });
    order.push_back(3);
  });
  asio::dispatch(any, [&] { order.push_back(6); }); // outside run(): queued
  BOOST_TEST(order.empty());
  rt.run();
  BOOST_REQUIRE(order.size() == 6u);
  BOOST_TEST(order[0] == 1);
  BOOST_TEST(order[1] == 2);
  BOOST_TEST(order[2] == 3);
  // execute through any_io_executor with a move-only function
  rt.restart();
  int v = 0;
  any.execute([p = std::make_unique<int>(9), &v] { v = *p; });
  rt.run();
  BOOST_TEST(v == 9);
}

BOOST_AUTO_TEST_CASE(any_io_executor_dispatch_from_foreign_thread_queues)
{
  nanorun::runtime rt(1);
  background_runner runner(rt);
  const asio::any_io_executor any = rt.get_executor();
  std::promise<std::thread::id> p;
  asio::dispatch(any, [&] { p.set_value(std::this_thread::get_id()); });
  BOOST_TEST((p.get_future().get() == runner.id));
}

BOOST_AUTO_TEST_CASE(posts_from_many_threads_to_two_workers)
{
  nanorun::runtime rt(2);
  constexpr int threads = 4, per_thread = 2000;
  std::atomic<int> n{0};
  {
    auto guard = asio::make_work_guard(rt);
    std::thread r1([&] { rt.run(); });
    std::thread r2([&] { rt.run(); });
    std::vector<std::thread> posters;
    for (int t = 0; t < threads; ++t)
      posters.emplace_back([&] {
        for (int i = 0; i < per_thread; ++i)
        {
          if (i % 3 == 0)
            asio::post(rt, [&] { ++n; });
          else if (i % 3 == 1)
            asio::dispatch(rt.get_executor(), [&] { ++n; });
          else
            asio::post(rt, [&] { asio::dispatch(rt, [&] { ++n; }); }); // inline from a worker
        }
      });
    for (auto& p : posters)
      p.join();
    guard.reset();
    r1.join();
    r2.join();
  }
  BOOST_TEST(n.load() == threads * per_thread);
  BOOST_TEST(rt.stopped());
}

BOOST_AUTO_TEST_CASE(exception_from_posted_handler_leaves_only_that_run)
{
  nanorun::runtime rt(1);
  int n = 0;
  asio::post(rt, [&] { ++n; });
  asio::post(rt.get_executor(), [] { throw std::invalid_argument("from handler"); });
  asio::post(rt, [&] { ++n; });
  BOOST_CHECK_THROW(rt.run(), std::invalid_argument);
  BOOST_TEST(n == 1);
  BOOST_TEST(rt.run() == 1u); // the rest is still queued; no restart needed
  BOOST_TEST(n == 2);
}

BOOST_AUTO_TEST_CASE(asio_timer_completion_runs_on_the_run_thread)
{
  // Asio's steady_timer on a nanorun runtime is served by Asio's hidden
  // scheduler thread, which calls our execute() to deliver the completion: it
  // must queue, not run the handler on the hidden thread.
  nanorun::runtime rt(1);
  asio::steady_timer t(rt, std::chrono::milliseconds(2));
  std::thread::id where;
  error_code_holder got;
  t.async_wait([&](boost::system::error_code ec) {
    where = std::this_thread::get_id();
    got.ec = ec;
    got.in_run = rt.get_executor().running_in_this_thread();
  });
  rt.run();
  BOOST_TEST((where == std::this_thread::get_id()));
  BOOST_TEST(!got.ec);
  BOOST_TEST(got.in_run);
}

// io_context allows a handler to run the context it runs on (nested run/poll on
// the same thread); work the handler posted just before must be runnable by the
// nested call. Run on io_context too, as the reference.
template <class Context>
std::vector<bool> nested_poll_scenario(Context& ctx)
{
  std::vector<bool> seen;
  asio::post(ctx, [&] {
    bool b = false;
    asio::post(ctx, [&b] { b = true; });
    const auto n = ctx.poll_one();
    seen.push_back(n == 1);
    seen.push_back(b);
  });
  ctx.run();
  return seen;
}

// Regression: a nested poll()/run() inside a handler sees what the handler
// just posted, as with io_context.
BOOST_AUTO_TEST_CASE(nested_poll_inside_a_handler_runs_work_it_posted)
{
  asio::io_context io;
  const auto expected = nested_poll_scenario(io);
  nanorun::runtime rt(1);
  const auto actual = nested_poll_scenario(rt);
  BOOST_TEST(expected == (std::vector<bool>{true, true}), boost::test_tools::per_element());
  BOOST_TEST(actual == expected, boost::test_tools::per_element());
}

// With two threads in run(), a handler that blocks until a handler it posted
// has run completes on io_context (the other thread runs it). Bounded waits:
// a timeout reports "the other thread never ran it" instead of hanging.
template <class Context>
bool blocking_wait_scenario(Context& ctx)
{
  auto guard = asio::make_work_guard(ctx);
  std::thread t1([&] { ctx.run(); });
  std::thread t2([&] { ctx.run(); });
  // Let both threads go idle first.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::promise<bool> result;
  asio::post(ctx, [&] {
    auto p = std::make_shared<std::promise<void>>();
    auto f = p->get_future();
    asio::post(ctx, [p] { p->set_value(); });
    result.set_value(f.wait_for(std::chrono::seconds(3)) == std::future_status::ready);
  });
  const bool ok = result.get_future().get();
  guard.reset();
  t1.join();
  t2.join();
  return ok;
}

// Regression: a handler that posts work and blocks waiting for it is helped
// by another thread in run(), as with io_context (LIFO-slot rescue).
BOOST_AUTO_TEST_CASE(handler_blocking_on_a_posted_handler_is_helped_by_another_thread)
{
  asio::io_context io(2);
  BOOST_TEST(blocking_wait_scenario(io));
  nanorun::runtime rt(2);
  BOOST_TEST(blocking_wait_scenario(rt));
}

BOOST_AUTO_TEST_SUITE_END()
