// co_await nanorun::yield_now(): the coroutine goes behind runnable work.
#include <nanorun/nanorun.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/test/unit_test.hpp>

#include <string>

namespace asio = boost::asio;

BOOST_AUTO_TEST_SUITE(executor_yield)

BOOST_AUTO_TEST_CASE(yield_runs_queued_handlers_first)
{
  nanorun::runtime rt(1);
  std::string trace;
  asio::co_spawn(
      rt,
      [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        asio::post(ex, [&] { trace += "a"; });
        asio::post(ex, [&] { trace += "b"; });
        trace += "y";
        co_await nanorun::yield_now();
        trace += "r";
      },
      asio::detached);
  rt.run();
  BOOST_TEST(trace == "yabr");
}

BOOST_AUTO_TEST_CASE(two_yielding_coroutines_alternate)
{
  nanorun::runtime rt(1);
  std::string trace;
  auto worker = [&](char c) -> asio::awaitable<void> {
    for (int i = 0; i < 3; ++i)
    {
      trace += c;
      co_await nanorun::yield_now();
    }
  };
  asio::co_spawn(rt, worker('x'), asio::detached);
  asio::co_spawn(rt, worker('o'), asio::detached);
  rt.run();
  BOOST_TEST(trace == "xoxoxo");
}

BOOST_AUTO_TEST_CASE(yield_with_a_callback_token)
{
  nanorun::runtime rt(1);
  int n = 0;
  asio::post(rt, [&] {
    nanorun::yield_now()(asio::bind_executor(rt.get_executor(), [&] { ++n; }));
    BOOST_TEST(n == 0); // never completes inside the initiating call
  });
  rt.run();
  BOOST_TEST(n == 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(executor_yield_in_tasks)

BOOST_AUTO_TEST_CASE(spawned_tasks_on_strands_alternate)
{
  // nanorun::spawn puts each task on a strand of its own; a yield must still
  // let the other task run.
  nanorun::runtime rt(1);
  std::string trace;
  auto worker = [&](char c) -> asio::awaitable<void> {
    for (int i = 0; i < 4; ++i)
    {
      trace += c;
      co_await nanorun::yield_now();
    }
  };
  nanorun::spawn(rt, worker('x')).detach();
  nanorun::spawn(rt, worker('o')).detach();
  rt.run();
  BOOST_TEST(trace == "xoxoxoxo");
}

BOOST_AUTO_TEST_SUITE_END()
