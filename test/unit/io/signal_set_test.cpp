// nanorun::basic_signal_set through its public API: every member and error
// path, delivery through the reactor on each backend, queued signals, several
// sets and runtimes, every completion token, per-operation cancellation,
// cancellation and destruction with pending waits, and the runtime's work and
// lifetime rules. (Side by side with Asio: conformance/signal_set_conformance_test.cpp.)
#include "unit/io/io_test_support.hpp"

#include <nanorun/signal_set.hpp>
#include <nanorun/steady_timer.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#if !defined(_WIN32)
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

namespace asio = boost::asio;
using boost::system::error_code;
using namespace std::chrono_literals;

namespace {

// Two signals every OS has and std::raise() can send. (SIGINT and SIGTERM end
// the process if nothing catches them: every case raises them only while a
// set holds them.)
constexpr int sig_a = SIGINT;
constexpr int sig_b = SIGTERM;
static_assert(sig_a < sig_b);

// One wait's result.
struct result
{
  int calls = 0;
  error_code ec = io_test::unset;
  int signal = -1;
  auto handler()
  {
    return [this](error_code e, int n) {
      ++calls;
      ec = e;
      signal = n;
    };
  }
};

// Runs rt one handler at a time until pred() holds or 10 s pass.
template <class Pred>
bool drive(nanorun::runtime& rt, Pred pred)
{
  const auto deadline = std::chrono::steady_clock::now() + io_test::limit;
  while (!pred() && std::chrono::steady_clock::now() < deadline)
  {
    rt.restart();
    rt.run_one_for(10ms);
  }
  return pred();
}

// Runs rt for a while, to show that nothing more happens.
void settle(nanorun::runtime& rt)
{
  rt.restart();
  rt.run_for(30ms);
}

} // namespace

BOOST_AUTO_TEST_SUITE(io_signal_set)

BOOST_AUTO_TEST_CASE(types_and_constructors)
{
  static_assert(std::is_same_v<nanorun::signal_set::executor_type, asio::any_io_executor>);
  static_assert(std::is_same_v<nanorun::signal_set::rebind_executor<nanorun::runtime::executor_type>::other,
                               nanorun::basic_signal_set<nanorun::runtime::executor_type>>);
  static_assert(!std::is_copy_constructible_v<nanorun::signal_set>);
  static_assert(std::is_base_of_v<nanorun::signal_set_base, nanorun::signal_set>);
  nanorun::runtime rt(1);
  nanorun::signal_set s0(rt);
  nanorun::signal_set s1(rt, sig_a);
  nanorun::signal_set s2(rt.get_executor(), sig_a, sig_b);
  nanorun::signal_set s3(rt, sig_a, sig_b, sig_a); // a repeat is no error
  nanorun::basic_signal_set<nanorun::runtime::executor_type> typed(rt.get_executor(), sig_b);
  nanorun::signal_set s4(asio::any_io_executor(rt.get_executor()), sig_a, sig_b, sig_b);
  BOOST_TEST((s1.get_executor() == asio::any_io_executor(rt.get_executor())));
  BOOST_TEST((typed.get_executor() == rt.get_executor()));
  // Not a nanorun runtime: refused, as other nanorun I/O objects do.
  asio::io_context other;
  BOOST_CHECK_THROW(nanorun::signal_set bad(other), std::invalid_argument);
  // A constructor that adds an invalid number throws.
  BOOST_CHECK_THROW(nanorun::signal_set bad(rt, -1), boost::system::system_error);
  BOOST_CHECK_THROW(nanorun::signal_set bad(rt, sig_a, 100000), boost::system::system_error);
}

BOOST_AUTO_TEST_CASE(add_remove_clear_cancel_and_their_errors)
{
  nanorun::runtime rt(1);
  nanorun::signal_set s(rt);
  error_code ec = io_test::unset;
  for (int bad : {-1, 100000})
  {
    s.add(bad, ec);
    BOOST_TEST((ec == asio::error::invalid_argument));
    ec = io_test::unset;
    s.remove(bad, ec);
    BOOST_TEST((ec == asio::error::invalid_argument));
    BOOST_CHECK_THROW(s.add(bad), boost::system::system_error);
    BOOST_CHECK_THROW(s.remove(bad), boost::system::system_error);
    BOOST_CHECK_THROW(s.add(bad, nanorun::signal_set::flags::dont_care), boost::system::system_error);
  }
  ec = io_test::unset;
  s.add(sig_a, ec);
  BOOST_TEST(!ec);
  ec = io_test::unset;
  s.add(sig_a, ec); // already in the set: no error
  BOOST_TEST(!ec);
  s.add(sig_b);
  ec = io_test::unset;
  s.remove(sig_b, ec);
  BOOST_TEST(!ec);
  ec = io_test::unset;
  s.remove(sig_b, ec); // not in the set: no error
  BOOST_TEST(!ec);
  s.remove(sig_b);
  ec = io_test::unset;
  s.clear(ec);
  BOOST_TEST(!ec);
  s.clear();
  ec = io_test::unset;
  s.cancel(ec);
  BOOST_TEST(!ec);
  s.cancel();
}

