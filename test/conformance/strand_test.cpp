// Asio conformance: boost::asio::strand over nanorun's executor, run by
// several threads: handlers of one strand never overlap and keep FIFO order
// per poster; a strand's dispatch runs inline inside the strand.
#include <nanorun/runtime.hpp>
#include <nanorun/spawn.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/defer.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

namespace asio = boost::asio;

namespace {

using ex_t = nanorun::runtime::executor_type;
using strand_t = asio::strand<ex_t>;

static_assert(std::is_same_v<decltype(asio::make_strand(std::declval<nanorun::runtime&>())), strand_t>);
static_assert(std::is_same_v<decltype(asio::make_strand(std::declval<const ex_t&>())), strand_t>);

// What one strand's handlers observe. Everything a handler checks is atomic,
// so a broken strand shows up as a failed check, not as undefined behaviour.
struct strand_probe
{
  explicit strand_probe(strand_t s) : strand(std::move(s)) {}

  strand_t strand;
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};
  std::atomic<int> order_errors{0};
  std::atomic<int> not_in_strand{0};
  std::atomic<int> ran{0};
  std::atomic<int> next[2] = {0, 0}; // next expected sequence number per poster

  void enter()
  {
    const int now = ++in_flight;
    int seen = max_in_flight.load();
    while (now > seen && !max_in_flight.compare_exchange_weak(seen, now))
    {
    }
    if (!strand.running_in_this_thread())
      ++not_in_strand;
  }

  void leave() { --in_flight; }

  // A handler body: check overlap and order, and spend a little time inside
  // the strand so that a second thread has a chance to (wrongly) enter.
  void step(int poster, int seq)
  {
    enter();
    if (next[poster].load() != seq)
      ++order_errors;
    next[poster].store(seq + 1);
    if (seq % 16 == 0)
      std::this_thread::yield();
    ++ran;
    leave();
  }
};

// Several strands on one runtime run by `threads` threads; every strand gets
// `per_poster` handlers from the main thread (before run) and as many from a
// foreign thread (during run), mixing post, dispatch and defer.
void run_strand_stress(int threads, int strands, int per_poster, bool use_make_strand_of_ex, int hint)
{
  nanorun::runtime rt(hint);
  std::vector<std::unique_ptr<strand_probe>> probes;
  for (int s = 0; s < strands; ++s)
    probes.push_back(std::make_unique<strand_probe>(
        use_make_strand_of_ex ? asio::make_strand(rt.get_executor())
                              : (s % 2 ? asio::make_strand(rt) : strand_t(rt.get_executor()))));

  auto submit = [&](strand_probe& p, int poster, int seq) {
    auto h = [&p, poster, seq] { p.step(poster, seq); };
    switch (seq % 3)
    {
    case 0:
      asio::post(p.strand, h);
      break;
    case 1:
      asio::dispatch(p.strand, h); // not inside the strand: queued in order
      break;
    default:
      asio::defer(p.strand, h);
      break;
    }
  };

  for (int i = 0; i < per_poster; ++i)
    for (auto& p : probes)
      submit(*p, 0, i);

  std::vector<std::thread> runners;
  {
    auto guard = asio::make_work_guard(rt);
    for (int t = 0; t < threads; ++t)
      runners.emplace_back([&] { rt.run(); });
    std::thread foreign([&] {
      for (int i = 0; i < per_poster; ++i)
        for (auto& p : probes)
          submit(*p, 1, i);
    });
    foreign.join();
  } // guard released: run() returns once every handler has run
  for (auto& r : runners)
    r.join();

  for (std::size_t s = 0; s < probes.size(); ++s)
  {
    const strand_probe& p = *probes[s];
    BOOST_TEST_INFO("strand " << s << " with " << threads << " threads");
    BOOST_TEST(p.ran.load() == 2 * per_poster);
    BOOST_TEST_INFO("strand " << s << " with " << threads << " threads");
    BOOST_TEST(p.max_in_flight.load() == 1);
    BOOST_TEST_INFO("strand " << s << " with " << threads << " threads");
    BOOST_TEST(p.order_errors.load() == 0);
    BOOST_TEST_INFO("strand " << s << " with " << threads << " threads");
    BOOST_TEST(p.not_in_strand.load() == 0);
  }
}

} // namespace

