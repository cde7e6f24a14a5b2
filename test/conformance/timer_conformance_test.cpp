// Asio conformance of nanorun's timers: the traits Asio's I/O objects have,
// every completion token, awaitable operators, per-operation cancellation,
// and the sleep/timeout helpers.
#include "conformance/common.hpp"

#include <nanorun/sleep.hpp>
#include <nanorun/spawn.hpp>
#include <nanorun/steady_timer.hpp>
#include <nanorun/system_timer.hpp>
#include <nanorun/timeout.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <future>
#include <type_traits>
#include <variant>

namespace asio = boost::asio;
using boost::system::error_code;
using namespace std::chrono_literals;
using namespace boost::asio::experimental::awaitable_operators;
using clock_type = std::chrono::steady_clock;

// The same member types as boost::asio::steady_timer.
static_assert(std::is_same_v<nanorun::steady_timer::executor_type, asio::any_io_executor>);
static_assert(std::is_same_v<nanorun::steady_timer::clock_type, clock_type>);
static_assert(std::is_same_v<nanorun::steady_timer::duration, clock_type::duration>);
static_assert(std::is_same_v<nanorun::steady_timer::time_point, clock_type::time_point>);
static_assert(std::is_same_v<nanorun::steady_timer::traits_type, asio::wait_traits<clock_type>>);
static_assert(std::is_same_v<nanorun::steady_timer::rebind_executor<conformance::ex_t>::other,
                             nanorun::basic_waitable_timer<clock_type, asio::wait_traits<clock_type>,
                                                           conformance::ex_t>>);
static_assert(std::is_same_v<nanorun::system_timer::clock_type, std::chrono::system_clock>);
static_assert(std::is_nothrow_move_constructible_v<nanorun::steady_timer>);
static_assert(!std::is_copy_constructible_v<nanorun::steady_timer>);
// As Asio's: the default token gives an awaitable, and use_future a future.
static_assert(std::is_same_v<decltype(std::declval<nanorun::steady_timer&>().async_wait(asio::use_awaitable)),
                             asio::awaitable<void>>);
static_assert(std::is_same_v<decltype(std::declval<nanorun::steady_timer&>().async_wait(asio::use_future)),
                             std::future<void>>);

BOOST_AUTO_TEST_SUITE(conformance_timer)

BOOST_AUTO_TEST_CASE(every_completion_token)
{
  nanorun::runtime rt(2);
  auto guard = asio::make_work_guard(rt);
  std::thread runner([&] { rt.run(); });

  nanorun::steady_timer t(rt, 1ms);
  t.async_wait(asio::use_future).get();

  error_code ec = asio::error::would_block;
  std::promise<void> p;
  t.expires_after(1ms);
  t.async_wait(asio::redirect_error([&] { p.set_value(); }, ec));
  p.get_future().get();
  BOOST_TEST(!ec);

  t.expires_after(1h);
  std::promise<error_code> tp;
  t.async_wait(asio::as_tuple([&](std::tuple<error_code> r) { tp.set_value(std::get<0>(r)); }));
  t.cancel();
  BOOST_TEST(tp.get_future().get() == asio::error::operation_aborted);

  std::promise<error_code> dp;
  t.expires_after(1ms);
  t.async_wait([&](error_code e) { dp.set_value(e); });
  BOOST_TEST(!dp.get_future().get());

  // detached: nothing to observe but that it runs and ends.
  t.expires_after(1ms);
  t.async_wait(asio::detached);

  auto r = asio::co_spawn(
      rt,
      []() -> asio::awaitable<int> {
        nanorun::steady_timer inner(co_await asio::this_coro::executor, 1ms);
        co_await inner.async_wait(asio::use_awaitable);
        // deferred: an operation object, awaited later
        inner.expires_after(1ms);
        auto op = inner.async_wait(asio::as_tuple(asio::deferred));
        auto [e] = co_await std::move(op);
        co_return e ? -1 : 7;
      },
      asio::use_future);
  BOOST_TEST(r.get() == 7);
  guard.reset();
  rt.stop();
  runner.join();
}

BOOST_AUTO_TEST_CASE(awaitable_on_nanoruns_own_executor)
{
  nanorun::runtime rt(1);
  auto f = asio::co_spawn(
      rt,
      []() -> conformance::n_awaitable<int> {
        nanorun::basic_waitable_timer<clock_type, asio::wait_traits<clock_type>, conformance::ex_t> t(
            co_await asio::this_coro::executor, 1ms);
        co_await t.async_wait(conformance::n_use_awaitable);
        co_await nanorun::sleep(1ms);
        co_return co_await nanorun::timeout(1s, []() -> conformance::n_awaitable<int> { co_return 5; }());
      },
      asio::use_future);
  rt.run();
  BOOST_TEST(f.get() == 5);
}

BOOST_AUTO_TEST_CASE(or_of_two_timers)
{
  nanorun::runtime rt(2);
  auto h = nanorun::spawn(rt, []() -> asio::awaitable<std::size_t> {
    std::size_t first_wins = 0;
    for (int i = 0; i < 200; ++i)
    {
      auto ex = co_await asio::this_coro::executor;
      nanorun::steady_timer a(ex, std::chrono::microseconds(50 + i % 7));
      nanorun::steady_timer b(ex, 1h);
      auto r = co_await (a.async_wait(asio::use_awaitable) || b.async_wait(asio::use_awaitable));
      first_wins += r.index() == 0;
    }
    co_return first_wins;
  }());
  std::thread second([&] { rt.run(); });
  rt.run();
  second.join();
  BOOST_TEST(h.get() == 200u); // the hour-long wait never wins, and each race ends
}

