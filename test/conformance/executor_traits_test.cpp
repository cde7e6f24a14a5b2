// Asio conformance: the traits and properties of nanorun::runtime::executor_type,
// checked through Asio's own trait machinery (what post, co_spawn, strand,
// any_io_executor and the I/O objects look at), and the runtime behaviour of
// the properties: work tracking, the legacy Networking-TS members,
// running_in_this_thread.
#include <nanorun/runtime.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/is_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/require.hpp>
#include <boost/asio/strand.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <future>
#include <memory>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>

namespace asio = boost::asio;
namespace execution = boost::asio::execution;

namespace {

using ex_t = nanorun::runtime::executor_type;
using tracked_t = decltype(asio::require(std::declval<const ex_t&>(), execution::outstanding_work.tracked));
using untracked_t = decltype(asio::require(std::declval<const tracked_t&>(), execution::outstanding_work.untracked));
using never_t = decltype(asio::require(std::declval<const ex_t&>(), execution::blocking.never));
using possibly_t = decltype(asio::require(std::declval<const never_t&>(), execution::blocking.possibly));
using continuation_t = decltype(asio::prefer(std::declval<const ex_t&>(), execution::relationship.continuation));
using fork_t = decltype(asio::prefer(std::declval<const continuation_t&>(), execution::relationship.fork));

// A stateful allocator, so that "the executor carries this allocator" is
// observable through equality.
template <class T>
struct tagged_allocator
{
  using value_type = T;
  int tag = 0;

  tagged_allocator() = default;
  explicit tagged_allocator(int t) noexcept : tag(t) {}
  template <class U>
  tagged_allocator(const tagged_allocator<U>& o) noexcept : tag(o.tag)
  {
  }

  T* allocate(std::size_t n) { return std::allocator<T>().allocate(n); }
  void deallocate(T* p, std::size_t n) noexcept { std::allocator<T>().deallocate(p, n); }

