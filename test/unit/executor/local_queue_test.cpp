// local_queue: owner push/pop, overflow, steal-half, 32-bit index wrap-around.
#include "executor/local_queue.hpp"

#include <boost/test/unit_test.hpp>

#include <memory>
#include <vector>

namespace {

using nanorun::detail::local_queue;
using nanorun::detail::op_queue;
using nanorun::detail::operation;

// An operation that is only ever moved between queues here, never completed.
struct tagged_op : operation
{
  explicit tagged_op(int t) : operation(&tagged_op::fn), tag(t) {}
  static void fn(operation*, bool) {}
  int tag;
};

int tag_of(operation* op)
{
  return static_cast<tagged_op*>(op)->tag;
}

struct ops
{
  explicit ops(int n)
  {
    for (int i = 0; i < n; ++i)
      items.push_back(std::make_unique<tagged_op>(i));
  }
  operation* operator[](int i) { return items[static_cast<std::size_t>(i)].get(); }
  std::vector<std::unique_ptr<tagged_op>> items;
};

constexpr int cap = static_cast<int>(local_queue::capacity);

} // namespace

BOOST_AUTO_TEST_SUITE(executor_local_queue)

BOOST_AUTO_TEST_CASE(fifo_push_pop)
{
  auto q = std::make_unique<local_queue>();
  ops o(3);
  BOOST_TEST(q->empty());
  BOOST_TEST(q->pop() == nullptr);
  for (int i = 0; i < 3; ++i)
    BOOST_TEST(q->try_push(o[i]));
  BOOST_TEST(!q->empty());
  for (int i = 0; i < 3; ++i)
    BOOST_TEST(tag_of(q->pop()) == i);
  BOOST_TEST(q->pop() == nullptr);
}

BOOST_AUTO_TEST_CASE(full_queue_refuses_then_gives_up_half)
{
  auto q = std::make_unique<local_queue>();
  ops o(cap + 1);
  for (int i = 0; i < cap; ++i)
    BOOST_TEST(q->try_push(o[i]));
  BOOST_TEST(q->free_slots() == 0u);
  BOOST_TEST(!q->try_push(o[cap]));
  op_queue half;
  BOOST_TEST(q->take_half_for_overflow(half));
  BOOST_TEST(half.size() == static_cast<std::size_t>(cap / 2));
  // The older half leaves, in order.
  for (int i = 0; i < cap / 2; ++i)
    BOOST_TEST(tag_of(half.pop()) == i);
  BOOST_TEST(q->try_push(o[cap]));
  for (int i = cap / 2; i <= cap; ++i)
    BOOST_TEST(tag_of(q->pop()) == i);
}

BOOST_AUTO_TEST_CASE(steal_takes_half_rounded_up)
{
  auto victim = std::make_unique<local_queue>();
  auto thief = std::make_unique<local_queue>();
  ops o(7);
  for (int i = 0; i < 7; ++i)
    victim->try_push(o[i]);
  operation* first = victim->steal_into(*thief);
  BOOST_REQUIRE(first != nullptr);
  // 4 taken: 0..3; the thief runs the last one and queues the others.
  BOOST_TEST(tag_of(first) == 3);
  for (int i = 0; i < 3; ++i)
    BOOST_TEST(tag_of(thief->pop()) == i);
  BOOST_TEST(thief->pop() == nullptr);
  for (int i = 4; i < 7; ++i)
    BOOST_TEST(tag_of(victim->pop()) == i);
  BOOST_TEST(victim->steal_into(*thief) == nullptr);
}

BOOST_AUTO_TEST_CASE(thief_with_a_busy_queue_does_not_steal)
{
  auto victim = std::make_unique<local_queue>();
  auto thief = std::make_unique<local_queue>();
  ops o(cap);
  for (int i = 0; i < cap / 2 + 1; ++i)
    thief->try_push(o[i]);
  victim->try_push(o[cap - 1]);
  BOOST_TEST(victim->steal_into(*thief) == nullptr);
  BOOST_TEST(tag_of(victim->pop()) == cap - 1);
}

BOOST_AUTO_TEST_CASE(indices_wrap_around_32_bits)
{
  const std::uint32_t near_wrap = 0xffffffffu - 3;
  auto q = std::make_unique<local_queue>(near_wrap);
  auto thief = std::make_unique<local_queue>(0xfffffff0u);
  ops o(cap + 20);
  int next_in = 0;
  int next_out = 0;
  // Cycle through the wrap several times, mixing pops, steals and overflow.
  for (int round = 0; round < 4; ++round)
  {
    for (int i = 0; i < cap; ++i)
      BOOST_TEST_REQUIRE(q->try_push(o[(next_in++) % (cap + 20)]));
    operation* stolen = q->steal_into(*thief);
    BOOST_REQUIRE(stolen);
    int taken = 1;
    while (thief->pop())
      ++taken;
    BOOST_TEST(taken == cap / 2);
    next_out += taken;
    while (operation* op = q->pop())
    {
      BOOST_TEST(tag_of(op) == next_out % (cap + 20));
      ++next_out;
    }
  }
  BOOST_TEST(next_in == next_out);
}

BOOST_AUTO_TEST_SUITE_END()
