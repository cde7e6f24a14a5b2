// Shared vocabulary of the benchmark: peers, workloads, measurements.
//
// A workload is one scenario (e.g. "post-chain K=64"); a peer is one execution
// context configuration (io_context run by one thread, nanorun run by all
// cores, ...). main.cpp runs every (workload, peer) cell several times and
// report.cpp prints medians and ratios.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace bench {

enum class peer_id
{
  asio_io_1,   // boost::asio::io_context(1), run by 1 thread
  asio_io_n,   // boost::asio::io_context (default hint), run by every core
  asio_pool_n, // boost::asio::thread_pool with every core
  nanorun_1,   // nanorun::runtime(1), run by 1 thread
  nanorun_n,   // nanorun::runtime(n), run by every core
  // The same two with runtime::enable_metrics(false): the metrics' overhead,
  // side by side (the post workloads only).
  nanorun_1_nometrics,
  nanorun_n_nometrics,
};

inline constexpr peer_id all_peers[] = {peer_id::asio_io_1, peer_id::asio_io_n, peer_id::asio_pool_n,
                                        peer_id::nanorun_1, peer_id::nanorun_n};
inline constexpr peer_id nanorun_peers[] = {peer_id::nanorun_1, peer_id::nanorun_n};
inline constexpr peer_id metrics_off_peers[] = {peer_id::nanorun_1_nometrics, peer_id::nanorun_n_nometrics};

/// Threads used by the "every core" peers.
unsigned core_count() noexcept;

/// Display name of a peer, e.g. "io_context(1) ×1".
std::string peer_name(peer_id p);

/// One timed execution of one cell.
struct measurement
{
  double seconds = 0;
  std::uint64_t ops = 0;    // operations performed (handlers, spawns, switches)
  std::uint64_t allocs = 0; // heap allocations during the timed region
  std::int64_t futexes = -1; // futex(2) calls during the timed region; -1: not counted
  double cpu_seconds = 0;   // user + system CPU time of the process during the timed region
  double cross_core_ns = -1; // cross_core_round_trip_ns() just before the run (machine.hpp); -1: not measured
  std::string error;        // non-empty: the workload's self-check failed
  std::string warning;      // non-empty: the result stands but is suspect (e.g. unfair yield)

  double rate() const { return seconds > 0 ? static_cast<double>(ops) / seconds : 0; }
};

struct workload
{
  std::string name;     // also what --filter matches
  std::string unit;     // "handlers", "spawns", "switches"
  std::string baseline; // workload whose io_context rows the ratios use; empty: this one
  std::uint64_t ops;    // full-size operation count (--quick divides by 10)
  std::vector<peer_id> peers;
  std::function<measurement(peer_id, std::uint64_t ops)> run;
};

/// Spawns per batch in the fan-out workloads (--batch); see workloads_coro.cpp.
extern std::uint64_t fanout_batch;

/// workloads_post.cpp: post-chain K=1/2/64 and cross-thread post.
void add_post_workloads(std::vector<workload>& out);
/// workloads_coro.cpp: co_spawn / nanorun::spawn fan-out and yield ping-pong.
void add_coro_workloads(std::vector<workload>& out);

} // namespace bench
