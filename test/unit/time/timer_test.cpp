// nanorun::basic_waitable_timer through its public API: expiry, waits,
// cancellation, errors, lifetime.
#include <nanorun/high_resolution_timer.hpp>
#include <nanorun/runtime.hpp>
#include <nanorun/steady_timer.hpp>
#include <nanorun/system_timer.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using boost::system::error_code;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {
const error_code unset = asio::error::would_block;
} // namespace

BOOST_AUTO_TEST_SUITE(time_timer)

BOOST_AUTO_TEST_CASE(wait_completes_at_or_after_expiry)
{
  nanorun::runtime rt(1);
  std::vector<std::unique_ptr<nanorun::steady_timer>> timers;
  std::vector<clock_type::time_point> fired(20);
  for (int i = 0; i < 20; ++i)
  {
    timers.push_back(std::make_unique<nanorun::steady_timer>(rt, std::chrono::microseconds(500 * i)));
    timers.back()->async_wait([&, i](error_code ec) {
      BOOST_TEST(!ec);
      fired[i] = clock_type::now();
    });
  }
  BOOST_TEST(rt.run() == 20u);
  for (int i = 0; i < 20; ++i)
    BOOST_TEST((fired[i] >= timers[i]->expiry()), "timer " << i << " fired early");
}

BOOST_AUTO_TEST_CASE(never_completes_inside_async_wait)
{
  nanorun::runtime rt(1);
  nanorun::steady_timer t(rt.get_executor(), clock_type::now() - 1s); // already expired
  error_code ec = unset;
  bool inside = false;
  asio::post(rt, [&] {
    inside = true;
    t.async_wait([&](error_code e) {
      BOOST_TEST(!inside);
      ec = e;
    });
    inside = false;
  });
  rt.run();
  BOOST_TEST(ec == error_code());
}

BOOST_AUTO_TEST_CASE(cancel_returns_count_and_aborts)
{
  nanorun::runtime rt(1);
  nanorun::steady_timer t(rt, 1h);
  std::vector<error_code> ecs(3, unset);
  for (auto& e : ecs)
    t.async_wait([&e](error_code ec) { e = ec; });
  BOOST_TEST(t.cancel_one() == 1u);
  BOOST_TEST(t.cancel() == 2u);
  BOOST_TEST(t.cancel() == 0u);
  BOOST_TEST(ecs[0] == unset); // completions are queued, not run inline
  rt.run();
  for (auto& e : ecs)
    BOOST_TEST(e == asio::error::operation_aborted);
}

BOOST_AUTO_TEST_CASE(cancel_one_is_oldest_first)
{
  nanorun::runtime rt(1);
  nanorun::steady_timer t(rt, 20ms);
  std::vector<int> order;
  std::vector<error_code> ecs(3, unset);
  for (int i = 0; i < 3; ++i)
    t.async_wait([&, i](error_code ec) {
      order.push_back(i);
      ecs[i] = ec;
    });
  BOOST_TEST(t.cancel_one() == 1u);
  rt.run();
  BOOST_TEST(ecs[0] == asio::error::operation_aborted);
  BOOST_TEST(!ecs[1]);
  BOOST_TEST(!ecs[2]);
  BOOST_TEST((order == std::vector<int>{0, 1, 2}));
}

BOOST_AUTO_TEST_CASE(changing_expiry_aborts_pending_waits)
{
  nanorun::runtime rt(1);
  nanorun::steady_timer t(rt, 1h);
  error_code first = unset, second = unset, third = unset;
  t.async_wait([&](error_code ec) { first = ec; });
  t.async_wait([&](error_code ec) { second = ec; });
  BOOST_TEST(t.expires_after(5ms) == 2u);
  t.async_wait([&](error_code ec) { third = ec; });
  BOOST_TEST(t.expires_at(t.expiry()) == 1u);
  t.async_wait([&](error_code ec) { BOOST_TEST(!ec); });
  rt.run();
  BOOST_TEST(first == asio::error::operation_aborted);
  BOOST_TEST(second == asio::error::operation_aborted);
  BOOST_TEST(third == asio::error::operation_aborted);
}

