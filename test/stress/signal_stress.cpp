// Signal sets under concurrency. The design under attack
// (src/runtime/signal_service.cpp): a sigaction handler writes each number
// into a process-wide pipe; the runtime's reactor watches it with a one-shot
// watch that the worker which reads the pipe re-arms; one registry mutex
// guards every set, registration and wait, delivery and cancellation; a
// signal with no wait pending is counted for the set's next wait.
//
// Threads raise SIGUSR1 (raise() runs the handler before it returns, so no
// two occurrences merge in the kernel) while other threads create, fill,
// cancel and destroy sets with pending waits on the same 2-worker runtime.
// One set holds SIGUSR1 throughout and re-arms its wait from its handler: it
// must see every occurrence, exactly. Every wait of every set must complete
// exactly once. Handlers report to atomics; Boost.Test is used on the test's
// thread only, after every other thread has been joined.
#include <nanorun/nanorun.hpp>

#include "stress/watchdog.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/post.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <memory>
#include <optional>
#include <random>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using boost::system::error_code;
using namespace std::chrono_literals;

namespace {

#if defined(__SANITIZE_THREAD__)
constexpr int raises_per_thread = 400;
constexpr int churn_rounds = 150;
#else
constexpr int raises_per_thread = 2000;
constexpr int churn_rounds = 600;
#endif
constexpr int raisers = 3;
constexpr int churners = 2;

struct wait_counts
{
  std::atomic<long> started{0};
  std::atomic<long> completed{0};
  std::atomic<long> with_signal{0};
  std::atomic<long> aborted{0};
  std::atomic<long> violations{0}; // a second completion, or a wrong result
};

// A handler that must run exactly once.
struct once_handler
{
  wait_counts* c;
  std::shared_ptr<std::atomic<int>> calls = std::make_shared<std::atomic<int>>(0);
  void operator()(error_code ec, int n) const
  {
    if (calls->fetch_add(1) != 0)
      c->violations.fetch_add(1);
    c->completed.fetch_add(1);
    if (!ec && (n == SIGUSR1 || n == SIGUSR2))
      c->with_signal.fetch_add(1);
    else if (ec == asio::error::operation_aborted && n == 0)
      c->aborted.fetch_add(1);
    else
      c->violations.fetch_add(1);
  }
};

// The set that counts every SIGUSR1: its handler starts the next wait.
struct counter
{
  explicit counter(nanorun::runtime& rt) : set(rt, SIGUSR1) {}
  void arm()
  {
    set.async_wait([this](error_code ec, int n) {
      if (ec)
        return;
      if (n == SIGUSR1)
        seen.fetch_add(1);
      arm();
    });
  }
  nanorun::signal_set set;
  std::atomic<long> seen{0};
};

void churn(nanorun::runtime& rt, wait_counts& counts, unsigned seed)
{
  std::mt19937 rng(seed);
  std::vector<std::unique_ptr<nanorun::signal_set>> sets;
  std::vector<std::unique_ptr<asio::cancellation_signal>> signals;
  for (int round = 0; round < churn_rounds; ++round)
  {
    switch (rng() % 7)
    {
    case 0:
    case 1:
      sets.push_back(std::make_unique<nanorun::signal_set>(rt, SIGUSR1));
      break;
    case 2:
      if (!sets.empty())
      {
        auto& s = *sets[rng() % sets.size()];
        counts.started.fetch_add(1);
        if (rng() % 2)
        {
          signals.push_back(std::make_unique<asio::cancellation_signal>());
          s.async_wait(asio::bind_cancellation_slot(signals.back()->slot(), once_handler{&counts}));
        }
        else
          s.async_wait(once_handler{&counts});
      }
      break;
    case 3:
      if (!sets.empty())
      {
        auto& s = *sets[rng() % sets.size()];
        if (rng() % 2)
          s.add(SIGUSR2); // never raised: its waits end by cancellation
        else
          s.remove(SIGUSR1);
        s.add(SIGUSR1);
      }
      break;
    case 4:
      if (!sets.empty())
        sets[rng() % sets.size()]->cancel();
      break;
    case 5:
      if (!signals.empty())
      {
        const auto types = {asio::cancellation_type::terminal, asio::cancellation_type::partial,
                            asio::cancellation_type::total};
        signals[rng() % signals.size()]->emit(*(types.begin() + rng() % 3));
      }
      break;
    case 6:
      if (!sets.empty())
      {
        const std::size_t i = rng() % sets.size();
        if (rng() % 2)
          sets[i]->clear();
        sets.erase(sets.begin() + static_cast<std::ptrdiff_t>(i)); // pending waits abort
      }
      break;
    }
    if (round % 16 == 0)
      std::this_thread::sleep_for(100us);
  }
  sets.clear();
}

} // namespace