  template <class U>
  friend bool operator==(const tagged_allocator& a, const tagged_allocator<U>& b) noexcept
  {
    return a.tag == b.tag;
  }
  template <class U>
  friend bool operator!=(const tagged_allocator& a, const tagged_allocator<U>& b) noexcept
  {
    return a.tag != b.tag;
  }
};

using alloc_ex_t =
    decltype(asio::require(std::declval<const ex_t&>(), execution::allocator(tagged_allocator<void>(1))));

// ---- The standard executor concept -------------------------------------------------

static_assert(execution::executor<ex_t>);
static_assert(execution::is_executor_v<ex_t>);
static_assert(execution::executor<tracked_t>);
static_assert(execution::executor<never_t>);
static_assert(execution::executor<continuation_t>);
static_assert(execution::executor<alloc_ex_t>);

// The legacy Networking-TS members are present (context, on_work_started,
// on_work_finished, dispatch, post, defer).
static_assert(asio::is_executor<ex_t>::value);
static_assert(asio::is_executor<tracked_t>::value);

// ---- require -----------------------------------------------------------------------

static_assert(asio::can_require_v<ex_t, execution::blocking_t::never_t>);
static_assert(asio::can_require_v<ex_t, execution::blocking_t::possibly_t>);
static_assert(asio::can_require_v<ex_t, execution::outstanding_work_t::tracked_t>);
static_assert(asio::can_require_v<ex_t, execution::outstanding_work_t::untracked_t>);
static_assert(asio::can_require_v<ex_t, execution::allocator_t<void>>);
static_assert(asio::can_require_v<ex_t, execution::allocator_t<tagged_allocator<void>>>);
static_assert(asio::can_require_v<tracked_t, execution::blocking_t::never_t>);

// ---- query -------------------------------------------------------------------------

static_assert(asio::can_query_v<ex_t, execution::context_t>);
static_assert(asio::can_query_v<ex_t, execution::blocking_t>);
static_assert(asio::can_query_v<ex_t, execution::relationship_t>);
static_assert(asio::can_query_v<ex_t, execution::outstanding_work_t>);
static_assert(asio::can_query_v<ex_t, execution::allocator_t<void>>);
static_assert(asio::can_query_v<ex_t, execution::mapping_t>);
static_assert(asio::can_query_v<ex_t, execution::occupancy_t>);
static_assert(
    std::is_same_v<decltype(asio::query(std::declval<const ex_t&>(), execution::context)), nanorun::runtime&>);
static_assert(std::is_convertible_v<decltype(asio::query(std::declval<const ex_t&>(), execution::context)),
                                    asio::execution_context&>);
static_assert(
    std::is_same_v<decltype(asio::query(std::declval<const ex_t&>(), execution::allocator)), std::allocator<void>>);
static_assert(std::is_same_v<decltype(asio::query(std::declval<const alloc_ex_t&>(), execution::allocator)),
                             tagged_allocator<void>>);

// Static queries (the strand and any_executor read these without an object).
static_assert(ex_t::query(execution::blocking) == execution::blocking.possibly);
static_assert(never_t::query(execution::blocking) == execution::blocking.never);
static_assert(possibly_t::query(execution::blocking) == execution::blocking.possibly);
static_assert(ex_t::query(execution::outstanding_work) == execution::outstanding_work.untracked);
static_assert(tracked_t::query(execution::outstanding_work) == execution::outstanding_work.tracked);
static_assert(untracked_t::query(execution::outstanding_work) == execution::outstanding_work.untracked);
static_assert(ex_t::query(execution::relationship) == execution::relationship.fork);
static_assert(continuation_t::query(execution::relationship) == execution::relationship.continuation);
static_assert(fork_t::query(execution::relationship) == execution::relationship.fork);
static_assert(ex_t::query(execution::mapping) == execution::mapping.thread);

// ---- prefer ------------------------------------------------------------------------

static_assert(asio::can_prefer_v<ex_t, execution::relationship_t::fork_t>);
static_assert(asio::can_prefer_v<ex_t, execution::relationship_t::continuation_t>);
static_assert(asio::can_prefer_v<ex_t, execution::outstanding_work_t::tracked_t>);
static_assert(asio::can_prefer_v<ex_t, execution::blocking_t::possibly_t>);

// ---- distinct types per property -------------------------------------------------

static_assert(!std::is_same_v<tracked_t, ex_t>, "tracked must be a distinct, counting type");
static_assert(std::is_same_v<untracked_t, ex_t>);
static_assert(!std::is_same_v<never_t, ex_t>);
static_assert(std::is_same_v<possibly_t, ex_t>);
static_assert(!std::is_same_v<continuation_t, ex_t>);
static_assert(std::is_same_v<fork_t, ex_t>);
// prefer(tracked) must pick the counting type too (co_spawn, strands, I/O use prefer).
static_assert(std::is_same_v<decltype(asio::prefer(std::declval<const ex_t&>(), execution::outstanding_work.tracked)),
                             tracked_t>);

// ---- any_io_executor, strand ------------------------------------------------------

static_assert(std::is_convertible_v<ex_t, asio::any_io_executor>);
static_assert(std::is_convertible_v<tracked_t, asio::any_io_executor>);
static_assert(std::is_convertible_v<asio::strand<ex_t>, asio::any_io_executor>);
static_assert(execution::executor<asio::strand<ex_t>>);
static_assert(std::is_same_v<decltype(asio::make_strand(std::declval<nanorun::runtime&>())), asio::strand<ex_t>>);

// ---- size and noexcept ------------------------------------------------------------

static_assert(sizeof(ex_t) == sizeof(void*), "fits any_io_executor's small buffer with room to spare");
static_assert(sizeof(tracked_t) == sizeof(void*));
static_assert(std::is_nothrow_copy_constructible_v<ex_t>);
static_assert(std::is_nothrow_move_constructible_v<ex_t>);
static_assert(std::is_nothrow_copy_assignable_v<ex_t>);
static_assert(std::is_nothrow_move_assignable_v<ex_t>);
static_assert(std::is_nothrow_destructible_v<ex_t>);
static_assert(std::is_nothrow_copy_constructible_v<tracked_t>);
static_assert(std::is_nothrow_move_constructible_v<tracked_t>);
static_assert(std::is_nothrow_destructible_v<tracked_t>);
static_assert(noexcept(std::declval<const ex_t&>() == std::declval<const ex_t&>()));
static_assert(noexcept(std::declval<const ex_t&>() != std::declval<const ex_t&>()));

} // namespace

BOOST_AUTO_TEST_SUITE(conformance_executor_traits)

