// The memory reference printed under the random-deadline table.
//
// A cancel in that shape reaches a timer nothing has touched since it was
// armed: with a million timers the object is in neither the cache nor the TLB,
// and on a VM the page walk is itself a chain of misses. Whether such misses
// cost their full latency each depends on whether the processor can overlap
// one cancel's miss with the next cancel's, which it can only do while the
// first cancel's remaining work still fits in its reorder window. These two
// loops bound it on the same layout and in the same order as the workload:
// one where the reads overlap freely, one where each read's address depends
// on the value the previous read returned, so that none overlaps.
#include "timer_bench.hpp"

#include <nanorun/steady_timer.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

namespace tbench {

namespace {

// Stands for a timer object: the first word is what a cancel reads.
struct timer_like
{
  unsigned char bytes[sizeof(nanorun::steady_timer)];
};
// Stands for the wait's operation, allocated right after its timer.
struct op_like
{
  unsigned char bytes[96];
};

// Read by the dependent loop to form `carry & zero`, always 0; volatile, so
// the compiler cannot see that the dependency is a no-op and drop it.
volatile std::uint64_t zero_mask = 0;

double ns_per(std::chrono::steady_clock::duration d, std::size_t n)
{
  return std::chrono::duration<double, std::nano>(d).count() / static_cast<double>(n ? n : 1);
}

} // namespace

memory_reference measure_memory_reference(std::size_t timers)
{
  // The workload's layout: one owner vector of unique_ptr, each timer
  // followed by its operation in the same heap.
  std::vector<std::unique_ptr<timer_like>> objects;
  std::vector<std::unique_ptr<op_like>> ops;
  objects.reserve(timers);
  ops.reserve(timers);
  for (std::size_t i = 0; i < timers; ++i)
  {
    objects.push_back(std::make_unique<timer_like>());
    std::memset(objects.back()->bytes, 0, sizeof objects.back()->bytes);
    ops.push_back(std::make_unique<op_like>());
    std::memset(ops.back()->bytes, 0, sizeof ops.back()->bytes);
  }
  // Two disjoint random halves, so that neither loop finds what the other
  // brought into the cache.
  std::mt19937_64 rng(3);
  std::vector<std::uint32_t> order(timers);
  for (std::size_t i = 0; i < timers; ++i)
    order[i] = static_cast<std::uint32_t>(i);
  std::shuffle(order.begin(), order.end(), rng);
  const std::size_t half = timers / 2;

  memory_reference out;
  using clock = std::chrono::steady_clock;
  // The dependent loop first: the two halves share the vector of pointers,
  // whose lines the first loop leaves in the cache for the second, and the
  // dependent figure is the one the report uses.
  const std::uint64_t z = zero_mask;
  std::uint64_t carry = 0;
  auto t0 = clock::now();
  for (std::size_t i = half; i < timers; ++i)
    carry = objects[order[i] + (carry & z)]->bytes[0];
  auto t1 = clock::now();
  out.dependent_ns = ns_per(t1 - t0, timers - half);

  std::uint64_t sum = 0;
  t0 = clock::now();
  for (std::size_t i = 0; i < half; ++i)
    sum += objects[order[i]]->bytes[0];
  t1 = clock::now();
  out.independent_ns = ns_per(t1 - t0, half);
  out.checksum = sum + carry; // keeps both loops observable
  return out;
}

} // namespace tbench
