// Asio conformance: awaitable operators (|| and &&), parallel_group and
// per-operation cancellation on coroutines started with nanorun::spawn, on a
// runtime run by two threads. nanorun gives every spawned task a strand of its
// own, which is what makes these race-free (asio#1348, #1362), so the races
// are looped a few hundred times. The operations are Asio's own steady_timer
// (served by Asio's hidden scheduler thread) and channels.
#include <nanorun/runtime.hpp>
#include "conformance/common.hpp"
#include <nanorun/spawn.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/channel_error.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>
#include <boost/test/unit_test.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>
#include <vector>

namespace asio = boost::asio;
namespace experimental = boost::asio::experimental;
using boost::system::error_code;
using namespace boost::asio::experimental::awaitable_operators;
using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;

namespace {

using concurrent = experimental::concurrent_channel<void(error_code, int)>;

using conformance::test_error;

// An error code no operation here produces: "not completed yet".
const error_code unset = asio::error::would_block;

bool aborted(const error_code& ec)
{
  return ec == asio::error::operation_aborted;
}

// Waits on the timer and records how the wait ended, without throwing.
asio::awaitable<void> wait_record(asio::steady_timer& t, error_code& out)
{
  auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  out = ec;
}

asio::awaitable<int> value_after(microseconds d, int v)
{
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
  co_return v;
}

asio::awaitable<int> throw_after(microseconds d)
{
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
  throw test_error("and-branch");
}

asio::awaitable<void> send_after(concurrent& ch, microseconds d, int v)
{
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
  ch.try_send(error_code{}, v);
}

// Runs `tasks` copies of `body(seed)` with nanorun::spawn on a runtime run by
// two threads; each returns its number of violated expectations.
template <class Body>
int run_spawned(int tasks, Body body)
{
  nanorun::runtime rt(2);
  std::vector<nanorun::join_handle<int>> handles;
  for (int i = 0; i < tasks; ++i)
    handles.push_back(nanorun::spawn(rt, body(rt, i)));
  std::thread t([&] { rt.run(); });
  rt.run();
  t.join();
  int failures = 0;
  for (auto& h : handles)
    failures += h.get();
  return failures;
}

// ---- the races ---------------------------------------------------------------------

asio::awaitable<int> or_race(nanorun::runtime&, int seed)
{
  auto ex = co_await asio::this_coro::executor;
  int failures = 0;
  for (int i = 0; i < 6; ++i)
  {
    const int s = seed * 31 + i * 17;
    asio::steady_timer a(ex, microseconds(s % 400));
    asio::steady_timer b(ex, microseconds((s * 7) % 400));
    error_code ea = unset, eb = unset;
    const auto r = co_await (wait_record(a, ea) || wait_record(b, eb));
    const error_code& winner = r.index() == 0 ? ea : eb;
    const error_code& loser = r.index() == 0 ? eb : ea;
    // Both branches have finished by now; the winner expired, the loser either
    // expired too or was cancelled.
    if (winner)
      ++failures;
    if (loser && !aborted(loser))
      ++failures;
  }
  co_return failures;
}

asio::awaitable<int> or_cancels_a_pending_operation(nanorun::runtime&, int seed)
{
  auto ex = co_await asio::this_coro::executor;
  int failures = 0;
  for (int i = 0; i < 3; ++i)
  {
    asio::steady_timer slow(ex, hours(1)); // only cancellation can end it
    error_code e_slow = unset;
    const auto r = co_await (wait_record(slow, e_slow) || value_after(microseconds((seed + i) % 200), 5));
    if (r.index() != 1 || std::get<1>(r) != 5)
      ++failures;
    if (!aborted(e_slow))
      ++failures;
  }
  co_return failures;
}

asio::awaitable<int> and_race(nanorun::runtime&, int seed)
{
  int failures = 0;
  for (int i = 0; i < 3; ++i)
  {
    const int s = seed * 13 + i;
    const auto [x, y] = co_await (value_after(microseconds(s % 300), 1) && value_after(microseconds((s * 5) % 300), 2));
    if (x != 1 || y != 2)
      ++failures;

    // One branch throws: the other is cancelled and the exception comes out.
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer slow(ex, hours(1));
    error_code e_slow = unset;
    try
    {
      co_await (throw_after(microseconds(s % 200)) && wait_record(slow, e_slow));
      ++failures;
    }
    catch (const test_error&)
    {
    }
    if (!aborted(e_slow))
      ++failures;
  }
  co_return failures;
}

asio::awaitable<int> group_race(nanorun::runtime&, int seed)
{
  auto ex = co_await asio::this_coro::executor;
  int failures = 0;
  for (int i = 0; i < 3; ++i)
  {
    const int s = seed * 11 + i * 3;
    // Two timers: the first to finish wins, the other is cancelled.
    asio::steady_timer a(ex, microseconds(s % 300));
    asio::steady_timer b(ex, i == 0 ? microseconds(hours(1)) : microseconds((s * 3) % 300));
    auto [order, ea, eb] =
        co_await experimental::make_parallel_group(a.async_wait(asio::deferred), b.async_wait(asio::deferred))
            .async_wait(experimental::wait_for_one(), asio::use_awaitable);
    const error_code& first = order[0] == 0 ? ea : eb;
    const error_code& second = order[0] == 0 ? eb : ea;
    if (order[0] == order[1] || first || (second && !aborted(second)))
      ++failures;
    if (i == 0 && (order[0] != 0 || !aborted(eb)))
      ++failures;

    // Two coroutines through co_spawn(deferred).
    auto [order2, e1, v1, e2, v2] = co_await experimental::make_parallel_group(
                                        asio::co_spawn(ex, value_after(microseconds(s % 200), 1), asio::deferred),
                                        asio::co_spawn(ex, value_after(microseconds(hours(1)), 2), asio::deferred))
                                        .async_wait(experimental::wait_for_one(), asio::use_awaitable);
    if (order2[0] != 0 || e1 || v1 != 1)
      ++failures;
    // The cancelled coroutine ends with operation_aborted.
    try
    {
      if (e2)
        std::rethrow_exception(e2);
      ++failures;
    }
    catch (const boost::system::system_error& e)
    {
      if (!aborted(e.code()))
        ++failures;
    }
    (void)v2;
  }
  co_return failures;
}

asio::awaitable<int> channel_or_timer_race(nanorun::runtime& rt, int seed)
{
  auto ex = co_await asio::this_coro::executor;
  int failures = 0;
  for (int i = 0; i < 3; ++i)
  {
    const int s = seed * 7 + i * 5;
    concurrent ch(ex, 1);
    // The sender is a task of its own (its own strand): its try_send may land
    // on the other thread while this task's wait is being cancelled.
    auto sender = nanorun::spawn(rt, send_after(ch, microseconds(s % 300), 42));
    asio::steady_timer t(ex, microseconds((s * 3) % 300));
    error_code et = unset;
    const auto r = co_await (ch.async_receive(asio::use_awaitable) || wait_record(t, et));
    if (r.index() == 0 && std::get<0>(r) != 42)
      ++failures;
    if (r.index() == 1 && et)
      ++failures;
    co_await std::move(sender); // ch must outlive the sender
  }
  co_return failures;
}

// ---- per-operation cancellation ----------------------------------------------------

asio::awaitable<error_code> timer_cancelled_with(asio::cancellation_type type, milliseconds d)
{
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer t(ex, d);
  asio::cancellation_signal sig;
  // Runs on this task's strand once the wait below has started.
  asio::post(ex, [&sig, type] { sig.emit(type); });
  auto [ec] = co_await t.async_wait(asio::bind_cancellation_slot(sig.slot(), asio::as_tuple(asio::use_awaitable)));
  co_return ec;
}

asio::awaitable<error_code> receive_cancelled_with(asio::cancellation_type type)
{
  auto ex = co_await asio::this_coro::executor;
  concurrent ch(ex);
  asio::cancellation_signal sig;
  asio::post(ex, [&sig, type] { sig.emit(type); });
  auto [ec, v] =
      co_await ch.async_receive(asio::bind_cancellation_slot(sig.slot(), asio::as_tuple(asio::use_awaitable)));
  (void)v;
  co_return ec;
}

asio::awaitable<int> sleep_then(milliseconds d, int v, std::promise<void>* started)
{
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  if (started)
    started->set_value();
  co_await t.async_wait(asio::use_awaitable);
  co_return v;
}

std::string what_of(std::exception_ptr e)
{
  try
  {
    if (e)
      std::rethrow_exception(e);
    return "";
  }
  catch (const boost::system::system_error& x)
  {
    return aborted(x.code()) ? "aborted" : x.what();
  }
  catch (const std::exception& x)
  {
    return x.what();
  }
}

} // namespace