BOOST_AUTO_TEST_CASE(destroying_the_timer_aborts_waits)
{
  nanorun::runtime rt(1);
  error_code ec = unset;
  {
    nanorun::steady_timer t(rt, 1h);
    t.async_wait([&](error_code e) { ec = e; });
  }
  BOOST_TEST(ec == unset);
  rt.run();
  BOOST_TEST(ec == asio::error::operation_aborted);
}

BOOST_AUTO_TEST_CASE(non_nanorun_executor_is_rejected)
{
  asio::io_context io;
  BOOST_CHECK_EXCEPTION(nanorun::steady_timer(io.get_executor()), std::invalid_argument,
                        [](const std::invalid_argument& e) {
                          return std::string(e.what()).find("not a nanorun::runtime") != std::string::npos;
                        });
  BOOST_CHECK_THROW(nanorun::steady_timer(io, 1s), std::invalid_argument);
  // ... but a nanorun executor behind any_io_executor, or a strand of one, is fine.
  nanorun::runtime rt(1);
  asio::any_io_executor any = rt.get_executor();
  nanorun::steady_timer a(any);
  nanorun::steady_timer b(asio::make_strand(rt.get_executor()));
  nanorun::basic_waitable_timer<clock_type, asio::wait_traits<clock_type>, nanorun::runtime::executor_type> c(rt);
  BOOST_TEST((c.get_executor() == rt.get_executor()));
}

BOOST_AUTO_TEST_CASE(work_keeps_run_going_until_the_timer_fires)
{
  nanorun::runtime rt(1);
  nanorun::steady_timer t(rt, 30ms);
  bool fired = false;
  t.async_wait([&](error_code) { fired = true; });
  BOOST_TEST(rt.run_one() == 1u); // blocks for the timer, then runs its handler
  BOOST_TEST(fired);
  BOOST_TEST(rt.run() == 0u);
}

BOOST_AUTO_TEST_CASE(poll_runs_expired_timers_without_blocking)
{
  nanorun::runtime rt(1);
  nanorun::steady_timer due(rt, clock_type::now() - 1ms);
  nanorun::steady_timer later(rt, 1h);
  int n = 0;
  due.async_wait([&](error_code ec) { n += !ec; });
  later.async_wait([&](error_code ec) { n += ec == asio::error::operation_aborted ? 10 : 100; });
  rt.poll();
  BOOST_TEST(n == 1);
  later.cancel();
  rt.poll();
  BOOST_TEST(n == 11);
}

BOOST_AUTO_TEST_CASE(sync_wait_blocks_until_expiry)
{
  nanorun::runtime rt(1);
  nanorun::steady_timer t(rt, 5ms);
  error_code ec = unset;
  t.wait(ec);
  BOOST_TEST(!ec);
  BOOST_TEST((clock_type::now() >= t.expiry()));
}

BOOST_AUTO_TEST_CASE(other_clocks)
{
  nanorun::runtime rt(1);
  nanorun::system_timer s(rt, 3ms);
  nanorun::high_resolution_timer h(rt.get_executor(), std::chrono::high_resolution_clock::now() + 2ms);
  bool s_done = false, h_done = false;
  s.async_wait([&](error_code ec) {
    BOOST_TEST(!ec);
    BOOST_TEST((std::chrono::system_clock::now() >= s.expiry()));
    s_done = true;
  });
  h.async_wait([&](error_code ec) {
    BOOST_TEST(!ec);
    BOOST_TEST((std::chrono::high_resolution_clock::now() >= h.expiry()));
    h_done = true;
  });
  rt.run();
  BOOST_TEST(s_done);
  BOOST_TEST(h_done);
}

BOOST_AUTO_TEST_CASE(move_keeps_pending_waits)
{
  nanorun::runtime rt(1);
  nanorun::steady_timer a(rt, 2ms);
  error_code ec = unset;
  a.async_wait([&](error_code e) { ec = e; });
  nanorun::steady_timer b(std::move(a));
  BOOST_TEST(a.cancel() == 0u); // moved-from: as if new
  BOOST_TEST((a.expiry() == clock_type::time_point()));
  // The moved-from timer is usable.
  error_code ec_a = unset;
  a.expires_after(1ms);
  a.async_wait([&](error_code e) { ec_a = e; });
  nanorun::steady_timer c(rt);
  c = std::move(b);
  rt.run();
  BOOST_TEST(!ec);
  BOOST_TEST(!ec_a);
}