BOOST_AUTO_TEST_CASE_TEMPLATE(raise_completes_a_pending_wait, Backend, io_test::backends)
{
  io_test::on_backend<Backend> f;
  nanorun::signal_set s(f.rt, sig_a, sig_b);
  result r;
  s.async_wait(r.handler());
  asio::post(f.rt, [] { std::raise(sig_b); });
  BOOST_TEST_REQUIRE(drive(f.rt, [&] { return r.calls > 0; }));
  BOOST_TEST(!r.ec);
  BOOST_TEST(r.signal == sig_b);
  settle(f.rt);
  BOOST_TEST(r.calls == 1);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_signal_with_no_wait_is_queued_and_never_completes_inline, Backend, io_test::backends)
{
  io_test::on_backend<Backend> f;
  // `watcher` keeps a wait pending, so the runtime reads the pipe; `s` has
  // none when the signals come, and counts them.
  nanorun::signal_set watcher(f.rt, sig_a, sig_b);
  nanorun::signal_set s(f.rt, sig_a, sig_b);
  result w;
  watcher.async_wait(w.handler());
  std::raise(sig_b);
  std::raise(sig_a);
  std::raise(sig_b); // counted once more for sig_b
  BOOST_TEST_REQUIRE(drive(f.rt, [&] { return w.calls > 0; }));
  settle(f.rt); // every number read from the pipe
  // Three queued occurrences come out in ascending signal number.
  std::vector<int> got;
  for (int i = 0; i < 3; ++i)
  {
    bool returned = false;
    bool inline_call = false;
    result r;
    s.async_wait([&](error_code e, int n) {
      inline_call = !returned;
      r.handler()(e, n);
    });
    returned = true;
    BOOST_TEST(r.calls == 0);
    BOOST_TEST_REQUIRE(drive(f.rt, [&] { return r.calls > 0; }));
    BOOST_TEST(!inline_call);
    BOOST_TEST(!r.ec);
    got.push_back(r.signal);
  }
  BOOST_TEST((got == std::vector<int>{sig_a, sig_b, sig_b}));
  // Nothing more is queued: the next wait waits.
  result r;
  s.async_wait(r.handler());
  settle(f.rt);
  BOOST_TEST(r.calls == 0);
  s.cancel();
  BOOST_TEST_REQUIRE(drive(f.rt, [&] { return r.calls > 0; }));
  BOOST_TEST((r.ec == asio::error::operation_aborted));
}

BOOST_AUTO_TEST_CASE(removing_or_clearing_discards_queued_signals)
{
  nanorun::runtime rt(1);
  // Keeps run_for() running its whole time, so the pipe is read while no
  // wait is pending and the signals are queued in the set.
  auto guard = asio::make_work_guard(rt);
  nanorun::signal_set s(rt, sig_a, sig_b);
  std::raise(sig_a);
  std::raise(sig_b);
  settle(rt);
  s.remove(sig_a);
  result r;
  s.async_wait(r.handler());
  BOOST_TEST_REQUIRE(drive(rt, [&] { return r.calls > 0; }));
  BOOST_TEST(r.signal == sig_b); // sig_a's occurrence went with its registration
  // Queue one more, then clear: gone.
  std::raise(sig_b);
  settle(rt);
  s.clear();
  s.add(sig_b);
  result r2;
  s.async_wait(r2.handler());
  settle(rt);
  BOOST_TEST(r2.calls == 0);
  s.cancel();
  BOOST_TEST_REQUIRE(drive(rt, [&] { return r2.calls > 0; }));
  BOOST_TEST((r2.ec == asio::error::operation_aborted));
}

