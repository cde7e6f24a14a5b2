// nanorun::signal_set side by side with boost::asio::signal_set: each scenario
// runs on io_context with Asio's set and on a runtime with nanorun's, and
// writes what it sees (error codes, signal numbers, handler counts, whether a
// completion ran inside its initiating call) into a transcript; the two
// transcripts must be equal. The scenarios run one after the other, so the
// two libraries never hold the same signal at once.
#include <nanorun/runtime.hpp>
#include <nanorun/signal_set.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <csignal>
#include <sstream>
#include <string>

namespace asio = boost::asio;
using boost::system::error_code;
using namespace std::chrono_literals;

namespace {

struct asio_side
{
  using context = asio::io_context;
  using set = asio::signal_set;
};

struct nanorun_side
{
  using context = nanorun::runtime;
  using set = nanorun::signal_set;
};

std::string show(const error_code& ec)
{
  return ec ? std::string(ec.category().name()) + ":" + std::to_string(ec.value()) : "ok";
}

// Records each completion of a wait: "<ec>/<signal>", and "inline" if it ran
// inside the initiating call.
struct recorder
{
  std::ostringstream& out;
  bool* returned;
  void operator()(error_code ec, int n) const
  {
    out << show(ec) << "/" << n << (*returned ? "" : " inline") << ";";
  }
};

template <class Side>
std::string errors()
{
  typename Side::context ctx;
  typename Side::set s(ctx);
  std::ostringstream out;
  error_code ec;
  for (int n : {-1, 100000, SIGINT, SIGINT})
  {
    s.add(n, ec);
    out << "add " << n << " " << show(ec) << ";";
  }
  for (int n : {-1, SIGTERM, SIGINT, SIGINT})
  {
    s.remove(n, ec);
    out << "remove " << n << " " << show(ec) << ";";
  }
  s.clear(ec);
  out << "clear " << show(ec) << ";";
  s.cancel(ec);
  out << "cancel " << show(ec) << ";";
  try
  {
    s.add(-1);
  }
  catch (const boost::system::system_error& e)
  {
    out << "throws " << show(e.code()) << ";";
  }
  // With no wait pending, a set is no work.
  out << "run " << ctx.run() << ";";
  return out.str();
}

template <class Side>
std::string queued_signals()
{
  typename Side::context ctx;
  auto guard = asio::make_work_guard(ctx);
  typename Side::set s(ctx, SIGINT, SIGTERM);
  std::ostringstream out;
  std::raise(SIGTERM);
  std::raise(SIGINT);
  std::raise(SIGTERM);
  ctx.run_for(50ms); // reads the signals while no wait is pending
  for (int i = 0; i < 3; ++i)
  {
    bool returned = false;
    s.async_wait(recorder{out, &returned});
    returned = true;
    ctx.restart();
    ctx.run_one_for(5s);
  }
  // Removing a signal discards its queued occurrences.
  std::raise(SIGINT);
  std::raise(SIGTERM);
  ctx.restart();
  ctx.run_for(50ms);
  s.remove(SIGINT);
  bool returned = true;
  s.async_wait(recorder{out, &returned});
  ctx.restart();
  ctx.run_one_for(5s);
  s.async_wait(recorder{out, &returned});
  ctx.restart();
  ctx.run_for(50ms);
  out << "|";
  s.cancel();
  ctx.restart();
  ctx.run_one_for(5s);
  return out.str();
}

template <class Side>
std::string cancel_and_destroy()
{
  typename Side::context ctx;
  std::ostringstream out;
  bool returned = true;
  {
    typename Side::set s(ctx, SIGINT);
    s.async_wait(recorder{out, &returned});
    s.async_wait(recorder{out, &returned});
    s.cancel();
    out << "ran " << ctx.run() << ";";
    s.async_wait(recorder{out, &returned});
  }
  ctx.restart();
  out << "ran " << ctx.run() << ";";
  return out.str();
}

template <class Side>
std::string several_sets()
{
  typename Side::context ctx;
  std::ostringstream out;
  bool returned = true;
  typename Side::set a(ctx, SIGINT), b(ctx, SIGINT, SIGTERM), c(ctx, SIGTERM);
  a.async_wait(recorder{out, &returned});
  a.async_wait(recorder{out, &returned});
  b.async_wait(recorder{out, &returned});
  c.async_wait(recorder{out, &returned});
  asio::post(ctx, [] { std::raise(SIGINT); });
  ctx.run_for(100ms);
  out << "|";
  c.cancel();
  ctx.restart();
  ctx.run();
  return out.str();
}

template <class Side>
std::string per_operation_cancellation()
{
  typename Side::context ctx;
  std::ostringstream out;
  bool returned = true;
  typename Side::set s(ctx, SIGINT);
  for (auto type : {asio::cancellation_type::terminal, asio::cancellation_type::partial,
                    asio::cancellation_type::total})
  {
    asio::cancellation_signal sig;
    s.async_wait(asio::bind_cancellation_slot(sig.slot(), recorder{out, &returned}));
    sig.emit(type);
    ctx.restart();
    out << "ran " << ctx.run() << ";";
  }
  return out.str();
}

} // namespace

BOOST_AUTO_TEST_SUITE(conformance_signal_set)

BOOST_AUTO_TEST_CASE(errors_match_asio)
{
  const std::string n = errors<nanorun_side>(), a = errors<asio_side>();
  BOOST_TEST_MESSAGE("errors: " << a);
  BOOST_TEST(n == a);
}

BOOST_AUTO_TEST_CASE(queued_signals_match_asio)
{
  const std::string n = queued_signals<nanorun_side>(), a = queued_signals<asio_side>();
  BOOST_TEST_MESSAGE("queued_signals: " << a);
  BOOST_TEST(n == a);
}

BOOST_AUTO_TEST_CASE(cancel_and_destroy_match_asio)
{
  const std::string n = cancel_and_destroy<nanorun_side>(), a = cancel_and_destroy<asio_side>();
  BOOST_TEST_MESSAGE("cancel_and_destroy: " << a);
  BOOST_TEST(n == a);
}

BOOST_AUTO_TEST_CASE(several_sets_match_asio)
{
  const std::string n = several_sets<nanorun_side>(), a = several_sets<asio_side>();
  BOOST_TEST_MESSAGE("several_sets: " << a);
  BOOST_TEST(n == a);
}

BOOST_AUTO_TEST_CASE(per_operation_cancellation_matches_asio)
{
  const std::string n = per_operation_cancellation<nanorun_side>(), a = per_operation_cancellation<asio_side>();
  BOOST_TEST_MESSAGE("per_operation_cancellation: " << a);
  BOOST_TEST(n == a);
}

BOOST_AUTO_TEST_SUITE_END()
