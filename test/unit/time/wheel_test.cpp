// The wheel against a reference model (an ordered multimap): millions of
// random inserts, cancels and advances, comparing what fires and when.
#include "time/wheel.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <vector>

using nanorun::detail::timer_entry;
using nanorun::detail::timer_entry_list;
using nanorun::detail::timer_ns;
using nanorun::detail::timer_never;
using nanorun::detail::timer_wheel;

namespace {

constexpr timer_ns ms = 1'000'000;
constexpr timer_ns second = 1000 * ms;
constexpr timer_ns day = 86400 * second;
constexpr timer_ns year = 365 * day;

struct model_entry : timer_entry
{
  std::multimap<timer_ns, model_entry*>::iterator it;
  bool in_model = false;
};

// Deadlines spread over every level of the wheel, beyond it, and in the past.
timer_ns random_offset(std::mt19937_64& rng)
{
  switch (rng() % 8)
  {
  case 0: return static_cast<timer_ns>(rng() % (2 * ms));            // this tick or the next
  case 1: return static_cast<timer_ns>(rng() % (100 * ms));
  case 2: return static_cast<timer_ns>(rng() % (10 * second));
  case 3: return static_cast<timer_ns>(rng() % (10 * 60 * second));
  case 4: return static_cast<timer_ns>(rng() % (30 * day));
  case 5: return 2 * year + static_cast<timer_ns>(rng() % (3 * year)); // beyond 2^36 ms
  case 6: return -static_cast<timer_ns>(rng() % (5 * ms));          // already due
  default: return static_cast<timer_ns>(rng() % 64) * ms;           // exact tick edges
  }
}

timer_ns random_step(std::mt19937_64& rng)
{
  switch (rng() % 10)
  {
  case 0: return 0;
  case 1: case 2: case 3: return static_cast<timer_ns>(rng() % (3 * ms / 2));
  case 4: case 5: return static_cast<timer_ns>(rng() % (100 * ms));
  case 6: return static_cast<timer_ns>(rng() % (20 * second));
  case 7: return static_cast<timer_ns>(rng() % (3 * 3600 * second));
  case 8: return static_cast<timer_ns>(rng() % (3 * day));
  default: return rng() % 50 == 0 ? static_cast<timer_ns>(rng() % (3 * year)) : ms;
  }
}

void run_differential(std::uint64_t seed, std::size_t steps, std::size_t population)
{
  std::mt19937_64 rng(seed);
  timer_ns now = 123 * second + 456789; // not on a tick boundary
  timer_wheel wheel(now);
  std::multimap<timer_ns, model_entry*> model;
  std::vector<model_entry> entries(population);
  std::size_t fired_total = 0;

  for (std::size_t step = 0; step < steps; ++step)
  {
    const unsigned op = static_cast<unsigned>(rng() % 100);
    model_entry& e = entries[rng() % population];
    if (op < 8)
    {
      // Staging (between advances, as the runtime does when it has a moment)
      // must not change what fires or when.
      wheel.prepare(rng() % 3 == 0 ? static_cast<std::size_t>(-1) : rng() % 8);
    }
    else if (op < 50)
    {
      if (e.in_model)
        continue;
      e.deadline = now + random_offset(rng);
      wheel.insert(&e);
      e.it = model.emplace(e.deadline, &e);
      e.in_model = true;
    }
    else if (op < 75)
    {
      if (!e.in_model)
        continue;
      BOOST_REQUIRE(e.armed());
      wheel.remove(&e);
      BOOST_REQUIRE(!e.armed());
      model.erase(e.it);
      e.in_model = false;
    }
    else
    {
      // Long jumps are rare but add up; past a century (int64 nanoseconds
      // hold 292 years), keep to short ones.
      const timer_ns jump = random_step(rng);
      now += now < 100 * year ? jump : jump % (100 * ms);
      timer_entry_list fired;
      wheel.advance(now, fired);
      // What the model says fires: every deadline at or before now.
      std::vector<model_entry*> expected;
      while (!model.empty() && model.begin()->first <= now)
      {
        expected.push_back(model.begin()->second);
        model.begin()->second->in_model = false;
        model.erase(model.begin());
      }
      BOOST_REQUIRE_EQUAL(fired.size, expected.size());
      std::vector<model_entry*> got;
      timer_ns last = std::numeric_limits<timer_ns>::min();
      while (timer_entry* f = fired.pop())
      {
        BOOST_REQUIRE(!f->armed());
        BOOST_REQUIRE_LE(f->deadline, now); // never early
        BOOST_REQUIRE_GE(f->deadline, last); // earliest first
        last = f->deadline;
        got.push_back(static_cast<model_entry*>(f));
      }
      std::sort(got.begin(), got.end());
      std::sort(expected.begin(), expected.end());
      BOOST_REQUIRE(got == expected); // never late, never lost
      fired_total += got.size();
    }
    BOOST_REQUIRE_EQUAL(wheel.size(), model.size());
    // Sleeping until next_deadline() never oversleeps the earliest timer.
    const timer_ns next = wheel.next_deadline();
    if (model.empty())
      BOOST_REQUIRE_EQUAL(next, timer_never);
    else
      BOOST_REQUIRE_LE(next, model.begin()->first);
  }
  BOOST_TEST_MESSAGE("fired " << fired_total);
  BOOST_REQUIRE_GT(fired_total, steps / 20);
}

} // namespace

