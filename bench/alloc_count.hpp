// Heap-allocation counter for the benchmark.
//
// alloc_count.cpp replaces the global operator new/delete for the whole
// program, so every allocation (ours, Asio's, nanorun's) is counted. The
// tables report allocations per operation: evidence for (or against)
// "allocation-free posting in the steady state".
#pragma once

#include <cstdint>

namespace bench {

/// Number of calls to any global operator new so far, summed over all threads.
/// Exact once the threads that allocated have been joined (or are quiescent).
std::uint64_t allocations() noexcept;

} // namespace bench