BOOST_AUTO_TEST_SUITE(conformance_strand)

BOOST_AUTO_TEST_CASE(handlers_never_overlap_and_keep_fifo_with_two_threads)
{
  run_strand_stress(2, 6, 1500, false, 2);
}

BOOST_AUTO_TEST_CASE(handlers_never_overlap_and_keep_fifo_with_four_threads)
{
  run_strand_stress(4, 8, 1000, true, 4);
}

BOOST_AUTO_TEST_CASE(more_threads_in_run_than_the_concurrency_hint)
{
  // Worker slots beyond the hint are created on demand.
  run_strand_stress(4, 4, 800, false, 1);
}

BOOST_AUTO_TEST_CASE(handler_chains_within_strands_with_four_threads)
{
  // Each handler posts its successor to its own strand from inside the strand
  // (the path through the worker's LIFO slot and local queue), and a second
  // chain per strand is fed from a different strand, so work hops between
  // workers while the strand must still serialise.
  nanorun::runtime rt(4);
  constexpr int strands = 6, chain = 800;
  std::vector<std::unique_ptr<strand_probe>> probes;
  for (int s = 0; s < strands; ++s)
    probes.push_back(std::make_unique<strand_probe>(asio::make_strand(rt)));

  struct chain_step
  {
    std::vector<std::unique_ptr<strand_probe>>* probes;
    std::size_t target;
    int poster;
    int seq;

    void operator()() const
    {
      strand_probe& p = *(*probes)[target];
      p.step(poster, seq);
      if (seq + 1 == chain)
        return;
      if (poster == 0)
        asio::post(p.strand, chain_step{probes, target, 0, seq + 1}); // same strand
      else
      {
        // Hand the next step over from the neighbouring strand.
        strand_probe& via = *(*probes)[(target + 1) % probes->size()];
        asio::post(via.strand, [next = chain_step{probes, target, 1, seq + 1}, &p] { asio::post(p.strand, next); });
      }
    }
  };

  for (std::size_t s = 0; s < probes.size(); ++s)
  {
    asio::post(probes[s]->strand, chain_step{&probes, s, 0, 0});
    asio::post(probes[s]->strand, chain_step{&probes, s, 1, 0});
  }
  std::vector<std::thread> runners;
  for (int t = 0; t < 3; ++t)
    runners.emplace_back([&] { rt.run(); });
  rt.run();
  for (auto& r : runners)
    r.join();

  for (std::size_t s = 0; s < probes.size(); ++s)
  {
    BOOST_TEST_INFO("strand " << s);
    BOOST_TEST(probes[s]->ran.load() == 2 * chain);
    BOOST_TEST_INFO("strand " << s);
    BOOST_TEST(probes[s]->max_in_flight.load() == 1);
    BOOST_TEST_INFO("strand " << s);
    BOOST_TEST(probes[s]->order_errors.load() == 0);
  }
}

BOOST_AUTO_TEST_CASE(dispatch_inside_the_strand_runs_inline)
{
  nanorun::runtime rt(2);
  const strand_t s = asio::make_strand(rt);
  const strand_t other = asio::make_strand(rt);
  bool inline_same = false, posted_inline = true, in_other = false;
  asio::post(s, [&] {
    bool ran = false;
    asio::dispatch(s, [&] { ran = true; });
    inline_same = ran;
    bool posted = false;
    asio::post(s, [&] { posted = true; });
    posted_inline = posted; // post never runs inline, even inside the strand
    // Dispatch to another strand: wherever it runs, it runs inside that strand.
    asio::dispatch(other, [&] { in_other = other.running_in_this_thread(); });
  });
  rt.run();
  BOOST_TEST(inline_same);
  BOOST_TEST(!posted_inline);
  BOOST_TEST(in_other);
  BOOST_TEST(!s.running_in_this_thread());
}

BOOST_AUTO_TEST_CASE(strand_running_in_this_thread_and_context)
{
  nanorun::runtime rt(1);
  const strand_t s(rt.get_executor());
  BOOST_TEST(&asio::query(s, asio::execution::context) == &rt);
  BOOST_TEST((s.get_inner_executor() == rt.get_executor()));
  BOOST_TEST(!s.running_in_this_thread());
  bool in_strand = false, plain_handler_in_strand = true;
  asio::post(s, [&] { in_strand = s.running_in_this_thread(); });
  asio::post(rt, [&] { plain_handler_in_strand = s.running_in_this_thread(); });
  rt.run();
  BOOST_TEST(in_strand);
  BOOST_TEST(!plain_handler_in_strand);
}

