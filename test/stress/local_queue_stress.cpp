// local_queue under contention: one owner pushing and popping, two thieves
// stealing. Every item must be taken exactly once.
#include "executor/local_queue.hpp"
#include "stress/watchdog.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

namespace {

using nanorun::detail::local_queue;
using nanorun::detail::op_queue;
using nanorun::detail::operation;

struct counted_op : operation
{
  counted_op() : operation(&counted_op::fn) {}
  static void fn(operation*, bool) {}
  std::atomic<int> taken{0};
};

} // namespace

BOOST_AUTO_TEST_SUITE(stress_local_queue)

BOOST_AUTO_TEST_CASE(owner_and_two_thieves_take_each_item_once)
{
  nanorun::test::watchdog dog("local_queue steal stress", std::chrono::seconds(120));
  constexpr int items = 200000;
  std::vector<counted_op> ops(items);
  auto victim = std::make_unique<local_queue>(0xffffff00u); // cross the 32-bit wrap too
  std::atomic<bool> producing{true};
  std::atomic<int> taken{0};

  auto take = [&](operation* op) {
    static_cast<counted_op*>(op)->taken.fetch_add(1, std::memory_order_relaxed);
    taken.fetch_add(1, std::memory_order_relaxed);
  };

  auto thief = [&] {
    auto mine = std::make_unique<local_queue>();
    while (producing.load(std::memory_order_acquire) || !victim->empty())
    {
      if (operation* op = victim->steal_into(*mine))
      {
        take(op);
        while (operation* o = mine->pop())
          take(o);
      }
      else
        std::this_thread::yield();
    }
  };
  std::thread t1(thief);
  std::thread t2(thief);

  for (int i = 0; i < items; ++i)
  {
    operation* op = &ops[static_cast<std::size_t>(i)];
    while (!victim->try_push(op))
    {
      op_queue half;
      if (victim->take_half_for_overflow(half))
        while (operation* o = half.pop())
          take(o);
    }
    if (i % 3 == 0)
      if (operation* o = victim->pop())
        take(o);
  }
  while (operation* o = victim->pop())
    take(o);
  producing.store(false, std::memory_order_release);
  t1.join();
  t2.join();

  BOOST_TEST(taken.load() == items);
  int wrong = 0;
  for (auto& op : ops)
    if (op.taken.load() != 1)
      ++wrong;
  BOOST_TEST(wrong == 0);
}

BOOST_AUTO_TEST_SUITE_END()