BOOST_AUTO_TEST_CASE(per_operation_cancellation_every_type)
{
  for (auto type : {asio::cancellation_type::terminal, asio::cancellation_type::partial,
                    asio::cancellation_type::total})
  {
    nanorun::runtime rt(1);
    asio::cancellation_signal sig;
    nanorun::steady_timer t(rt, 1h);
    error_code ec = asio::error::would_block;
    t.async_wait(asio::bind_cancellation_slot(sig.slot(), [&](error_code e) { ec = e; }));
    asio::post(rt, [&] { sig.emit(type); });
    rt.run();
    BOOST_TEST(ec == asio::error::operation_aborted);
    // A signal after completion finds nothing (cancellation by key).
    sig.emit(type);
  }
}

BOOST_AUTO_TEST_CASE(cancellation_of_one_wait_leaves_the_others)
{
  nanorun::runtime rt(1);
  asio::cancellation_signal sig;
  nanorun::steady_timer t(rt, 5ms);
  error_code a = asio::error::would_block, b = a;
  t.async_wait([&](error_code e) { a = e; });
  t.async_wait(asio::bind_cancellation_slot(sig.slot(), [&](error_code e) { b = e; }));
  sig.emit(asio::cancellation_type::terminal);
  rt.run();
  BOOST_TEST(!a);
  BOOST_TEST(b == asio::error::operation_aborted);
}

BOOST_AUTO_TEST_CASE(parallel_group_wait_for_one)
{
  nanorun::runtime rt(1);
  nanorun::steady_timer fast(rt, 1ms), slow(rt, 1h);
  std::size_t winner = 9;
  error_code slow_ec;
  asio::experimental::make_parallel_group(fast.async_wait(asio::deferred), slow.async_wait(asio::deferred))
      .async_wait(asio::experimental::wait_for_one(), [&](std::array<std::size_t, 2> order, error_code, error_code e2) {
        winner = order[0];
        slow_ec = e2;
      });
  rt.run();
  BOOST_TEST(winner == 0u);
  BOOST_TEST(slow_ec == asio::error::operation_aborted);
}

BOOST_AUTO_TEST_CASE(sleep_and_sleep_until)
{
  nanorun::runtime rt(2);
  auto h = nanorun::spawn(rt, []() -> asio::awaitable<bool> {
    const auto t0 = clock_type::now();
    co_await nanorun::sleep(3ms);
    const bool after_sleep = clock_type::now() - t0 >= 3ms;
    const auto until = std::chrono::system_clock::now() + 2ms;
    co_await nanorun::sleep_until(until);
    co_return after_sleep && std::chrono::system_clock::now() >= until;
  }());
  std::thread second([&] { rt.run(); });
  rt.run();
  second.join();
  BOOST_TEST(h.get());
}

BOOST_AUTO_TEST_CASE(sleep_is_cancellable)
{
  nanorun::runtime rt(1);
  auto h = nanorun::spawn(rt, []() -> asio::awaitable<int> {
    auto r = co_await (nanorun::sleep(1h)(asio::use_awaitable) || nanorun::sleep(1ms)(asio::use_awaitable));
    co_return static_cast<int>(r.index());
  }());
  rt.run();
  BOOST_TEST(h.get() == 1);
}

BOOST_AUTO_TEST_CASE(sleep_rejects_a_handler_without_a_nanorun_executor)
{
  BOOST_CHECK_THROW(nanorun::sleep(1ms)([](error_code) {}), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(timeout_returns_value_or_throws_timed_out)
{
  nanorun::runtime rt(2);
  auto h = nanorun::spawn(rt, []() -> asio::awaitable<int> {
    // In time: the value.
    int v = co_await nanorun::timeout(1s, []() -> asio::awaitable<int> {
      co_await nanorun::sleep(1ms);
      co_return 42;
    }());
    // Late: timed_out, and the inner operation saw the cancellation.
    bool inner_cancelled = false;
    try
    {
      co_await nanorun::timeout(2ms, [&]() -> asio::awaitable<void> {
        try
        {
          co_await nanorun::sleep(1h);
        }
        catch (const boost::system::system_error& e)
        {
          inner_cancelled = e.code() == asio::error::operation_aborted;
          throw;
        }
      }());
      co_return -1;
    }
    catch (const boost::system::system_error& e)
    {
      if (e.code() != asio::error::timed_out || !inner_cancelled)
        co_return -2;
    }
    // The inner operation's own exception wins over the deadline, at once.
    try
    {
      co_await nanorun::timeout(1h, []() -> asio::awaitable<int> {
        co_await nanorun::sleep(1ms);
        throw conformance::test_error("inner");
      }());
      co_return -3;
    }
    catch (const conformance::test_error&)
    {
    }
    co_return v;
  }());
  std::thread second([&] { rt.run(); });
  rt.run();
  second.join();
  BOOST_TEST(h.get() == 42);
}

BOOST_AUTO_TEST_SUITE_END()