// The timer's state lives in the timer object: a move carries its place in
// the wheel (a slot, the near heap of the current millisecond, the overflow
// list beyond the wheel's range) to the new object, which then cancels or
// fires it; the moved-from timer is fresh and independent.
BOOST_AUTO_TEST_CASE(a_moved_timer_keeps_its_place_in_the_wheel)
{
  nanorun::runtime rt(1);
  const clock_type::time_point now = clock_type::now();
  const clock_type::time_point expiries[] = {
      now + 3ms,           // a low slot; fires
      now + 1h,            // a high slot; cancelled
      now - 1ms,           // already due: the near heap
      now + 24h * 365 * 5, // beyond the wheel: overflow; cancelled
  };
  std::vector<error_code> ecs(4, unset);
  std::vector<std::unique_ptr<nanorun::steady_timer>> moved;
  for (int i = 0; i < 4; ++i)
  {
    nanorun::steady_timer a(rt, expiries[i]);
    a.async_wait([&ecs, i](error_code e) { ecs[i] = e; });
    // Twice: construction, then assignment over a timer with its own wait.
    nanorun::steady_timer b(std::move(a));
    auto c = std::make_unique<nanorun::steady_timer>(rt, now + 1h);
    error_code displaced = unset;
    c->async_wait([&](error_code e) { displaced = e; });
    *c = std::move(b);
    BOOST_TEST(a.cancel() == 0u);
    BOOST_TEST(b.cancel() == 0u);
    rt.poll();
    BOOST_TEST(displaced == error_code(asio::error::operation_aborted)); // assignment destroyed its wait
    moved.push_back(std::move(c));
  }
  // The far ones are cancelled through the object they moved into.
  BOOST_TEST(moved[1]->cancel() == 1u);
  BOOST_TEST(moved[3]->cancel() == 1u);
  rt.run();
  BOOST_TEST(!ecs[0]);
  BOOST_TEST(ecs[1] == error_code(asio::error::operation_aborted));
  BOOST_TEST(!ecs[2]);
  BOOST_TEST(ecs[3] == error_code(asio::error::operation_aborted));
  BOOST_TEST((clock_type::now() >= expiries[0]));

  // The middle of a slot's list: three timers due at the same time share a
  // slot; the middle one moves, then each is cancelled through its object.
  rt.restart();
  const clock_type::time_point same = clock_type::now() + 2h;
  int aborted = 0;
  auto count = [&](error_code e) { aborted += e == asio::error::operation_aborted; };
  nanorun::steady_timer x(rt, same), y(rt, same), z(rt, same);
  x.async_wait(count);
  y.async_wait(count);
  z.async_wait(count);
  nanorun::steady_timer y2(std::move(y));
  BOOST_TEST(y2.cancel() == 1u);
  BOOST_TEST(x.cancel() == 1u);
  BOOST_TEST(z.cancel() == 1u);
  rt.run();
  BOOST_TEST(aborted == 3);
}