BOOST_AUTO_TEST_CASE(a_signal_completes_every_pending_wait_of_every_set)
{
  nanorun::runtime rt(2);
  nanorun::signal_set a(rt, sig_a);
  nanorun::signal_set b(rt, sig_a, sig_b);
  nanorun::signal_set c(rt, sig_b); // not this signal: stays pending
  result a1, a2, b1, c1;
  a.async_wait(a1.handler());
  a.async_wait(a2.handler());
  b.async_wait(b1.handler());
  c.async_wait(c1.handler());
  std::raise(sig_a);
  BOOST_TEST_REQUIRE(drive(rt, [&] { return a1.calls && a2.calls && b1.calls; }));
  for (result* r : {&a1, &a2, &b1})
  {
    BOOST_TEST(!r->ec);
    BOOST_TEST(r->signal == sig_a);
  }
  settle(rt);
  BOOST_TEST(c1.calls == 0);
  c.cancel();
  BOOST_TEST_REQUIRE(drive(rt, [&] { return c1.calls > 0; }));
  BOOST_TEST((c1.ec == asio::error::operation_aborted));
  BOOST_TEST(c1.signal == 0);
}

BOOST_AUTO_TEST_CASE(sets_on_two_runtimes_both_get_the_signal)
{
  nanorun::runtime rt1(1), rt2(1);
  nanorun::signal_set s1(rt1, sig_a);
  nanorun::signal_set s2(rt2, sig_a);
  std::atomic<int> got1{-1}, got2{-1};
  s1.async_wait([&](error_code ec, int n) { got1 = ec ? -2 : n; });
  s2.async_wait([&](error_code ec, int n) { got2 = ec ? -2 : n; });
  // Each run() returns once its wait has completed: the wait was its only work.
  std::thread t1([&] { rt1.run(); });
  std::thread t2([&] { rt2.run(); });
  std::this_thread::sleep_for(20ms);
  std::raise(sig_a);
  t1.join();
  t2.join();
  BOOST_TEST(got1.load() == sig_a);
  BOOST_TEST(got2.load() == sig_a);
}

BOOST_AUTO_TEST_CASE(a_pending_wait_keeps_run_going)
{
  nanorun::runtime rt(1);
  nanorun::signal_set s(rt, sig_a);
  result r;
  s.async_wait(r.handler());
  std::atomic<bool> returned{false};
  std::thread t([&] {
    rt.run();
    returned = true;
  });
  std::this_thread::sleep_for(100ms);
  BOOST_TEST(!returned.load()); // the wait is outstanding work
  std::raise(sig_a);
  t.join();
  BOOST_TEST(r.calls == 1);
  BOOST_TEST(r.signal == sig_a);
  // With no wait pending, the set alone is no work.
  rt.restart();
  BOOST_TEST(rt.run() == 0u);
}

BOOST_AUTO_TEST_CASE(cancel_completes_pending_waits_with_operation_aborted)
{
  nanorun::runtime rt(1);
  nanorun::signal_set s(rt, sig_a);
  result r1, r2;
  s.async_wait(r1.handler());
  s.async_wait(r2.handler());
  s.cancel();
  BOOST_TEST(r1.calls == 0); // queued, not run inside cancel()
  BOOST_TEST(rt.run() == 2u);
  for (result* r : {&r1, &r2})
  {
    BOOST_TEST(r->calls == 1);
    BOOST_TEST((r->ec == asio::error::operation_aborted));
    BOOST_TEST(r->signal == 0);
  }
  // The set still works after a cancel.
  result r3;
  s.async_wait(r3.handler());
  std::raise(sig_a);
  BOOST_TEST_REQUIRE(drive(rt, [&] { return r3.calls > 0; }));
  BOOST_TEST(r3.signal == sig_a);
}

BOOST_AUTO_TEST_CASE(destroying_a_set_aborts_its_pending_waits)
{
  nanorun::runtime rt(1);
  result r;
  {
    nanorun::signal_set s(rt, sig_a);
    s.async_wait(r.handler());
  }
  BOOST_TEST(r.calls == 0);
  BOOST_TEST(rt.run() == 1u);
  BOOST_TEST((r.ec == asio::error::operation_aborted));
}

