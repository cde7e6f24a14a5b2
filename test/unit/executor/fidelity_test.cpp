// io_context's scheduling promises, kept while a handler keeps its thread
// busy: with two threads in run(), work the busy handler makes ready (a
// posted handler, a timer it armed, an operation it started) runs on the
// other thread at once, not when the busy handler returns.
//
// Each case runs a few trials: a handler starts the work, then computes until
// that work has run or `block_for` has passed. Every trial must see the work
// run while the handler was still computing: a lost wake-up costs the whole
// `block_for` and fails here whatever the machine. The same trials then run on
// an io_context with two threads, in the same process, and nanorun's delay
// (lower quartile, see compare()) must be within `promptly` (io_context needs
// about 0.05 ms on an idle machine; the bound leaves room for sanitizers) or,
// on a machine so loaded that io_context itself cannot wake its other thread
// that fast (a vCPU stolen by the host, a sanitizer's slowdown), within twice
// io_context's. No worse than io_context is the promise; 2 ms is what it means on
// a machine that lets io_context keep it. The post, timer and read shapes are
// bench/fidelity_shapes.hpp's, the ones nanorun_fidelity_bench reports.
#include "bench/fidelity_shapes.hpp"

#include <nanorun/nanorun.hpp>

#include <boost/asio/defer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using namespace fidelity_shapes;