// Per-operation cancellation finds the wait after the timer object moved
// (the handler in the slot follows the state), finds nothing once the wait
// is over or the timer is gone, and a handler removed from its slot before
// the move is simply not there.
BOOST_AUTO_TEST_CASE(per_operation_cancellation_follows_a_moved_timer)
{
  nanorun::runtime rt(1);
  asio::cancellation_signal sig;
  // A late signal finds nothing: a wait armed on `t` just before it (after
  // a restart) completes untouched.
  auto late_signal_leaves_alone = [&](nanorun::steady_timer& t) {
    rt.restart();
    error_code other = unset;
    t.expires_after(2ms);
    t.async_wait([&](error_code e) { other = e; });
    sig.emit(asio::cancellation_type::terminal);
    rt.run();
    return !other;
  };
  error_code ec = unset;
  auto t1 = std::make_unique<nanorun::steady_timer>(rt, 1h);
  t1->async_wait(asio::bind_cancellation_slot(sig.slot(), [&](error_code e) { ec = e; }));
  nanorun::steady_timer t2(std::move(*t1));
  t1.reset(); // the moved-from object is gone too
  nanorun::steady_timer t3(rt);
  t3 = std::move(t2);
  sig.emit(asio::cancellation_type::terminal);
  rt.run();
  BOOST_TEST(ec == error_code(asio::error::operation_aborted));
  BOOST_TEST(t3.cancel() == 0u);

  // A second wait on the same timer with the same slot: the slot's handler
  // is replaced; the old one's signal would find nothing.
  rt.restart();
  ec = unset;
  t3.expires_after(1ms);
  t3.async_wait(asio::bind_cancellation_slot(sig.slot(), [&](error_code e) { ec = e; }));
  rt.run();
  BOOST_TEST(!ec);
  // After completion: a newer wait on the same timer (whose operation likely
  // reuses the finished one's memory) is untouched.
  BOOST_TEST(late_signal_leaves_alone(t3));

  // The timer destroyed while the slot still holds its handler.
  rt.restart();
  ec = unset;
  {
    nanorun::steady_timer t4(rt, 1h);
    t4.async_wait(asio::bind_cancellation_slot(sig.slot(), [&](error_code e) { ec = e; }));
    nanorun::steady_timer t5(std::move(t4));
  }
  rt.run();
  BOOST_TEST(ec == error_code(asio::error::operation_aborted));
  // The timer is gone: another timer's wait is untouched.
  nanorun::steady_timer t8(rt);
  BOOST_TEST(late_signal_leaves_alone(t8));

  // The slot cleared while the wait is pending, then the timer moves.
  rt.restart();
  ec = unset;
  nanorun::steady_timer t6(rt, 2ms);
  t6.async_wait(asio::bind_cancellation_slot(sig.slot(), [&](error_code e) { ec = e; }));
  sig.slot().clear();
  nanorun::steady_timer t7(std::move(t6));
  sig.emit(asio::cancellation_type::terminal); // no handler any more
  rt.run();
  BOOST_TEST(!ec);
}

// A timer that outlives its runtime can still be moved and destroyed, and a
// signal to its old wait does nothing.
BOOST_AUTO_TEST_CASE(a_timer_moved_after_its_runtime_is_gone)
{
  asio::cancellation_signal sig;
  std::optional<nanorun::steady_timer> a;
  {
    nanorun::runtime rt(1);
    a.emplace(rt, 1h);
    a->async_wait(asio::bind_cancellation_slot(sig.slot(), [](error_code) {}));
  }
  nanorun::steady_timer b(std::move(*a));
  a.reset();
  sig.emit(asio::cancellation_type::terminal);
  BOOST_TEST(b.cancel() == 0u);
  BOOST_CHECK_THROW(b.async_wait([](error_code) {}), boost::system::system_error);
}

BOOST_AUTO_TEST_CASE(far_future_waits_are_kept_and_cancellable)
{
  nanorun::runtime rt(1);
  nanorun::steady_timer never(rt, clock_type::time_point::max());
  nanorun::steady_timer years(rt, 24h * 365 * 5); // beyond the wheel's 2.18 years
  nanorun::steady_timer max_after(rt);
  max_after.expires_after(clock_type::duration::max()); // saturates, never wraps
  BOOST_TEST((max_after.expiry() == clock_type::time_point::max()));
  int aborted = 0;
  auto count = [&](error_code ec) { aborted += ec == asio::error::operation_aborted; };
  never.async_wait(count);
  years.async_wait(count);
  max_after.async_wait(count);
  // Nothing fires for a while; then cancelling ends them all.
  BOOST_TEST(rt.run_for(20ms) == 0u);
  BOOST_TEST(aborted == 0);
  never.cancel();
  years.cancel();
  max_after.cancel();
  rt.restart();
  rt.run();
  BOOST_TEST(aborted == 3);
}

