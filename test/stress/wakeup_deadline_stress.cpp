// Every wake-up the scheduler owes, under a deadline. No worker parks with a
// timeout (there is no periodic rescue), so a lost wake-up leaves work
// unstarted for good; here each iteration waits for its work with a deadline
// and fails if it passes, instead of hanging the suite.
//
// Each iteration: a handler makes work ready (posts a handler, arms a timer,
// starts a read, or, through the Asio bridge, starts an Asio operation) and
// then keeps its worker busy until that work has run, so only another worker
// can run it, and only if it was woken (or was searching and found it). The
// timing between the steps is jittered, so the wake-ups race with workers
// spinning, parking, taking and handing over the driver role.
#include "stress/watchdog.hpp"

#include <nanorun/nanorun.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

// How long one iteration's work may take to start while a handler computes.
// Far beyond any real wake-up (microseconds), even under ThreadSanitizer on
// a loaded machine; far below "never".
constexpr auto deadline = 2s;

#if defined(NANORUN_STRESS) && NANORUN_STRESS
constexpr int iterations = 150;
#else
constexpr int iterations = 300;
#endif

class workers
{
public:
  workers(nanorun::runtime& rt, int n) : guard_(asio::make_work_guard(rt)), rt_(rt)
  {
    for (int i = 0; i < n; ++i)
      threads_.emplace_back([this] { rt_.run(); });
  }
  ~workers()
  {
    guard_.reset();
    for (auto& t : threads_)
      t.join();
  }

private:
  asio::executor_work_guard<nanorun::runtime::executor_type> guard_;
  nanorun::runtime& rt_;
  std::vector<std::thread> threads_;
};

// Jitter: nothing, a spin, a yield or a short sleep.
void jitter(std::minstd_rand& rng)
{
  switch (rng() % 4)
  {
  case 0:
    break;
  case 1: {
    const auto until = clock_type::now() + std::chrono::nanoseconds(rng() % 20000);
    while (clock_type::now() < until)
    {
    }
    break;
  }
  case 2:
    std::this_thread::yield();
    break;
  default:
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 200));
  }
}

// Runs `make_ready(done)` in a handler that then computes until `done` is
// set or the deadline passes; returns false on a missed deadline.
template <class MakeReady>
bool busy_iteration(nanorun::runtime& rt, MakeReady make_ready)
{
  std::atomic<int> result{0}; // 1: ran in time; 2: missed
  asio::post(rt, [&] {
    std::atomic<bool> done{false};
    const auto start = clock_type::now();
    make_ready(done);
    while (!done.load(std::memory_order_acquire) && clock_type::now() - start < deadline)
    {
    }
    const bool ok = done.load(std::memory_order_acquire);
    while (!done.load(std::memory_order_acquire)) // it must not outlive us
      std::this_thread::yield();
    result.store(ok ? 1 : 2);
  });
  while (result.load() == 0)
    std::this_thread::yield();
  return result.load() == 1;
}

void fork_posts(int threads)
{
  nanorun::test::watchdog dog("fork posts under a deadline", 600s);
  nanorun::runtime rt(threads);
  workers w(rt, threads);
  std::minstd_rand rng(static_cast<unsigned>(threads) * 7919u);
  int missed = 0;
  for (int i = 0; i < iterations; ++i)
  {
    jitter(rng); // let the other workers spin, park, or not
    missed += !busy_iteration(rt, [&](std::atomic<bool>& done) {
      asio::post(rt, [&done] { done.store(true, std::memory_order_release); });
    });
  }
  BOOST_TEST(missed == 0);
}

void armed_timers(int threads)
{
  nanorun::test::watchdog dog("timers under a deadline", 600s);
  nanorun::runtime rt(threads);
  workers w(rt, threads);
  std::minstd_rand rng(static_cast<unsigned>(threads) * 104729u);
  int missed = 0;
  for (int i = 0; i < iterations; ++i)
  {
    jitter(rng);
    nanorun::steady_timer t(rt);
    const auto after = std::chrono::microseconds(rng() % 3000);
    missed += !busy_iteration(rt, [&](std::atomic<bool>& done) {
      t.expires_after(after);
      t.async_wait([&done](boost::system::error_code) { done.store(true, std::memory_order_release); });
    });
  }
  BOOST_TEST(missed == 0);
}

template <class Tcp>
void started_reads(int threads)
{
  nanorun::test::watchdog dog("reads under a deadline", 600s);
  nanorun::runtime rt(threads);
  workers w(rt, threads);
  typename Tcp::acceptor acc(rt, typename Tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  typename Tcp::socket a(rt), b(rt);
  a.connect(acc.local_endpoint());
  acc.accept(b);
  std::minstd_rand rng(static_cast<unsigned>(threads) * 31u);
  int missed = 0;
  for (int i = 0; i < iterations; ++i)
  {
    jitter(rng);
    const auto delay = std::chrono::microseconds(rng() % 1000);
    std::thread writer;
    char in = 0;
    missed += !busy_iteration(rt, [&](std::atomic<bool>& done) {
      a.async_read_some(asio::buffer(&in, 1),
                        [&done](boost::system::error_code, std::size_t) { done.store(true, std::memory_order_release); });
      writer = std::thread([&b, delay] {
        std::this_thread::sleep_for(delay);
        const char c = 'x';
        asio::write(b, asio::buffer(&c, 1));
      });
    });
    writer.join();
  }
  BOOST_TEST(missed == 0);
}

} // namespace

BOOST_AUTO_TEST_SUITE(wakeup_deadlines)

BOOST_AUTO_TEST_CASE(fork_posts_two_workers) { fork_posts(2); }
BOOST_AUTO_TEST_CASE(fork_posts_four_workers) { fork_posts(4); }
BOOST_AUTO_TEST_CASE(timers_armed_by_a_busy_handler_two_workers) { armed_timers(2); }
BOOST_AUTO_TEST_CASE(timers_armed_by_a_busy_handler_four_workers) { armed_timers(4); }
BOOST_AUTO_TEST_CASE(reads_started_by_a_busy_handler_two_workers) { started_reads<nanorun::ip::tcp>(2); }
BOOST_AUTO_TEST_CASE(reads_started_by_a_busy_handler_four_workers) { started_reads<nanorun::ip::tcp>(4); }
BOOST_AUTO_TEST_CASE(asio_reads_through_the_bridge_two_workers) { started_reads<asio::ip::tcp>(2); }

BOOST_AUTO_TEST_CASE(asio_timers_through_the_bridge_two_workers)
{
  nanorun::test::watchdog dog("Asio timers under a deadline", 600s);
  nanorun::runtime rt(2);
  workers w(rt, 2);
  std::minstd_rand rng(17u);
  int missed = 0;
  for (int i = 0; i < iterations; ++i)
  {
    jitter(rng);
    asio::steady_timer t(rt);
    const auto after = std::chrono::microseconds(rng() % 3000);
    missed += !busy_iteration(rt, [&](std::atomic<bool>& done) {
      t.expires_after(after);
      t.async_wait([&done](boost::system::error_code) { done.store(true, std::memory_order_release); });
    });
  }
  BOOST_TEST(missed == 0);
}

BOOST_AUTO_TEST_SUITE_END()