BOOST_AUTO_TEST_CASE(the_runtime_destroyed_with_a_pending_wait_destroys_the_handler)
{
  io_test::life_counts lives;
  bool invoked = false;
  auto rt = std::make_unique<nanorun::runtime>(1);
  nanorun::signal_set s(*rt, sig_a); // outlives its runtime
  s.async_wait([&, t = io_test::life_token(lives)](error_code, int) { invoked = true; });
  BOOST_TEST(lives.live.load() == 1);
  rt.reset();
  BOOST_TEST(lives.live.load() == 0);
  BOOST_TEST(!invoked);
  // What is left of the set: synchronous calls on what it owns work, a
  // registration needs the runtime, an asynchronous operation throws.
  error_code ec;
  s.cancel(ec);
  BOOST_TEST(!ec);
  s.clear(ec);
  BOOST_TEST(!ec);
  s.remove(sig_a, ec);
  BOOST_TEST(!ec);
  s.add(sig_a, ec);
  BOOST_TEST((ec == asio::error::operation_aborted));
  BOOST_CHECK_THROW(s.async_wait([](error_code, int) {}), boost::system::system_error);
}

BOOST_AUTO_TEST_CASE(completion_tokens)
{
  nanorun::runtime rt(2);
  nanorun::signal_set s(rt, sig_a, sig_b);
  auto raise_soon = [&](int n) { asio::post(rt, [n] { std::raise(n); }); };

  // use_future
  {
    std::future<int> fut = s.async_wait(asio::use_future);
    raise_soon(sig_a);
    std::thread t([&] { drive(rt, [&] { return fut.wait_for(0s) == std::future_status::ready; }); });
    t.join();
    BOOST_TEST(fut.get() == sig_a);
    // An error surfaces as the future's exception.
    std::future<int> aborted = s.async_wait(asio::use_future);
    s.cancel();
    rt.restart();
    rt.run();
    BOOST_CHECK_THROW(aborted.get(), boost::system::system_error);
  }
  // deferred: nothing starts until it is launched.
  {
    auto op = s.async_wait(asio::deferred);
    result r;
    std::move(op)(r.handler());
    raise_soon(sig_b);
    BOOST_TEST_REQUIRE(drive(rt, [&] { return r.calls > 0; }));
    BOOST_TEST(r.signal == sig_b);
  }
  // use_awaitable, as_tuple, and || with a timer (awaitable operators:
  // the loser is cancelled through per-operation cancellation).
  {
    using namespace asio::experimental::awaitable_operators;
    int via_awaitable = 0, via_tuple = 0;
    bool timer_won = false, signal_won = false;
    asio::co_spawn(
        asio::make_strand(rt),
        [&]() -> asio::awaitable<void> {
          via_awaitable = co_await s.async_wait(asio::use_awaitable);
          auto [ec, n] = co_await s.async_wait(asio::as_tuple(asio::use_awaitable));
          via_tuple = ec ? -1 : n;
          nanorun::steady_timer t(co_await asio::this_coro::executor, 20ms);
          auto first = co_await (s.async_wait(asio::use_awaitable) || t.async_wait(asio::use_awaitable));
          timer_won = first.index() == 1;
          nanorun::steady_timer t2(co_await asio::this_coro::executor, 10s);
          asio::post(rt, [] { std::raise(sig_a); });
          auto second = co_await (s.async_wait(asio::use_awaitable) || t2.async_wait(asio::use_awaitable));
          signal_won = second.index() == 0 && std::get<0>(second) == sig_a;
        },
        asio::detached);
    raise_soon(sig_a);
    BOOST_TEST_REQUIRE(drive(rt, [&] { return via_awaitable != 0; }));
    raise_soon(sig_b);
    BOOST_TEST_REQUIRE(drive(rt, [&] { return signal_won || via_tuple == -1; }));
    BOOST_TEST(via_awaitable == sig_a);
    BOOST_TEST(via_tuple == sig_b);
    BOOST_TEST(timer_won);
    BOOST_TEST(signal_won);
  }
  // A handler bound to a strand runs there.
  {
    auto strand = asio::make_strand(rt);
    bool in_strand = false;
    int got = 0;
    s.async_wait(asio::bind_executor(strand, [&](error_code, int n) {
      in_strand = strand.running_in_this_thread();
      got = n;
    }));
    raise_soon(sig_b);
    BOOST_TEST_REQUIRE(drive(rt, [&] { return got != 0; }));
    BOOST_TEST(in_strand);
  }
}