BOOST_AUTO_TEST_CASE(completion_runs_on_the_handlers_executor)
{
  nanorun::runtime rt(2);
  auto strand = asio::make_strand(rt.get_executor());
  nanorun::steady_timer t(rt, 1ms);
  bool in_strand = false;
  t.async_wait(asio::bind_executor(strand, [&](error_code) { in_strand = strand.running_in_this_thread(); }));
  // An executor of another context: the completion runs there, and that
  // context's work is tracked until it does.
  asio::io_context other;
  std::thread::id ran_on;
  nanorun::steady_timer u(rt, 2ms);
  u.async_wait(asio::bind_executor(other, [&](error_code) { ran_on = std::this_thread::get_id(); }));
  std::thread other_thread([&] { other.run(); }); // returns only after the completion
  rt.run();
  other_thread.join();
  BOOST_TEST(in_strand);
  BOOST_TEST((ran_on == other_thread.get_id() || ran_on != std::thread::id()));
}

BOOST_AUTO_TEST_CASE(timer_on_a_strand_completes_in_the_strand)
{
  // The timer's own executor is a strand: its completions must go through
  // it, never straight to the worker that fired them.
  nanorun::runtime rt(2);
  auto strand = asio::make_strand(rt.get_executor());
  std::atomic<int> outside{0};
  std::atomic<int> done{0};
  std::vector<std::unique_ptr<nanorun::steady_timer>> timers;
  for (int i = 0; i < 200; ++i)
  {
    timers.push_back(std::make_unique<nanorun::steady_timer>(strand, std::chrono::microseconds(i % 20)));
    timers.back()->async_wait([&](error_code) {
      outside += strand.running_in_this_thread() ? 0 : 1;
      ++done;
    });
  }
  std::thread second([&] { rt.run(); });
  rt.run();
  second.join();
  BOOST_TEST(done.load() == 200);
  BOOST_TEST(outside.load() == 0);
}

BOOST_AUTO_TEST_CASE(foreign_thread_arms_an_earlier_timer)
{
  // The runtime's only worker sleeps as the timer driver on a one-hour timer;
  // a timer armed from another thread must wake it (or this test hangs: the
  // run_for bound is far beyond any scheduling delay, not a precision check).
  nanorun::runtime rt(1);
  nanorun::steady_timer hour(rt, 1h);
  error_code hour_ec = unset;
  hour.async_wait([&](error_code ec) { hour_ec = ec; });
  nanorun::steady_timer soon(rt);
  std::atomic<bool> fired{false};
  std::thread armer([&] {
    std::this_thread::sleep_for(20ms); // let the worker park
    soon.expires_after(5ms);
    soon.async_wait([&](error_code ec) {
      BOOST_TEST(!ec);
      fired = true;
      hour.cancel();
    });
  });
  rt.run_for(60s);
  armer.join();
  BOOST_TEST(fired.load());
  BOOST_TEST(hour_ec == asio::error::operation_aborted);
}

BOOST_AUTO_TEST_CASE(runtime_destroyed_with_waits_pending)
{
  // Each handler owns its timer (as a coroutine frame would): the runtime's
  // destruction destroys the pending waits, which destroys the timers too.
  struct counted
  {
    std::shared_ptr<int> alive;
    std::shared_ptr<nanorun::steady_timer> timer;
    int* invoked;
    void operator()(error_code) { ++*invoked; }
  };
  auto token = std::make_shared<int>(0);
  int invoked = 0;
  {
    nanorun::runtime rt(2);
    for (int i = 0; i < 3; ++i)
    {
      auto t = std::make_shared<nanorun::steady_timer>(rt, 1h + std::chrono::seconds(i));
      t->async_wait(counted{token, t, &invoked});
      t->async_wait(counted{token, t, &invoked});
    }
    BOOST_TEST(token.use_count() == 7);
    std::thread runner([&] { rt.run_for(5ms); });
    runner.join();
  }
  BOOST_TEST(token.use_count() == 1); // every handler (and timer) destroyed
  BOOST_TEST(invoked == 0);           // none invoked
}

BOOST_AUTO_TEST_SUITE_END()
