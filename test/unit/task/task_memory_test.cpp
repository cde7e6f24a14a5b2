// Task memory on its own (src/task/task_memory.cpp): a block goes back to the
// thread that allocated it, from any thread; an idle owner trims to its keep
// limits; blocks outliving their owner thread go to the heap; sizes beyond the
// classes round-trip through the heap.
#include <nanorun/detail/task_memory.hpp>

#include "task/task_memory.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstring>
#include <thread>
#include <vector>

namespace nd = nanorun::detail;

BOOST_AUTO_TEST_SUITE(task_memory_unit)

BOOST_AUTO_TEST_CASE(a_thread_without_a_home_uses_the_heap)
{
  std::thread([] {
    BOOST_TEST(!nd::this_thread_task_memory().attached);
    void* p = nd::allocate_task_memory(200);
    std::memset(p, 0xab, 200);
    nd::deallocate_task_memory(p);
    BOOST_TEST(nd::this_thread_task_memory().local == 0u); // nothing kept
  }).join();
}

BOOST_AUTO_TEST_CASE(the_owner_reuses_what_it_frees)
{
  std::thread([] {
    nd::attach_task_memory();
    nd::attach_task_memory(); // idempotent
    void* p = nd::allocate_task_memory(250);
    nd::deallocate_task_memory(p);
    BOOST_TEST(nd::this_thread_task_memory().local == 1u);
    BOOST_TEST(nd::allocate_task_memory(240) == p); // same class
    void* q = nd::allocate_task_memory(100);         // another class: not p
    BOOST_TEST(q != p);
    nd::deallocate_task_memory(p);
    nd::deallocate_task_memory(q);
  }).join();
}

BOOST_AUTO_TEST_CASE(a_block_freed_elsewhere_returns_to_its_owner)
{
  std::thread([] {
    nd::attach_task_memory();
    std::vector<void*> blocks;
    for (int i = 0; i < 100; ++i)
      blocks.push_back(nd::allocate_task_memory(300));
    // Freed by a thread with a home of its own and by one without.
    std::thread([&] {
      nd::attach_task_memory();
      for (int i = 0; i < 50; ++i)
        nd::deallocate_task_memory(blocks[static_cast<std::size_t>(i)]);
      BOOST_TEST(nd::this_thread_task_memory().local == 0u); // not kept here
    }).join();
    std::thread([&] {
      for (int i = 50; i < 100; ++i)
        nd::deallocate_task_memory(blocks[static_cast<std::size_t>(i)]);
    }).join();
    BOOST_TEST(nd::this_thread_task_memory().remote_pending);
    // The owner's next allocations take them back, every one of them.
    std::vector<void*> again;
    for (int i = 0; i < 100; ++i)
      again.push_back(nd::allocate_task_memory(300));
    BOOST_TEST(!nd::this_thread_task_memory().remote_pending);
    std::sort(blocks.begin(), blocks.end());
    std::sort(again.begin(), again.end());
    BOOST_TEST(blocks == again);
    for (void* p : again)
      nd::deallocate_task_memory(p);
  }).join();
}

BOOST_AUTO_TEST_CASE(an_idle_owner_trims_to_its_limits)
{
  std::thread([] {
    nd::attach_task_memory();
    std::vector<void*> blocks;
    for (int i = 0; i < 5000; ++i)
      blocks.push_back(nd::allocate_task_memory(64));
    std::thread([&] {
      for (void* p : blocks)
        nd::deallocate_task_memory(p);
    }).join();
    BOOST_TEST(nd::this_thread_task_memory().remote_pending);
    nd::trim_task_memory();
    const auto s = nd::this_thread_task_memory();
    BOOST_TEST(!s.remote_pending);
    BOOST_TEST(s.local <= 1024u); // the keep limit of the smallest class
    BOOST_TEST(s.local > 0u);
  }).join(); // the rest is freed at thread exit (LSan checks)
}

BOOST_AUTO_TEST_CASE(blocks_outlive_their_owner_thread)
{
  std::vector<void*> blocks;
  std::thread([&] {
    nd::attach_task_memory();
    for (int i = 0; i < 64; ++i)
      blocks.push_back(nd::allocate_task_memory(128 + 64 * (i % 8)));
  }).join();
  // The owner is gone: its home is orphaned, these go to the heap.
  for (void* p : blocks)
    nd::deallocate_task_memory(p);
  // A new thread may adopt the home; it starts empty and works normally.
  std::thread([] {
    nd::attach_task_memory();
    BOOST_TEST(nd::this_thread_task_memory().local == 0u);
    BOOST_TEST(!nd::this_thread_task_memory().remote_pending);
    void* p = nd::allocate_task_memory(128);
    nd::deallocate_task_memory(p);
    BOOST_TEST(nd::allocate_task_memory(128) == p);
    nd::deallocate_task_memory(p);
  }).join();
}

BOOST_AUTO_TEST_CASE(large_blocks_round_trip_through_the_heap)
{
  std::thread([] {
    nd::attach_task_memory();
    void* p = nd::allocate_task_memory(5000);
    std::memset(p, 1, 5000);
    nd::deallocate_task_memory(p);
    BOOST_TEST(nd::this_thread_task_memory().local == 0u);
  }).join();
}

BOOST_AUTO_TEST_SUITE_END()