BOOST_AUTO_TEST_CASE(query_results_follow_require_and_prefer)
{
  nanorun::runtime rt(1);
  const ex_t ex = rt.get_executor();

  BOOST_TEST(&asio::query(ex, execution::context) == &rt);
  BOOST_TEST((asio::query(ex, execution::blocking) == execution::blocking.possibly));
  BOOST_TEST((asio::query(ex, execution::relationship) == execution::relationship.fork));
  BOOST_TEST((asio::query(ex, execution::outstanding_work) == execution::outstanding_work.untracked));
  BOOST_TEST((asio::query(ex, execution::mapping) == execution::mapping.thread));
  BOOST_TEST(asio::query(ex, execution::occupancy) >= 1u);

  const auto never = asio::require(ex, execution::blocking.never);
  BOOST_TEST((asio::query(never, execution::blocking) == execution::blocking.never));
  BOOST_TEST(&asio::query(never, execution::context) == &rt);
  const auto possibly = asio::require(never, execution::blocking.possibly);
  BOOST_TEST((asio::query(possibly, execution::blocking) == execution::blocking.possibly));
  BOOST_TEST((possibly == ex));

  const auto cont = asio::prefer(ex, execution::relationship.continuation);
  BOOST_TEST((asio::query(cont, execution::relationship) == execution::relationship.continuation));
  const auto fork = asio::prefer(cont, execution::relationship.fork);
  BOOST_TEST((asio::query(fork, execution::relationship) == execution::relationship.fork));

  // Properties compose: never + tracked keeps both.
  const auto both = asio::require(never, execution::outstanding_work.tracked);
  BOOST_TEST((asio::query(both, execution::blocking) == execution::blocking.never));
  BOOST_TEST((asio::query(both, execution::outstanding_work) == execution::outstanding_work.tracked));
  BOOST_TEST(&asio::query(both, execution::context) == &rt);
}

BOOST_AUTO_TEST_CASE(require_allocator_is_carried_and_compared)
{
  nanorun::runtime rt(1);
  const ex_t ex = rt.get_executor();
  const tagged_allocator<void> a(7);
  const auto ex_a = asio::require(ex, execution::allocator(a));
  BOOST_TEST(asio::query(ex_a, execution::allocator).tag == 7);
  BOOST_TEST(&asio::query(ex_a, execution::context) == &rt);

  // The allocator survives other requirements.
  const auto ex_a_never = asio::require(ex_a, execution::blocking.never);
  BOOST_TEST(asio::query(ex_a_never, execution::allocator).tag == 7);

  // Same runtime, different allocator state: not equal.
  const auto ex_b = asio::require(ex, execution::allocator(tagged_allocator<void>(8)));
  BOOST_TEST((ex_a != ex_b));
  BOOST_TEST((ex_a == asio::require(ex, execution::allocator(tagged_allocator<void>(7)))));

  // allocator_t<void> goes back to the default allocator.
  const auto ex_default = asio::require(ex_a, execution::allocator);
  static_assert(std::is_same_v<std::decay_t<decltype(ex_default)>, ex_t>);
  BOOST_TEST((ex_default == ex));

  // The allocator-carrying executor still works.
  int ran = 0;
  ex_a_never.execute([&] { ++ran; });
  BOOST_TEST(rt.run() == 1u);
  BOOST_TEST(ran == 1);
}

BOOST_AUTO_TEST_CASE(equality_is_per_runtime)
{
  nanorun::runtime a(1);
  nanorun::runtime b(1);
  BOOST_TEST((a.get_executor() == a.get_executor()));
  BOOST_TEST((a.get_executor() != b.get_executor()));
  BOOST_TEST(!(a.get_executor() == b.get_executor()));
  ex_t x = a.get_executor();
  x = b.get_executor();
  BOOST_TEST((x == b.get_executor()));
  BOOST_TEST(&asio::query(x, execution::context) == &b);
  // Through any_io_executor as well.
  const asio::any_io_executor any_a = a.get_executor();
  BOOST_TEST((any_a == asio::any_io_executor(a.get_executor())));
  BOOST_TEST((any_a != asio::any_io_executor(b.get_executor())));
}

BOOST_AUTO_TEST_CASE(any_io_executor_wraps_without_losing_identity)
{
  nanorun::runtime rt(1);
  const asio::any_io_executor any = rt.get_executor();
  BOOST_REQUIRE(any.target<ex_t>() != nullptr);
  BOOST_TEST((*any.target<ex_t>() == rt.get_executor()));
  BOOST_TEST(&asio::query(any, execution::context) == static_cast<asio::execution_context*>(&rt));
  BOOST_TEST((asio::query(any, execution::blocking) == execution::blocking.possibly));
  const auto never = asio::require(any, execution::blocking.never);
  BOOST_TEST((asio::query(never, execution::blocking) == execution::blocking.never));
  BOOST_TEST(never.target<never_t>() != nullptr);
  const auto tracked = asio::prefer(any, execution::outstanding_work.tracked);
  BOOST_TEST(tracked.target<tracked_t>() != nullptr);
}