BOOST_AUTO_TEST_SUITE(conformance_cancellation)

BOOST_AUTO_TEST_CASE(or_operator_races)
{
  BOOST_TEST(run_spawned(50, or_race) == 0); // 300 races
}

BOOST_AUTO_TEST_CASE(or_operator_cancels_the_pending_branch)
{
  BOOST_TEST(run_spawned(100, or_cancels_a_pending_operation) == 0);
}

BOOST_AUTO_TEST_CASE(and_operator_races_and_exception_cancels_the_other)
{
  BOOST_TEST(run_spawned(100, and_race) == 0);
}

BOOST_AUTO_TEST_CASE(parallel_group_wait_for_one)
{
  BOOST_TEST(run_spawned(100, group_race) == 0);
}

BOOST_AUTO_TEST_CASE(channel_receive_or_timer_with_sender_on_another_task)
{
  BOOST_TEST(run_spawned(100, channel_or_timer_race) == 0);
}

BOOST_AUTO_TEST_CASE(per_operation_cancellation_of_a_timer)
{
  nanorun::runtime rt(2);
  auto guard = asio::make_work_guard(rt);
  std::thread t([&] { rt.run(); });
  auto terminal = nanorun::spawn(rt, timer_cancelled_with(asio::cancellation_type::terminal, milliseconds(hours(1))));
  auto partial = nanorun::spawn(rt, timer_cancelled_with(asio::cancellation_type::partial, milliseconds(hours(1))));
  auto total = nanorun::spawn(rt, timer_cancelled_with(asio::cancellation_type::total, milliseconds(hours(1))));
  // cancellation_type::none is not a cancellation: the wait runs to its end.
  auto none = nanorun::spawn(rt, timer_cancelled_with(asio::cancellation_type::none, milliseconds(30)));
  BOOST_TEST(terminal.get() == error_code(asio::error::operation_aborted));
  BOOST_TEST(partial.get() == error_code(asio::error::operation_aborted));
  BOOST_TEST(total.get() == error_code(asio::error::operation_aborted));
  BOOST_TEST(none.get() == error_code());
  guard.reset();
  t.join();
}

