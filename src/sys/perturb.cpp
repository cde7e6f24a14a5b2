// The perturbation build's points (see perturb.hpp). Compiled only into that
// build.
#include "sys/perturb.hpp"

#include <nanorun/detail/cpu_relax.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace nanorun::sys {

namespace {

// The seed and its generation: a thread whose generator belongs to an older
// generation reseeds at its next point. Relaxed throughout: a point that sees
// the new seed a little late only perturbs with the old one once more.
std::atomic<std::uint64_t> global_seed{0};
std::atomic<std::uint32_t> generation{0};
std::atomic<std::uint32_t> threads_seen{0};

// Relaxed counters, for the report at exit and for tests.
std::atomic<std::uint64_t> n_points{0};
std::atomic<std::uint64_t> n_spins{0};
std::atomic<std::uint64_t> n_yields{0};
std::atomic<std::uint64_t> n_sleeps{0};

struct thread_generator
{
  std::uint32_t generation = ~0u;
  std::uint64_t state = 0;
};
thread_local thread_generator this_thread_generator;

std::uint64_t splitmix(std::uint64_t x) noexcept
{
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Reads NANORUN_PERTURB_SEED once, before main(), and reports what the points
// did when the process exits (the perturbation driver prints it per seed).
struct from_environment
{
  from_environment()
  {
    if (const char* s = std::getenv("NANORUN_PERTURB_SEED"))
    {
      const std::uint64_t seed = std::strtoull(s, nullptr, 10);
      if (seed != 0)
        set_perturb_seed(seed);
    }
  }
  ~from_environment()
  {
    if (const std::uint64_t seed = global_seed.load(std::memory_order_relaxed))
    {
      const perturb_counts c = perturb_totals();
      std::fprintf(stderr,
                   "perturbation: seed %llu, %llu points, %llu spins, %llu yields, %llu sleeps, %u threads\n",
                   static_cast<unsigned long long>(seed), static_cast<unsigned long long>(c.points),
                   static_cast<unsigned long long>(c.spins), static_cast<unsigned long long>(c.yields),
                   static_cast<unsigned long long>(c.sleeps), threads_seen.load(std::memory_order_relaxed));
    }
  }
} environment_seed;

} // namespace

void set_perturb_seed(std::uint64_t seed) noexcept
{
  global_seed.store(seed, std::memory_order_relaxed);
  generation.fetch_add(1, std::memory_order_relaxed);
  threads_seen.store(0, std::memory_order_relaxed);
}

std::uint64_t perturb_seed() noexcept { return global_seed.load(std::memory_order_relaxed); }

perturb_counts perturb_totals() noexcept
{
  return {n_points.load(std::memory_order_relaxed), n_spins.load(std::memory_order_relaxed),
          n_yields.load(std::memory_order_relaxed), n_sleeps.load(std::memory_order_relaxed)};
}

void perturb_point() noexcept
{
  const std::uint64_t seed = global_seed.load(std::memory_order_relaxed);
  if (seed == 0)
    return;
  thread_generator& g = this_thread_generator;
  const std::uint32_t gen = generation.load(std::memory_order_relaxed);
  if (g.generation != gen)
  {
    // Threads are numbered in the order they first meet a point under this
    // seed: the same seed gives the first, second... thread the same stream.
    g.generation = gen;
    g.state = splitmix(seed ^ splitmix(threads_seen.fetch_add(1, std::memory_order_relaxed) + 1));
  }
  n_points.fetch_add(1, std::memory_order_relaxed);
  // xorshift64*
  g.state ^= g.state >> 12;
  g.state ^= g.state << 25;
  g.state ^= g.state >> 27;
  const std::uint64_t r = g.state * 0x2545f4914f6cdd1dull;
  // Most points do nothing: a protocol step that is perturbed every time
  // only runs in slow motion. The rest open the window at different widths:
  // a short spin (a delayed store on another core), a yield (preemption on
  // a loaded machine) and, rarely, a sleep (a thread descheduled for a
  // while, as on a VM whose vCPU is taken away).
  const unsigned pick = static_cast<unsigned>(r >> 56); // 0..255
  if (pick < 24)
  {
    n_spins.fetch_add(1, std::memory_order_relaxed);
    for (unsigned i = 0, n = 1 + static_cast<unsigned>((r >> 8) & 255); i < n; ++i)
      nanorun::detail::cpu_relax();
  }
  else if (pick < 40)
  {
    n_yields.fetch_add(1, std::memory_order_relaxed);
    std::this_thread::yield();
  }
  else if (pick == 255)
  {
    n_sleeps.fetch_add(1, std::memory_order_relaxed);
    std::this_thread::sleep_for(std::chrono::microseconds(10 + ((r >> 8) % 190)));
  }
}

} // namespace nanorun::sys