namespace {

constexpr auto promptly = 2ms;
constexpr int trials = 9;

// The same program on either engine: only the types differ.
struct nanorun_kit
{
  using context = nanorun::runtime;
  using timer = nanorun::steady_timer;
  using tcp = nanorun::ip::tcp;
};

struct asio_kit
{
  using context = asio::io_context;
  using timer = asio::steady_timer;
  using tcp = asio::ip::tcp;
};

using trial_results = std::vector<sample>;
using us = std::chrono::duration<double, std::micro>;

// The k-th smallest delay (0-based).
clock_type::duration order_statistic(trial_results results, std::size_t k)
{
  std::sort(results.begin(), results.end(), [](auto& a, auto& b) { return a.delay < b.delay; });
  return results[k].delay;
}

// Runs Case<Kit>::run() on both engines and checks nanorun's against io_context's.
// The bound applies to the lower quartile, not the median: on a machine with
// more runnable threads than cores, either engine's woken thread now and then
// waits a whole time slice of another process (3-4 ms), at random; a delay
// that nanorun causes itself (a wake-up that waits for something) shows in
// most trials, so in the quartile too.
template <template <class> class Case>
void compare(const char* what)
{
  const trial_results mine = Case<nanorun_kit>::run();
  const trial_results theirs = Case<asio_kit>::run();
  for (const auto& r : mine)
    BOOST_TEST(r.during_computation, what << ": the work waited for the busy handler to return");
  const std::size_t quartile = mine.size() / 4;
  const auto median = order_statistic(mine, mine.size() / 2);
  const auto low = order_statistic(mine, quartile);
  const auto reference_median = order_statistic(theirs, theirs.size() / 2);
  const auto reference_low = order_statistic(theirs, quartile);
  const auto bound = std::max<clock_type::duration>(promptly, 2 * reference_low);
  BOOST_TEST_MESSAGE(what << ": median delay " << us(median).count() << " us, lower quartile " << us(low).count()
                          << " us (io_context " << us(reference_median).count() << " us, "
                          << us(reference_low).count() << " us)");
#if defined(_WIN32)
  // Under Wine every wake-up and every socket event is a round trip through
  // wineserver, whose latency says nothing about Windows: only the first
  // half (nothing waited for the busy handler) is checked there.
  (void)bound;
#else
  BOOST_TEST(low <= bound, what << ": lower-quartile delay " << us(low).count() << " us, io_context's "
                                << us(reference_low).count() << " us, bound " << us(bound).count() << " us");
#endif
}

template <class Kit>
struct post_case
{
  static trial_results run()
  {
    two_threads<typename Kit::context> w;
    trial_results results;
    for (int i = 0; i < trials; ++i)
      results.push_back(post_trial(w.ctx));
    return results;
  }
};

template <class Kit>
struct foreign_post_case
{
  // The other half of io_context's rule: posts from outside run at once too,
  // whether one worker computes or none does.
  static trial_results run()
  {
    two_threads<typename Kit::context> w;
    trial_results results;
    for (int i = 0; i < trials; ++i)
    {
      std::atomic<bool> busy_started{false}, release{false}, busy_done{false};
      asio::post(w.ctx, [&] {
        busy_started = true;
        while (!release)
          std::this_thread::yield();
        busy_done = true;
      });
      while (!busy_started)
        std::this_thread::yield();
      std::atomic<bool> ran{false};
      std::atomic<clock_type::time_point> ran_at{};
      const auto start = clock_type::now();
      asio::post(w.ctx, [&] {
        ran_at.store(clock_type::now());
        ran.store(true, std::memory_order_release);
      });
      while (!ran && clock_type::now() - start < block_for)
        std::this_thread::yield();
      const bool during = ran.load();
      release = true;
      while (!ran || !busy_done) // both handlers refer to this iteration's locals
        std::this_thread::yield();
      results.push_back({ran_at.load() - start, during});
    }
    return results;
  }
};

template <class Kit>
struct timer_case
{
  static trial_results run()
  {
    two_threads<typename Kit::context> w;
    trial_results results;
    for (int i = 0; i < trials; ++i)
    {
      results.push_back(timer_trial<typename Kit::timer>(w.ctx));
      BOOST_TEST(!results.back().ec);
    }
    return results;
  }
};

template <class Kit>
struct read_case
{
  static trial_results run()
  {
    two_threads<typename Kit::context> w;
    auto [a, b] = socket_pair<typename Kit::tcp>(w.ctx);
    trial_results results;
    for (int i = 0; i < trials; ++i)
    {
      results.push_back(read_trial<typename Kit::tcp>(w.ctx, a, b));
      BOOST_TEST(!results.back().ec);
      BOOST_TEST(results.back().bytes == 1u);
    }
    return results;
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(fidelity)

BOOST_AUTO_TEST_CASE(a_post_runs_on_the_other_thread_while_its_poster_computes)
{
  compare<post_case>("post");
}

BOOST_AUTO_TEST_CASE(a_post_from_a_foreign_thread_runs_while_both_threads_are_idle_or_busy)
{
  compare<foreign_post_case>("foreign post");
}

BOOST_AUTO_TEST_CASE(a_timer_armed_by_a_computing_handler_fires_on_time)
{
  compare<timer_case>("timer lateness");
}

BOOST_AUTO_TEST_CASE(a_read_started_by_a_computing_handler_completes_on_the_other_thread)
{
  compare<read_case>("read completion");
}

BOOST_AUTO_TEST_CASE(a_deferred_continuation_waits_for_the_running_handler_as_on_io_context)
{
  // defer() is a promise that the work continues the caller: io_context keeps
  // it on the caller's thread until the handler returns, and so do we. This
  // pins the one case where "run at once elsewhere" is not the rule.
  two_threads<nanorun::runtime> w;
  std::atomic<int> order{0};
  std::atomic<int> deferred_saw{-1};
  std::promise<void> done;
  asio::post(w.ctx, [&] {
    asio::defer(w.ctx, [&] {
      deferred_saw = order.load();
      done.set_value();
    });
    std::this_thread::sleep_for(20ms);
    order = 1;
  });
  BOOST_REQUIRE(done.get_future().wait_for(30s) == std::future_status::ready);
  BOOST_TEST(deferred_saw.load() == 1);
}

BOOST_AUTO_TEST_CASE(posts_left_by_two_computing_handlers_both_run_on_the_third_thread)
{
  // Three threads: two handlers each post one handler and then compute until
  // both posted handlers have run (or 5 s). io_context runs both on the third
  // thread at once. A thief that remembered one lone item at a time forgot
  // each while looking at the other, and took neither until a poster returned.
  nanorun::runtime rt(3);
  auto guard = asio::make_work_guard(rt);
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i)
    threads.emplace_back([&] { rt.run(); });
  for (int trial = 0; trial < 3; ++trial)
  {
    std::atomic<int> ran{0};
    std::atomic<int> computed_past{0};
    std::atomic<int> finished{0};
    std::atomic<int> computing{0};
    for (int h = 0; h < 2; ++h)
      asio::post(rt, [&] {
        // Both computing first, so that the posts land in two busy queues.
        computing.fetch_add(1);
        const auto start = clock_type::now();
        while (computing.load() < 2 && clock_type::now() - start < 5s)
          std::this_thread::yield();
        asio::post(rt, [&] { ran.fetch_add(1); });
        while (ran.load() < 2 && clock_type::now() - start < 5s)
          std::this_thread::yield();
        if (ran.load() < 2)
          computed_past.fetch_add(1);
        finished.fetch_add(1);
      });
    const auto start = clock_type::now();
    while (finished.load() < 2 && clock_type::now() - start < 30s)
      std::this_thread::sleep_for(1ms);
    BOOST_REQUIRE_EQUAL(finished.load(), 2);
    BOOST_TEST(computed_past.load() == 0, "trial " << trial << ": a posted handler waited 5 s for its poster");
    while (ran.load() < 2 && clock_type::now() - start < 30s)
      std::this_thread::sleep_for(1ms);
    BOOST_TEST(ran.load() == 2);
  }
  guard.reset();
  rt.stop();
  for (auto& t : threads)
    t.join();
}

BOOST_AUTO_TEST_SUITE_END()
