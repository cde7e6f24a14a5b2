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
// on the value the previous read returned, so that none overlaps; a third
// shows where overlap stops, with a chain of work after each read.
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
  // Three disjoint random thirds, so that no loop finds what another brought
  // into the cache (but see below on the vector of pointers).
  std::mt19937_64 rng(3);
  std::vector<std::uint32_t> order(timers);
  for (std::size_t i = 0; i < timers; ++i)
    order[i] = static_cast<std::uint32_t>(i);
  std::shuffle(order.begin(), order.end(), rng);
  const std::size_t third = timers / 3;

  memory_reference out;
  using clock = std::chrono::steady_clock;
  // The dependent loop first: the loops share the vector of pointers, whose
  // lines each leaves in the cache for the next, and the dependent figure is
  // the one the report uses.
  const std::uint64_t z = zero_mask;
  std::uint64_t carry = 0;
  auto t0 = clock::now();
  for (std::size_t i = 0; i < third; ++i)
    carry = objects[order[i] + (carry & z)]->bytes[0];
  auto t1 = clock::now();
  out.dependent_ns = ns_per(t1 - t0, third);

  // Independent reads, each followed by a chain of work on the value it
  // returned, as a cancel works on its timer: how long a chain the processor
  // can hold while it already starts the next read.
  std::uint64_t worked = 0;
  t0 = clock::now();
  for (std::size_t i = third; i < 2 * third; ++i)
  {
    std::uint64_t x = objects[order[i]]->bytes[0];
    for (int k = 0; k < memory_reference::work_steps; ++k)
    {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
#if defined(__GNUC__)
      asm volatile("" : "+r"(x)); // one step at a time: no folding of the chain
#endif
    }
    worked += x;
  }
  t1 = clock::now();
  out.with_work_ns = ns_per(t1 - t0, third);

  std::uint64_t sum = 0;
  t0 = clock::now();
  for (std::size_t i = 2 * third; i < 3 * third; ++i)
    sum += objects[order[i]]->bytes[0];
  t1 = clock::now();
  out.independent_ns = ns_per(t1 - t0, third);
  out.checksum = sum + carry + worked; // keeps the loops observable
  return out;
}

} // namespace tbench