BOOST_AUTO_TEST_CASE(tracked_copies_count_exactly_once_each)
{
  nanorun::runtime rt(1);
  {
    std::optional<tracked_t> a(asio::require(rt.get_executor(), execution::outstanding_work.tracked));
    {
      const tracked_t b = *a; // copy: +1
    }                         // -1
    BOOST_TEST(rt.poll() == 0u);
    BOOST_TEST(!rt.stopped());

    tracked_t c = std::move(*a); // move: steals
    a.reset();                   // a moved-from copy must not give its unit back
    BOOST_TEST(!rt.stopped());
    BOOST_TEST(rt.poll() == 0u);
    BOOST_TEST(!rt.stopped());

    // Copy- and move-assignment onto a tracked executor of the same runtime.
    std::optional<tracked_t> d(asio::require(rt.get_executor(), execution::outstanding_work.tracked));
    *d = c;            // d's old unit goes, c's is copied: c + d
    tracked_t e = c;   // c + d + e
    *d = std::move(e); // d's unit goes, e's is stolen: c + d
    d.reset();         // c
    BOOST_TEST(!rt.stopped());
    BOOST_TEST(rt.poll() == 0u);
    BOOST_TEST(!rt.stopped());
  } // c (moved-from) and the rest go: the count reaches zero

  // The last unit of work going away stops the runtime, as io_context does.
  BOOST_TEST(rt.poll() == 0u);
  BOOST_TEST(rt.stopped());
  rt.restart();
  BOOST_TEST(rt.run() == 0u); // nothing outstanding: returns at once
}

BOOST_AUTO_TEST_CASE(tracked_assignment_moves_work_between_runtimes)
{
  nanorun::runtime a(1);
  nanorun::runtime b(1);
  std::optional<tracked_t> ta(asio::require(a.get_executor(), execution::outstanding_work.tracked));
  std::optional<tracked_t> tb(asio::require(b.get_executor(), execution::outstanding_work.tracked));
  *ta = *tb; // ta now tracks b: a's unit is released, b has two
  BOOST_TEST(a.stopped());
  BOOST_TEST(!b.stopped());
  tb.reset();
  BOOST_TEST(!b.stopped());
  BOOST_TEST(b.poll() == 0u);
  BOOST_TEST(!b.stopped());
  ta.reset();
  BOOST_TEST(b.stopped());
}

BOOST_AUTO_TEST_CASE(tracked_executor_keeps_run_alive_until_destroyed)
{
  nanorun::runtime rt(1);
  std::promise<void> first_ran;
  std::atomic<int> ran{0};

  std::thread helper([&, work = asio::require(rt.get_executor(), execution::outstanding_work.tracked)]() mutable {
    work.execute([&] {
      ++ran;
      first_ran.set_value();
    });
    first_ran.get_future().wait();
    // run() is now idle with only this tracked executor as outstanding work.
    // Give it a chance to (wrongly) return before posting again.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    work.execute([&] { ++ran; }); // queued: not inside run() on this thread
    std::optional<decltype(work)> drop(std::move(work));
    drop.reset(); // last unit of work: run() may now return
  });
  const auto n = rt.run();
  helper.join();
  BOOST_TEST(n == 2u);
  BOOST_TEST(ran.load() == 2);
  BOOST_TEST(rt.stopped());
}

BOOST_AUTO_TEST_CASE(prefer_tracked_through_any_io_executor_keeps_run_alive)
{
  nanorun::runtime rt(1);
  std::promise<void> go;
  int ran = 0;
  asio::any_io_executor work =
      asio::prefer(asio::any_io_executor(rt.get_executor()), execution::outstanding_work.tracked);
  std::thread helper([&] {
    go.get_future().wait();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    asio::post(work, [&] { ++ran; });
    work = asio::any_io_executor(); // releases the tracked target
  });
  asio::post(rt, [&] { go.set_value(); });
  BOOST_TEST(rt.run() == 2u);
  helper.join();
  BOOST_TEST(ran == 1);
}

