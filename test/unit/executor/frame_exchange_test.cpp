// The frame exchange on its own (src/executor/frame_exchange.hpp): blocks that
// one thread's Asio frame cache frees are handed to another thread's cache,
// the bounds hold, and what is left is freed. Boost 1.81 only (the exchange
// reads Asio's private cache there; elsewhere it is off).
#include "executor/frame_exchange.hpp"

#include <boost/asio/detail/thread_context.hpp>
#include <boost/asio/detail/thread_info_base.hpp>
#include <boost/test/unit_test.hpp>
#include <boost/version.hpp>

#include <set>
#include <thread>
#include <vector>

#if BOOST_VERSION == 108100

namespace {

namespace ad = boost::asio::detail;
using frame_tag = ad::thread_info_base::awaitable_frame_tag;
using nanorun::detail::frame_exchange;
using nanorun::detail::frame_stash;

// The calling thread as Asio sees one of its own: a thread_info on the call
// stack, as nanorun's workers have while inside run().
class asio_thread : private ad::thread_context
{
public:
  asio_thread() : ctx_(this, info_) {}
  ad::thread_info_base* info() noexcept { return &info_; }

private:
  ad::thread_info_base info_;
  thread_call_stack::context ctx_;
};

constexpr std::size_t frame_bytes = 200;

// The calling thread (`t`) frees `frames` blocks, two per "handler", as a
// worker running the children of a spawning loop does, its cache harvested
// between; then leaves. Returns the blocks it freed.
std::vector<void*> free_as_a_worker(frame_exchange& ex, asio_thread& t, int frames)
{
  std::vector<void*> made;
  frame_stash stash;
  frame_exchange::attach(stash);
  BOOST_TEST(stash.cache != nullptr);
  for (int i = 0; i < frames; ++i)
    made.push_back(ad::thread_info_base::allocate(frame_tag(), nullptr, frame_bytes));
  for (int i = 0; i < frames; i += 2)
  {
    ad::thread_info_base::deallocate(frame_tag(), t.info(), made[i], frame_bytes);
    ad::thread_info_base::deallocate(frame_tag(), t.info(), made[i + 1], frame_bytes);
    ex.after_handler(stash);
    BOOST_TEST(stash.count <= 66u); // the stash gives batches away above its bound
  }
  ex.leave(stash);
  BOOST_TEST(stash.count == 0u);
  return made;
}

// Thread B frees `frames` blocks as above.
std::vector<void*> free_on_another_thread(frame_exchange& ex, int frames)
{
  std::vector<void*> made;
  std::thread([&] {
    asio_thread b;
    made = free_as_a_worker(ex, b, frames);
  }).join();
  return made;
}

// Another thread allocates `frames` blocks as a spawning loop does,
// refilling before each, and sends each to the heap; the blocks of `freed`
// it was given are added to `reused`.
void allocate_on_another_thread(frame_exchange& ex, int frames, const std::set<void*>& freed,
                                std::set<void*>& reused)
{
  std::thread([&] {
    asio_thread a;
    frame_stash stash;
    frame_exchange::attach(stash);
    for (int i = 0; i < frames; ++i)
    {
      ex.before_allocation(stash);
      void* p = ad::thread_info_base::allocate(frame_tag(), a.info(), frame_bytes);
      if (freed.count(p))
        reused.insert(p);
      ad::thread_info_base::deallocate(frame_tag(), nullptr, p, frame_bytes); // to the heap
    }
    ex.leave(stash);
  }).join();
}

// A worker that takes a list longer than it will want frees the surplus
// that came from its own malloc heap, a few blocks per refill, and keeps the
// rest for its cache; blocks from another heap it only uses. One thread
// plays both parts: it frees `frames` blocks as a worker running children
// does, leaves, then allocates as a spawning loop does, holding what it gets
// until the exchange has nothing more to give.
std::size_t served_by_a_long_list(bool own_heap, std::size_t& surplus_after_first_refill, bool& all_in_one_window)
{
  constexpr int frames = 1000;
  frame_exchange ex;
  asio_thread t;
  const std::vector<void*> made = free_as_a_worker(ex, t, frames);
  const std::uintptr_t home = frame_exchange::home_of(made[0]);
  all_in_one_window = true;
  for (void* p : made)
    all_in_one_window = all_in_one_window && frame_exchange::home_of(p) == home;
  const std::set<void*> freed(made.begin(), made.end());
  frame_stash taker;
  frame_exchange::attach(taker);
  taker.home = own_heap ? home : home + 1; // decides, whatever malloc did
  std::vector<void*> held;
  for (int i = 0; i < frames; ++i)
  {
    ex.before_allocation(taker);
    if (i == 0)
      surplus_after_first_refill = taker.surplus;
    if (!taker.taken && !taker.cache[0] && !taker.cache[1])
      break; // the exchange has nothing more
    void* p = ad::thread_info_base::allocate(frame_tag(), t.info(), frame_bytes);
    BOOST_TEST(freed.count(p) == 1u); // served by the exchange, not malloc
    held.push_back(p);
  }
  ex.leave(taker);
  for (void* p : held)
    ad::thread_info_base::deallocate(frame_tag(), nullptr, p, frame_bytes);
  return held.size();
}

} // namespace

BOOST_AUTO_TEST_SUITE(frame_exchange_unit)

