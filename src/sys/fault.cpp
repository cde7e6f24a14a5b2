// The fault build's seam (see fault.hpp). Compiled only into that build.
#include "sys/fault.hpp"

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace nanorun::sys {

namespace {

struct call_state
{
  // Written under the mutex by set_fault(); read on every call. Relaxed: a
  // rule that takes effect a call late does no harm.
  std::atomic<int> error{0};
  std::atomic<unsigned> every{0};
  std::atomic<unsigned> per_mille{0};
  std::atomic<unsigned> short_per_mille{0};
  std::atomic<std::uint64_t> calls{0};
  std::atomic<std::uint64_t> injected{0};
};

std::array<call_state, static_cast<std::size_t>(fault_call::count)> states;
std::atomic<std::uint64_t> rng_state{0x9e3779b97f4a7c15ull};
std::mutex rules_mutex;

call_state& state_of(fault_call c) noexcept { return states[static_cast<std::size_t>(c)]; }

// One shared generator: the order in which threads draw from it varies, but a
// seed still fixes the sequence of draws.
unsigned draw_per_mille() noexcept
{
  std::uint64_t x = rng_state.fetch_add(0x9e3779b97f4a7c15ull, std::memory_order_relaxed);
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  x ^= x >> 31;
  return static_cast<unsigned>(x % 1000);
}

// NANORUN_FAULTS_EINTR=<per mille>: from the start of the process, that share
// of the transfers, accepts and wake-up writes is interrupted (EINTR, which
// the library must make invisible), so that whole suites run under it (the
// perturbation driver sets it). The generator is seeded from
// NANORUN_PERTURB_SEED when that is set, for a replay.
struct from_environment
{
  from_environment()
  {
    const char* rate = std::getenv("NANORUN_FAULTS_EINTR");
    if (!rate)
      return;
    const unsigned per_mille = static_cast<unsigned>(std::strtoul(rate, nullptr, 10));
    if (per_mille == 0 || per_mille > 1000)
      return;
    if (const char* seed = std::getenv("NANORUN_PERTURB_SEED"))
      seed_faults(std::strtoull(seed, nullptr, 10));
    for (fault_call c : {fault_call::recv, fault_call::send, fault_call::accept, fault_call::wake})
      set_fault(c, fault_rule{EINTR, 0, per_mille, 0});
  }
  ~from_environment()
  {
    const char* rate = std::getenv("NANORUN_FAULTS_EINTR");
    if (rate && std::strtoul(rate, nullptr, 10) != 0)
    {
      std::uint64_t n = 0;
      for (const call_state& s : states)
        n += s.injected.load(std::memory_order_relaxed);
      std::fprintf(stderr, "faults: %llu injected\n", static_cast<unsigned long long>(n));
    }
  }
};

} // namespace

void set_fault(fault_call call, const fault_rule& rule) noexcept
{
  std::lock_guard lock(rules_mutex);
  call_state& s = state_of(call);
  s.error.store(rule.error, std::memory_order_relaxed);
  s.every.store(rule.every, std::memory_order_relaxed);
  s.per_mille.store(rule.per_mille, std::memory_order_relaxed);
  s.short_per_mille.store(rule.short_per_mille, std::memory_order_relaxed);
  s.calls.store(0, std::memory_order_relaxed);
  s.injected.store(0, std::memory_order_relaxed);
}

void clear_faults() noexcept
{
  for (unsigned i = 0; i < static_cast<unsigned>(fault_call::count); ++i)
    set_fault(static_cast<fault_call>(i), {});
}

void seed_faults(std::uint64_t seed) noexcept { rng_state.store(seed, std::memory_order_relaxed); }

namespace {
// After the definitions it uses; before main().
from_environment environment_faults;
} // namespace

std::uint64_t faults_injected(fault_call call) noexcept
{
  return state_of(call).injected.load(std::memory_order_relaxed);
}

int fault_error(fault_call call) noexcept
{
  call_state& s = state_of(call);
  const int error = s.error.load(std::memory_order_relaxed);
  if (error == 0)
    return 0;
  const std::uint64_t n = s.calls.fetch_add(1, std::memory_order_relaxed) + 1;
  const unsigned every = s.every.load(std::memory_order_relaxed);
  const unsigned per_mille = s.per_mille.load(std::memory_order_relaxed);
  if ((every != 0 && n % every == 0) || (per_mille != 0 && draw_per_mille() < per_mille))
  {
    s.injected.fetch_add(1, std::memory_order_relaxed);
    return error;
  }
  return 0;
}

std::size_t fault_short(fault_call call, std::size_t n) noexcept
{
  call_state& s = state_of(call);
  const unsigned p = s.short_per_mille.load(std::memory_order_relaxed);
  if (p == 0 || n < 2 || draw_per_mille() >= p)
    return n;
  s.injected.fetch_add(1, std::memory_order_relaxed);
  // Anything from one byte to one short of the whole.
  return 1 + draw_per_mille() * (n - 1) / 1000;
}

} // namespace nanorun::sys
