// Facts about the machine and the build, printed in every benchmark header.
#pragma once

#include <string>

namespace bench {

/// The "model name" line of /proc/cpuinfo.
std::string cpu_model();

/// The compiler and its version.
std::string compiler();

/// Nanoseconds for one round trip of a cache line between two threads, each
/// spinning on its own core: the cost of handing work (and the memory it
/// touches) from one worker to another right now. Median of `bursts` bursts
/// of up to `trips` round trips, each burst capped at 20 ms; negative with
/// fewer than two cores, where two spinning threads would share one.
///
/// Why it is printed: on a VM the host may move a vCPU between physical cores,
/// or load the core next to ours, at any time. On the 2-vCPU VM this was
/// written on, the figure switched between about 70-170 ns and 420-600 ns,
/// sometimes between two runs a second apart, and a two-worker spawn
/// fan-out's rate followed it by up to 3x. Single-threaded peers hand nothing
/// across, although their rates sometimes moved with it too.
double cross_core_round_trip_ns(unsigned trips = 4000, unsigned bursts = 5);

/// /proc/loadavg's 1-minute load average, or all three ("?" if unavailable).
std::string load_average(bool all_three = false);

} // namespace bench