BOOST_AUTO_TEST_CASE(legacy_on_work_started_and_finished_count)
{
  nanorun::runtime rt(1);
  const ex_t ex = rt.get_executor();
  ex.on_work_started();
  ex.on_work_started();
  BOOST_TEST(rt.poll() == 0u);
  BOOST_TEST(!rt.stopped());
  ex.on_work_finished();
  BOOST_TEST(rt.poll() == 0u);
  BOOST_TEST(!rt.stopped());
  ex.on_work_finished();
  BOOST_TEST(rt.stopped());
  BOOST_TEST(&ex.context() == &rt);
}

BOOST_AUTO_TEST_CASE(legacy_members_post_dispatch_defer)
{
  nanorun::runtime rt(1);
  const ex_t ex = rt.get_executor();
  std::allocator<void> a;
  int order = 0;
  int posted = -1, deferred = -1, dispatched_outside = -1, dispatched_inside = -1;
  ex.post([&] { posted = order++; }, a);
  ex.defer([&] { deferred = order++; }, a);
  ex.dispatch([&] { dispatched_outside = order++; }, a); // not in run(): queued
  BOOST_TEST(dispatched_outside == -1);
  ex.post(
      [&] {
        ex.dispatch([&] { dispatched_inside = order++; }, a); // in run(): inline
        BOOST_TEST(dispatched_inside != -1);
      },
      a);
  rt.run();
  BOOST_TEST(posted == 0);
  BOOST_TEST(deferred == 1);
  BOOST_TEST(dispatched_outside == 2);
  BOOST_TEST(dispatched_inside == 3);
}

BOOST_AUTO_TEST_CASE(work_guard_on_the_legacy_path_counts)
{
  // asio::is_executor<ex_t> is true, so executor_work_guard<ex_t> uses
  // on_work_started/on_work_finished.
  nanorun::runtime rt(1);
  auto guard = asio::make_work_guard(rt.get_executor());
  BOOST_TEST(guard.owns_work());
  BOOST_TEST(rt.poll() == 0u);
  BOOST_TEST(!rt.stopped());
  auto guard2 = std::move(guard);
  BOOST_TEST(!guard.owns_work());
  BOOST_TEST(guard2.owns_work());
  guard.reset(); // no-op on a moved-from guard
  BOOST_TEST(!rt.stopped());
  guard2.reset();
  BOOST_TEST(rt.stopped());
}

BOOST_AUTO_TEST_CASE(running_in_this_thread_only_inside_run)
{
  nanorun::runtime rt(1);
  nanorun::runtime other(1);
  const ex_t ex = rt.get_executor();
  BOOST_TEST(!ex.running_in_this_thread());

  bool inside = false, other_inside = true, nested = false, thread_inside = true;
  asio::post(rt, [&] {
    inside = ex.running_in_this_thread();
    other_inside = other.get_executor().running_in_this_thread();
    std::thread t([&] { thread_inside = ex.running_in_this_thread(); });
    t.join();
    // A nested run of another runtime is still inside this one's run() (io_context semantics).
    asio::post(other, [&] { nested = ex.running_in_this_thread() && other.get_executor().running_in_this_thread(); });
    other.run();
  });
  rt.run();
  BOOST_TEST(inside);
  BOOST_TEST(!other_inside);
  BOOST_TEST(!thread_inside);
  BOOST_TEST(nested);
  BOOST_TEST(!ex.running_in_this_thread());
}

BOOST_AUTO_TEST_CASE(blocking_never_execute_does_not_run_inline)
{
  nanorun::runtime rt(1);
  bool inner = false, inner_before_return = true;
  asio::post(rt, [&] {
    asio::require(rt.get_executor(), execution::blocking.never).execute([&] { inner = true; });
    inner_before_return = inner;
  });
  BOOST_TEST(rt.run() == 2u);
  BOOST_TEST(!inner_before_return);
  BOOST_TEST(inner);
}

BOOST_AUTO_TEST_CASE(execute_accepts_move_only_functions)
{
  nanorun::runtime rt(1);
  int out = 0;
  auto p = std::make_unique<int>(41);
  rt.get_executor().execute([p = std::move(p), &out] { out = *p + 1; });
  asio::require(rt.get_executor(), execution::blocking.never).execute([q = std::make_unique<int>(1), &out] {
    out += *q;
  });
  rt.run();
  BOOST_TEST(out == 43);
}

BOOST_AUTO_TEST_SUITE_END()