BOOST_AUTO_TEST_CASE(coroutines_sharing_a_strand_never_overlap)
{
  // Many coroutines on one strand, four threads: the parts between their
  // suspension points must never overlap.
  nanorun::runtime rt(4);
  const strand_t s = asio::make_strand(rt);
  strand_probe probe(s);
  std::atomic<int> finished{0};
  constexpr int coroutines = 16, steps = 100;
  auto body = [&probe, &finished]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    for (int i = 0; i < steps; ++i)
    {
      probe.enter();
      if (i % 8 == 0)
        std::this_thread::yield();
      probe.leave();
      co_await asio::post(ex, asio::use_awaitable);
    }
    ++finished;
  };
  for (int c = 0; c < coroutines; ++c)
    asio::co_spawn(s, body, asio::detached);
  std::vector<std::thread> runners;
  for (int t = 0; t < 3; ++t)
    runners.emplace_back([&] { rt.run(); });
  rt.run();
  for (auto& r : runners)
    r.join();
  BOOST_TEST(finished.load() == coroutines);
  BOOST_TEST(probe.max_in_flight.load() == 1);
  BOOST_TEST(probe.not_in_strand.load() == 0);
}

BOOST_AUTO_TEST_CASE(spawned_tasks_each_get_a_serial_executor)
{
  // nanorun::spawn gives every any_io_executor task a serial executor of its
  // own (nanorun::task_executor, a cheap strand): the coroutine's executor is
  // one on this runtime, and two tasks' executors differ.
  nanorun::runtime rt(2);
  std::atomic<int> on_strand{0};
  // (co_spawn needs a default-constructible result type; task_executor is not.)
  auto task = [&]() -> asio::awaitable<std::optional<nanorun::task_executor>> {
    auto ex = co_await asio::this_coro::executor;
    const nanorun::task_executor* st = ex.target<nanorun::task_executor>();
    if (st && st->running_in_this_thread() && &asio::query(*st, asio::execution::context) == &rt)
      ++on_strand;
    co_return st ? std::optional<nanorun::task_executor>(*st) : std::nullopt;
  };
  auto h1 = nanorun::spawn(rt, task());
  auto h2 = nanorun::spawn(rt, task());
  std::thread t([&] { rt.run(); });
  rt.run();
  t.join();
  const std::optional<nanorun::task_executor> s1 = h1.get();
  const std::optional<nanorun::task_executor> s2 = h2.get();
  BOOST_TEST(on_strand.load() == 2);
  BOOST_REQUIRE(s1.has_value());
  BOOST_REQUIRE(s2.has_value());
  BOOST_TEST((*s1 != *s2));
}

BOOST_AUTO_TEST_CASE(spawn_on_a_user_strand_stays_serialised_with_it)
{
  // Tasks spawned on a strand the caller owns must be serialised with plain
  // handlers posted to that same strand.
  nanorun::runtime rt(2);
  const strand_t s = asio::make_strand(rt);
  strand_probe probe(s);
  std::atomic<int> on_user_strand{0};
  auto task = [&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    for (int i = 0; i < 50; ++i)
    {
      probe.enter();
      if (s.running_in_this_thread())
        ++on_user_strand;
      std::this_thread::yield();
      probe.leave();
      co_await asio::post(ex, asio::use_awaitable);
    }
  };
  std::vector<nanorun::join_handle<void>> hs;
  for (int i = 0; i < 6; ++i)
    hs.push_back(nanorun::spawn(s, task()));
  for (int i = 0; i < 300; ++i)
    asio::post(s, [&] {
      probe.enter();
      probe.leave();
    });
  std::thread t([&] { rt.run(); });
  rt.run();
  t.join();
  for (auto& h : hs)
    BOOST_CHECK_NO_THROW(h.get());
  BOOST_TEST(probe.max_in_flight.load() == 1);
  BOOST_TEST(on_user_strand.load() == 6 * 50);
}

BOOST_AUTO_TEST_SUITE_END()