BOOST_AUTO_TEST_CASE(frames_freed_on_one_thread_are_allocated_on_another)
{
  frame_exchange ex;
  // Fewer than a taker keeps (frame_exchange::taken_keep): none is surplus.
  constexpr int frames = 250;
  const std::vector<void*> made = free_on_another_thread(ex, frames);
  // Thread A allocates as a spawning loop does, refilling before each pair.
  const std::set<void*> freed(made.begin(), made.end());
  std::set<void*> reused;
  allocate_on_another_thread(ex, frames, freed, reused);
  // Every block thread B freed served an allocation on thread A.
  BOOST_TEST(reused.size() == freed.size());
}

BOOST_AUTO_TEST_CASE(a_thread_that_allocates_and_frees_alike_keeps_its_own_blocks)
{
  frame_exchange ex;
  asio_thread t;
  frame_stash stash;
  frame_exchange::attach(stash);
  // One frame per handler, allocated and freed: Asio's cache serves it, and
  // the exchange never takes the block away (a half-full cache is left).
  void* first = ad::thread_info_base::allocate(frame_tag(), t.info(), frame_bytes);
  ad::thread_info_base::deallocate(frame_tag(), t.info(), first, frame_bytes);
  for (int i = 0; i < 100; ++i)
  {
    ex.after_handler(stash);
    void* p = ad::thread_info_base::allocate(frame_tag(), t.info(), frame_bytes);
    BOOST_TEST(p == first);
    ad::thread_info_base::deallocate(frame_tag(), t.info(), p, frame_bytes);
  }
  BOOST_TEST(stash.count == 0u);
  ex.leave(stash);
}

BOOST_AUTO_TEST_CASE(blocks_left_in_the_exchange_are_freed_with_it)
{
  // LeakSanitizer checks this one: blocks given to the exchange and never
  // taken are freed by its destructor.
  frame_exchange ex;
  std::thread([&] {
    asio_thread b;
    frame_stash stash;
    frame_exchange::attach(stash);
    for (int i = 0; i < 500; ++i)
    {
      ad::thread_info_base::deallocate(frame_tag(), b.info(),
                                       ad::thread_info_base::allocate(frame_tag(), nullptr, frame_bytes), frame_bytes);
      ad::thread_info_base::deallocate(frame_tag(), b.info(),
                                       ad::thread_info_base::allocate(frame_tag(), nullptr, frame_bytes), frame_bytes);
      ex.after_handler(stash);
    }
    BOOST_TEST(stash.count > 0u); // kept by the stash, not freed
    ex.leave(stash);
    BOOST_TEST(stash.count == 0u);
  }).join();
}

BOOST_AUTO_TEST_CASE(a_list_taken_from_the_exchange_serves_allocations_and_goes_back_on_leave)
{
  frame_exchange ex;
  constexpr int frames = 200;
  const std::vector<void*> made = free_on_another_thread(ex, frames);
  const std::set<void*> freed(made.begin(), made.end());
  std::set<void*> reused;
  std::size_t kept = 0; // left in A's own Asio cache, freed with it
  // Thread A takes the whole list, uses a few blocks of it and leaves: the
  // rest is not lost, and its own count (the blocks it harvested) stays 0.
  std::thread([&] {
    asio_thread a;
    frame_stash stash;
    frame_exchange::attach(stash);
    for (int i = 0; i < 10; ++i)
    {
      ex.before_allocation(stash);
      void* p = ad::thread_info_base::allocate(frame_tag(), a.info(), frame_bytes);
      BOOST_TEST(freed.count(p) == 1u);
      reused.insert(p);
      ad::thread_info_base::deallocate(frame_tag(), nullptr, p, frame_bytes);
    }
    BOOST_TEST(stash.taken != nullptr);
    BOOST_TEST(stash.count == 0u);
    for (int i = 0; i < 2; ++i)
      kept += stash.cache[i] && freed.count(stash.cache[i]) ? 1 : 0;
    ex.leave(stash);
    BOOST_TEST(stash.taken == nullptr);
  }).join();
  // Thread C gets every block A did not use.
  allocate_on_another_thread(ex, frames, freed, reused);
  BOOST_TEST(reused.size() + kept == freed.size());
}

BOOST_AUTO_TEST_CASE(a_worker_frees_the_surplus_of_a_long_list_only_from_its_own_heap)
{
  // On a thread of its own: a new malloc arena, whose blocks share one
  // 64 MiB window (the main thread's heap may straddle one by now).
  std::thread([] {
    std::size_t surplus = 0;
    bool one_window = false;
    // Its own heap: 1000 blocks taken, 256 kept. The first refill put two
    // in the cache and freed four of the 744 others.
    const std::size_t own = served_by_a_long_list(true, surplus, one_window);
    if (one_window)
    {
      BOOST_TEST(surplus == 1000u - frame_exchange::taken_keep - 4u);
      BOOST_TEST(own == frame_exchange::taken_keep);
    }
    else // blocks in another window were used instead of freed
      BOOST_TEST((own >= frame_exchange::taken_keep && own < 1000u));
    // Another heap's blocks: none freed, every one served an allocation.
    const std::size_t foreign = served_by_a_long_list(false, surplus, one_window);
    BOOST_TEST(surplus == 1000u - frame_exchange::taken_keep);
    BOOST_TEST(foreign == 1000u);
  }).join();
}

BOOST_AUTO_TEST_SUITE_END()

#endif