BOOST_AUTO_TEST_SUITE(time_wheel)

BOOST_AUTO_TEST_CASE(differential_against_multimap)
{
  run_differential(1, 2'000'000, 4096);
}

BOOST_AUTO_TEST_CASE(differential_small_population)
{
  // Few entries: slots empty and refill often, and overflow re-sorts happen
  // with one or two entries.
  run_differential(7, 500'000, 16);
}

BOOST_AUTO_TEST_CASE(far_future_fires_exactly)
{
  const timer_ns start = 5 * second;
  timer_wheel wheel(start);
  timer_entry a, b, never;
  a.deadline = start + 3 * year + 17 * ms + 5; // beyond the wheel's 2.18 years
  b.deadline = start + 40 * day + 1;           // top level
  never.deadline = timer_never;
  wheel.insert(&a);
  wheel.insert(&b);
  wheel.insert(&never);
  timer_entry_list fired;
  // Walk time forward in uneven jumps; each entry fires at the first advance
  // at or after its deadline, never before.
  timer_ns now = start;
  while (now < start + 4 * year)
  {
    now += 7 * day + 3 * ms;
    timer_ns target = std::min(now, a.armed() ? a.deadline : now);
    if (b.armed() && b.deadline < target)
      target = b.deadline;
    wheel.advance(target - 1, fired);
    BOOST_REQUIRE_EQUAL(fired.size, 0u);
    wheel.advance(target, fired);
    while (timer_entry* e = fired.pop())
      BOOST_REQUIRE_EQUAL(e->deadline, target);
    now = target;
    BOOST_REQUIRE_LE(wheel.next_deadline(), std::min(a.armed() ? a.deadline : timer_never, b.armed() ? b.deadline : timer_never));
  }
  BOOST_TEST(!a.armed());
  BOOST_TEST(!b.armed());
  BOOST_TEST(never.armed());
  BOOST_TEST(wheel.size() == 1u);
  wheel.remove(&never);
  BOOST_TEST(wheel.empty());
  BOOST_TEST(wheel.next_deadline() == timer_never);
}

BOOST_AUTO_TEST_CASE(exact_within_a_tick)
{
  timer_wheel wheel(0);
  timer_entry e;
  e.deadline = 5 * ms + 250'000; // 5.25 ms
  wheel.insert(&e);
  timer_entry_list fired;
  wheel.advance(5 * ms, fired);
  BOOST_TEST(fired.size == 0u);
  BOOST_TEST(wheel.next_deadline() == e.deadline); // exact once in its millisecond
  wheel.advance(e.deadline - 1, fired);
  BOOST_TEST(fired.size == 0u);
  wheel.advance(e.deadline, fired);
  BOOST_TEST(fired.size == 1u);
}

BOOST_AUTO_TEST_CASE(time_never_goes_backwards)
{
  timer_wheel wheel(10 * ms);
  timer_entry e;
  e.deadline = 20 * ms;
  wheel.insert(&e);
  timer_entry_list fired;
  wheel.advance(15 * ms, fired);
  wheel.advance(12 * ms, fired); // an earlier reading changes nothing
  BOOST_TEST(fired.size == 0u);
  BOOST_TEST(e.armed());
  wheel.advance(20 * ms, fired);
  BOOST_TEST(fired.size == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
