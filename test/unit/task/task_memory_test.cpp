// Task memory on its own (src/task/task_memory.cpp): a block goes back to the
// thread that allocated it, from any thread; an idle owner trims to its keep
// limits; blocks outliving their owner thread go to the heap; sizes beyond the
// classes round-trip through the heap. Each case runs on threads of its own
// (a home lives as long as its thread) and asserts on the main thread once
// they have been joined (Boost.Test is not thread-safe).
#include <nanorun/detail/task_memory.hpp>

#include "task/task_memory.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstring>
#include <thread>
#include <vector>

namespace nd = nanorun::detail;

namespace {

template <class F>
void on_new_thread(F&& f)
{
  std::thread(std::forward<F>(f)).join();
}

} // namespace

BOOST_AUTO_TEST_SUITE(task_memory_unit)

BOOST_AUTO_TEST_CASE(a_thread_without_a_home_uses_the_heap)
{
  nd::task_memory_stats before, after;
  on_new_thread([&] {
    before = nd::this_thread_task_memory();
    void* p = nd::allocate_task_memory(200);
    std::memset(p, 0xab, 200);
    nd::deallocate_task_memory(p); // a heap block (no owner) back to the heap
    after = nd::this_thread_task_memory();
  });
  BOOST_TEST(!before.attached);
  BOOST_TEST(!after.attached); // allocating does not attach
}

BOOST_AUTO_TEST_CASE(the_owner_reuses_what_it_frees)
{
  std::size_t kept = 0;
  bool reused = false, distinct = false;
  on_new_thread([&] {
    nd::attach_task_memory();
    nd::attach_task_memory(); // idempotent
    void* p = nd::allocate_task_memory(250);
    nd::deallocate_task_memory(p);
    kept = nd::this_thread_task_memory().local;
    reused = nd::allocate_task_memory(240) == p; // same class
    void* q = nd::allocate_task_memory(100);    // another class: not p
    distinct = q != p;
    nd::deallocate_task_memory(p);
    nd::deallocate_task_memory(q);
  });
  BOOST_TEST(kept == 1u);
  BOOST_TEST(reused);
  BOOST_TEST(distinct);
}

BOOST_AUTO_TEST_CASE(a_block_freed_elsewhere_returns_to_its_owner)
{
  std::vector<void*> blocks, again;
  std::size_t kept_by_other = 99;
  bool pending_before = false, pending_after = true;
  on_new_thread([&] {
    nd::attach_task_memory();
    for (int i = 0; i < 100; ++i)
      blocks.push_back(nd::allocate_task_memory(300));
    // Freed by a thread with a home of its own and by one without.
    on_new_thread([&] {
      nd::attach_task_memory();
      for (int i = 0; i < 50; ++i)
        nd::deallocate_task_memory(blocks[static_cast<std::size_t>(i)]);
      kept_by_other = nd::this_thread_task_memory().local;
    });
    on_new_thread([&] {
      for (int i = 50; i < 100; ++i)
        nd::deallocate_task_memory(blocks[static_cast<std::size_t>(i)]);
    });
    pending_before = nd::this_thread_task_memory().remote_pending;
    // The owner's next allocations take them back, every one of them.
    for (int i = 0; i < 100; ++i)
      again.push_back(nd::allocate_task_memory(300));
    pending_after = nd::this_thread_task_memory().remote_pending;
    for (void* p : again)
      nd::deallocate_task_memory(p);
  });
  BOOST_TEST(kept_by_other == 0u); // not kept by the thread that freed them
  BOOST_TEST(pending_before);
  BOOST_TEST(!pending_after);
  std::sort(blocks.begin(), blocks.end());
  std::sort(again.begin(), again.end());
  BOOST_TEST(blocks == again);
}

BOOST_AUTO_TEST_CASE(an_idle_owner_trims_to_its_limits)
{
  bool pending_before = false;
  nd::task_memory_stats after;
  on_new_thread([&] {
    nd::attach_task_memory();
    std::vector<void*> blocks;
    for (int i = 0; i < 5000; ++i)
      blocks.push_back(nd::allocate_task_memory(64));
    on_new_thread([&] {
      for (void* p : blocks)
        nd::deallocate_task_memory(p);
    });
    pending_before = nd::this_thread_task_memory().remote_pending;
    nd::trim_task_memory();
    after = nd::this_thread_task_memory();
  }); // the rest is freed at thread exit (LSan checks)
  BOOST_TEST(pending_before);
  BOOST_TEST(!after.remote_pending);
  BOOST_TEST(after.local == 1024u); // the keep limit of the smallest class
}

BOOST_AUTO_TEST_CASE(blocks_outlive_their_owner_thread)
{
  std::vector<void*> blocks;
  on_new_thread([&] {
    nd::attach_task_memory();
    for (int i = 0; i < 64; ++i)
      blocks.push_back(nd::allocate_task_memory(static_cast<std::size_t>(128 + 64 * (i % 8))));
  });
  // The owner is gone: its home is orphaned and these go to the heap (a block
  // pushed onto the orphaned home instead would leak: LSan in the ASan phase).
  for (void* p : blocks)
    nd::deallocate_task_memory(p);
  // A new thread may adopt the home; it works normally.
  bool reused = false;
  nd::task_memory_stats fresh;
  on_new_thread([&] {
    nd::attach_task_memory();
    fresh = nd::this_thread_task_memory();
    void* p = nd::allocate_task_memory(128);
    nd::deallocate_task_memory(p);
    reused = nd::allocate_task_memory(128) == p;
    nd::deallocate_task_memory(p);
  });
  BOOST_TEST(fresh.attached);
  BOOST_TEST(fresh.local == 0u);
  BOOST_TEST(reused);
}

BOOST_AUTO_TEST_CASE(large_blocks_round_trip_through_the_heap)
{
  std::size_t kept = 99;
  on_new_thread([&] {
    nd::attach_task_memory();
    void* p = nd::allocate_task_memory(5000);
    std::memset(p, 1, 5000);
    nd::deallocate_task_memory(p);
    kept = nd::this_thread_task_memory().local;
  });
  BOOST_TEST(kept == 0u); // not kept: beyond the classes
}

BOOST_AUTO_TEST_SUITE_END()