BOOST_AUTO_TEST_CASE(per_operation_cancellation)
{
  nanorun::runtime rt(1);
  nanorun::signal_set s(rt, sig_a);
  for (auto type : {asio::cancellation_type::terminal, asio::cancellation_type::partial,
                    asio::cancellation_type::total})
  {
    asio::cancellation_signal sig, other_sig;
    result r, other;
    s.async_wait(asio::bind_cancellation_slot(sig.slot(), r.handler()));
    s.async_wait(asio::bind_cancellation_slot(other_sig.slot(), other.handler()));
    sig.emit(type);
    BOOST_TEST(r.calls == 0); // queued, not run inside emit()
    BOOST_TEST_REQUIRE(drive(rt, [&] { return r.calls > 0; }));
    BOOST_TEST((r.ec == asio::error::operation_aborted));
    BOOST_TEST(r.signal == 0);
    // A late signal after completion finds nothing, and the other wait is untouched.
    sig.emit(type);
    settle(rt);
    BOOST_TEST(r.calls == 1);
    BOOST_TEST(other.calls == 0);
    std::raise(sig_a);
    BOOST_TEST_REQUIRE(drive(rt, [&] { return other.calls > 0; }));
    BOOST_TEST(other.signal == sig_a);
  }
  // A signal emitted after the set is gone does nothing.
  asio::cancellation_signal late;
  result r;
  {
    nanorun::signal_set gone(rt, sig_a);
    gone.async_wait(asio::bind_cancellation_slot(late.slot(), r.handler()));
  }
  late.emit(asio::cancellation_type::terminal);
  BOOST_TEST_REQUIRE(drive(rt, [&] { return r.calls > 0; }));
  settle(rt);
  BOOST_TEST(r.calls == 1);
}

#if !defined(_WIN32) // POSIX-only: sigaction flags, kill(), dispositions read back with sigaction and fork() are POSIX

namespace {
void (*disposition(int n))(int)
{
  struct sigaction sa = {};
  ::sigaction(n, nullptr, &sa);
  return sa.sa_handler;
}
int installed_flags(int n)
{
  struct sigaction sa = {};
  ::sigaction(n, nullptr, &sa);
  return sa.sa_flags & (SA_RESTART | SA_NOCLDSTOP | SA_NOCLDWAIT);
}
} // namespace

BOOST_AUTO_TEST_CASE(the_default_disposition_returns_with_the_last_registration)
{
  nanorun::runtime rt(1);
  BOOST_TEST_REQUIRE(disposition(SIGUSR1) == SIG_DFL);
  {
    nanorun::signal_set a(rt, SIGUSR1);
    BOOST_TEST(disposition(SIGUSR1) != SIG_DFL);
    {
      nanorun::signal_set b(rt, SIGUSR1);
    }
    BOOST_TEST(disposition(SIGUSR1) != SIG_DFL); // a still holds it
    a.remove(SIGUSR1);
    BOOST_TEST(disposition(SIGUSR1) == SIG_DFL);
    a.add(SIGUSR1);
    a.clear();
    BOOST_TEST(disposition(SIGUSR1) == SIG_DFL);
    a.add(SIGUSR1);
  }
  BOOST_TEST(disposition(SIGUSR1) == SIG_DFL);
  // The runtime's destruction drops the registrations of sets that outlive it.
  auto rt2 = std::make_unique<nanorun::runtime>(1);
  nanorun::signal_set outlives(*rt2, SIGUSR2);
  BOOST_TEST(disposition(SIGUSR2) != SIG_DFL);
  rt2.reset();
  BOOST_TEST(disposition(SIGUSR2) == SIG_DFL);
}