BOOST_AUTO_TEST_SUITE(signal_stress)

BOOST_AUTO_TEST_CASE(raised_from_several_threads_while_sets_churn)
{
  nanorun::test::watchdog dog("signal_stress/raised_from_several_threads_while_sets_churn", 300s);
  nanorun::runtime rt(2);
  auto guard = asio::make_work_guard(rt);
  counter c(rt);
  c.arm();
  std::vector<std::thread> workers;
  for (int i = 0; i < 2; ++i)
    workers.emplace_back([&] { rt.run(); });

  wait_counts counts;
  std::vector<std::thread> threads;
  for (int i = 0; i < raisers; ++i)
    threads.emplace_back([i] {
      for (int k = 0; k < raises_per_thread; ++k)
      {
        std::raise(SIGUSR1);
        if (k % 64 == i)
          std::this_thread::sleep_for(50us);
      }
    });
  for (int i = 0; i < churners; ++i)
    threads.emplace_back([&, i] { churn(rt, counts, 1234u + static_cast<unsigned>(i)); });
  for (auto& t : threads)
    t.join();

  const long expected = static_cast<long>(raisers) * raises_per_thread;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while ((c.seen.load() < expected || counts.completed.load() < counts.started.load()) &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(20ms); // a late extra delivery would show now
  asio::post(rt, [&] { c.set.cancel(); });
  guard.reset();
  for (auto& t : workers)
    t.join();

  BOOST_TEST(c.seen.load() == expected);
  BOOST_TEST(counts.completed.load() == counts.started.load());
  BOOST_TEST(counts.with_signal.load() + counts.aborted.load() == counts.completed.load());
  BOOST_TEST(counts.violations.load() == 0);
  BOOST_TEST_MESSAGE("signal_stress: " << c.seen.load() << " signals counted, " << counts.started.load()
                                       << " churned waits (" << counts.with_signal.load() << " with a signal, "
                                       << counts.aborted.load() << " aborted)");
}

BOOST_AUTO_TEST_CASE(two_runtimes_each_see_every_signal)
{
  nanorun::test::watchdog dog("signal_stress/two_runtimes_each_see_every_signal", 300s);
  nanorun::runtime rt1(2), rt2(2);
  auto g1 = asio::make_work_guard(rt1);
  auto g2 = asio::make_work_guard(rt2);
  std::optional<counter> c1(std::in_place, rt1), c2(std::in_place, rt2);
  c1->arm();
  c2->arm();
  std::vector<std::thread> workers;
  for (int i = 0; i < 2; ++i)
  {
    workers.emplace_back([&] { rt1.run(); });
    workers.emplace_back([&] { rt2.run(); });
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < raisers; ++i)
    threads.emplace_back([] {
      for (int k = 0; k < raises_per_thread / 2; ++k)
        std::raise(SIGUSR1);
    });
  for (auto& t : threads)
    t.join();
  const long expected = static_cast<long>(raisers) * (raises_per_thread / 2);
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while ((c1->seen.load() < expected || c2->seen.load() < expected) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  const long seen1 = c1->seen.load(), seen2 = c2->seen.load();
  // SIGUSR1 stays caught until both sets are gone (each on its own runtime's thread).
  asio::post(rt1, [&] { c1->set.cancel(); });
  asio::post(rt2, [&] { c2->set.cancel(); });
  g1.reset();
  g2.reset();
  for (auto& t : workers)
    t.join();
  BOOST_TEST(seen1 == expected);
  BOOST_TEST(seen2 == expected);
}

BOOST_AUTO_TEST_SUITE_END()