BOOST_AUTO_TEST_CASE(per_operation_cancellation_of_a_channel_receive)
{
  nanorun::runtime rt(2);
  auto guard = asio::make_work_guard(rt);
  std::thread t([&] { rt.run(); });
  for (auto type :
       {asio::cancellation_type::terminal, asio::cancellation_type::partial, asio::cancellation_type::total})
  {
    auto h = nanorun::spawn(rt, receive_cancelled_with(type));
    BOOST_TEST(h.get() == error_code(experimental::error::channel_cancelled));
  }
  guard.reset();
  t.join();
}

BOOST_AUTO_TEST_CASE(cancelling_a_whole_co_spawned_coroutine)
{
  // Single thread: the signal is emitted from outside run() while the
  // coroutine is suspended; co_spawn forwards it through the executor.
  nanorun::runtime rt(1);
  asio::cancellation_signal sig;
  std::string outcome = "not completed";
  asio::co_spawn(rt, sleep_then(milliseconds(hours(1)), 1, nullptr),
                 asio::bind_cancellation_slot(sig.slot(), [&](std::exception_ptr e, int) { outcome = what_of(e); }));
  rt.poll(); // the coroutine is now suspended in the timer wait
  BOOST_TEST(outcome == "not completed");
  sig.emit(asio::cancellation_type::terminal);
  rt.run();
  BOOST_TEST(outcome == "aborted");
}

BOOST_AUTO_TEST_CASE(cancelling_a_spawned_task_from_a_foreign_thread)
{
  // nanorun::spawn with a token: the task runs on its own strand on a runtime
  // run by two threads; the signal is emitted by a thread outside run().
  for (int round = 0; round < 20; ++round)
  {
    nanorun::runtime rt(2);
    auto guard = asio::make_work_guard(rt);
    std::thread t1([&] { rt.run(); });
    std::thread t2([&] { rt.run(); });
    asio::cancellation_signal sig;
    std::promise<void> started;
    std::promise<std::string> done;
    nanorun::spawn(
        rt, sleep_then(milliseconds(hours(1)), 1, &started),
        asio::bind_cancellation_slot(sig.slot(), [&](std::exception_ptr e, int) { done.set_value(what_of(e)); }));
    started.get_future().wait();
    sig.emit(asio::cancellation_type::terminal);
    BOOST_TEST(done.get_future().get() == "aborted");
    guard.reset();
    t1.join();
    t2.join();
  }
}

BOOST_AUTO_TEST_CASE(coroutine_default_filter_ignores_partial_and_total)
{
  // An awaitable's cancellation state lets only terminal cancellation in by
  // default, so partial/total emitted at a co_spawned coroutine do nothing.
  for (auto type : {asio::cancellation_type::partial, asio::cancellation_type::total})
  {
    nanorun::runtime rt(1);
    asio::cancellation_signal sig;
    std::string outcome = "not completed";
    int value = 0;
    asio::co_spawn(rt, sleep_then(milliseconds(20), 7, nullptr),
                   asio::bind_cancellation_slot(sig.slot(), [&](std::exception_ptr e, int v) {
                     outcome = what_of(e);
                     value = v;
                   }));
    rt.poll();
    sig.emit(type);
    rt.run();
    BOOST_TEST(outcome == "");
    BOOST_TEST(value == 7);
  }
}

BOOST_AUTO_TEST_SUITE_END()