BOOST_AUTO_TEST_CASE(flags_as_asio_1_27_applies_them)
{
  using flags = nanorun::signal_set::flags;
  nanorun::runtime rt(1);
  nanorun::signal_set a(rt), b(rt), c(rt);
  error_code ec;
  a.add(SIGUSR1, flags::restart | flags::no_child_stop, ec);
  BOOST_TEST(!ec);
  BOOST_TEST(installed_flags(SIGUSR1) == (SA_RESTART | SA_NOCLDSTOP));
  b.add(SIGUSR1, flags::none, ec); // other flags: refused
  BOOST_TEST((ec == asio::error::invalid_argument));
  b.add(SIGUSR1, flags::dont_care, ec); // don't care: accepted
  BOOST_TEST(!ec);
  c.add(SIGUSR1, flags::restart | flags::no_child_stop, ec); // the same flags
  BOOST_TEST(!ec);
  a.add(SIGUSR1, flags::none, ec); // already in a: no error, nothing changes
  BOOST_TEST(!ec);
  BOOST_TEST(installed_flags(SIGUSR1) == (SA_RESTART | SA_NOCLDSTOP));
  a.clear();
  b.clear();
  c.clear();
  // Registered as "don't care" first: a later registration's flags apply.
  a.add(SIGUSR1);
  BOOST_TEST(installed_flags(SIGUSR1) == 0);
  b.add(SIGUSR1, flags::restart, ec);
  BOOST_TEST(!ec);
  BOOST_TEST(installed_flags(SIGUSR1) == SA_RESTART);
  BOOST_CHECK_THROW(c.add(SIGUSR1, flags::no_child_wait), boost::system::system_error);
  // Flags still work for delivery.
  result r;
  a.async_wait(r.handler());
  ::kill(::getpid(), SIGUSR1);
  BOOST_TEST_REQUIRE(drive(rt, [&] { return r.calls > 0; }));
  BOOST_TEST(r.signal == SIGUSR1);
}

BOOST_AUTO_TEST_CASE(kill_from_other_threads_reaches_a_multithreaded_runtime)
{
  nanorun::runtime rt(2);
  nanorun::signal_set s(rt, SIGUSR1, SIGUSR2);
  std::atomic<int> usr1{0}, usr2{0};
  std::function<void(error_code, int)> again;
  again = [&](error_code ec, int n) {
    if (ec)
      return;
    (n == SIGUSR1 ? usr1 : usr2).fetch_add(1);
    s.async_wait(again);
  };
  s.async_wait(again);
  std::vector<std::thread> workers;
  for (int i = 0; i < 2; ++i)
    workers.emplace_back([&] { rt.run(); });
  // One at a time, each after the last was seen: none may be merged.
  for (int i = 0; i < 20; ++i)
  {
    const int n = i % 2 ? SIGUSR2 : SIGUSR1;
    std::atomic<int>& c = i % 2 ? usr2 : usr1;
    const int before = c.load();
    std::thread([n] { ::kill(::getpid(), n); }).join();
    const auto deadline = std::chrono::steady_clock::now() + io_test::limit;
    while (c.load() == before && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(1ms);
  }
  asio::post(rt, [&] { s.cancel(); });
  for (auto& t : workers)
    t.join();
  BOOST_TEST(usr1.load() == 10);
  BOOST_TEST(usr2.load() == 10);
}

BOOST_AUTO_TEST_CASE(a_forked_child_gets_its_own_signals)
{
  nanorun::runtime rt(1);
  nanorun::signal_set s(rt, SIGUSR1);
  rt.notify_fork(asio::execution_context::fork_prepare);
  const pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0)
  {
    // The child: no Boost.Test from here, only an exit status.
    int status = 1;
    try
    {
      rt.notify_fork(asio::execution_context::fork_child);
      int got = 0;
      s.async_wait([&](error_code ec, int n) { got = ec ? -1 : n; });
      ::kill(::getpid(), SIGUSR1);
      rt.restart();
      rt.run_for(10s);
      status = got == SIGUSR1 ? 0 : 2;
    }
    catch (...)
    {
      status = 3;
    }
    std::_Exit(status);
  }
  rt.notify_fork(asio::execution_context::fork_parent);
  int status = 0;
  BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0);
  // The parent's pipe still works, and the child's signal did not reach it.
  result early;
  s.async_wait(early.handler());
  settle(rt);
  BOOST_TEST(early.calls == 0);
  ::kill(::getpid(), SIGUSR1);
  BOOST_TEST_REQUIRE(drive(rt, [&] { return early.calls > 0; }));
  BOOST_TEST(early.signal == SIGUSR1);
}

#endif

#if defined(_WIN32)
BOOST_AUTO_TEST_CASE(flags_are_not_supported_on_windows)
{
  nanorun::runtime rt(1);
  nanorun::signal_set s(rt);
  error_code ec;
  s.add(sig_a, nanorun::signal_set::flags::restart, ec);
  BOOST_TEST((ec == asio::error::operation_not_supported));
  s.add(sig_a, nanorun::signal_set::flags::dont_care, ec);
  BOOST_TEST(!ec);
}
#endif

BOOST_AUTO_TEST_SUITE_END()
