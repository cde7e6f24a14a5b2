// SCHEDULE PERTURBATION: a seam for a test build, empty in every other.
//
// Races in a lock-free protocol live in windows of a few instructions: a
// producer between publishing its work and reading the idle word, a driver
// between giving up its role and handing it over, a canceller between
// unlinking a timer and publishing the new earliest deadline. Normal timing
// almost never stops a thread inside such a window, so a stress test can run
// for hours without meeting the interleaving that loses a wake-up.
//
// NANORUN_PERTURB_POINT() marks such a step: it sits next to each atomic
// operation of the park/notify protocol, the local and injector queues, the
// serial task queue, the timer queue and the reactor's descriptor states. In
// the perturbation build (cmake -DNANORUN_PERTURB=ON) each point may, by a
// draw from a per-thread generator, spin for a moment, yield the core or
// sleep for tens of microseconds, so that the windows open thousands of times
// a second. The generator of each thread is seeded from one process-wide
// seed (environment variable NANORUN_PERTURB_SEED, or set_perturb_seed()):
// the seed that made a run fail makes a replay take the same decisions at
// the same points of each thread (the threads' relative timing still varies,
// so a replay makes the failure likely, not certain). Without a seed the
// points do nothing, so the whole suite can run in that build unchanged.
//
// Portable: it only uses the standard library, so it lives in src/sys/ (which
// every layer may include) rather than in src/sys/<os>/.
#pragma once

#include <cstdint>

#ifndef NANORUN_PERTURB
#define NANORUN_PERTURB 0
#endif

#if NANORUN_PERTURB

namespace nanorun::sys {

// One perturbation point (see above). Never throws; safe on any thread.
void perturb_point() noexcept;

// Sets the process-wide seed and reseeds every thread's generator at its next
// point. 0 turns perturbation off.
void set_perturb_seed(std::uint64_t seed) noexcept;

// The current seed (0: off).
std::uint64_t perturb_seed() noexcept;

// What the points did since the process started.
struct perturb_counts
{
  std::uint64_t points = 0; // points passed while a seed was set
  std::uint64_t spins = 0;
  std::uint64_t yields = 0;
  std::uint64_t sleeps = 0;
};
perturb_counts perturb_totals() noexcept;

} // namespace nanorun::sys

#define NANORUN_PERTURB_POINT() ::nanorun::sys::perturb_point()

#else

#define NANORUN_PERTURB_POINT() static_cast<void>(0)

#endif
