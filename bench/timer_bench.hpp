// nanorun_timer_bench: the vocabulary shared by its three sources.
//
// A workload is one measurement (arm/cancel cost, firing lateness); it reports
// several metrics per run (ns per insert, p99 lateness, ...). A peer is one
// execution context configuration. timer_bench.cpp runs every (workload, peer)
// cell --runs times and aggregates each metric over the runs;
// timer_bench_report.cpp prints the tables, the ratios and the targets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

namespace tbench {

struct peer
{
  std::string name;
  bool nanorun;     // nanorun::runtime, else boost::asio::io_context
  int hint;         // concurrency hint; 0: the context's default constructor
  unsigned threads; // threads that call run()
};

/// The four peers, in table order: io_context(1) x1, io_context x2,
/// nanorun::runtime(1) x1, nanorun::runtime(2) x2.
const std::vector<peer>& peers();

/// Indices into peers() of the two io_context peers the ratios divide by.
inline constexpr std::size_t io_1_thread = 0;
inline constexpr std::size_t io_2_threads = 1;

struct metric
{
  std::string name;  // column header, with its unit
  int decimals;      // printed precision
  bool compare;      // gets ratio columns against both io_context peers
  bool worst_of_runs; // aggregate by max (counts of defects), not by median
};

/// One run of one cell.
struct sample
{
  std::vector<double> values; // one per metric of the workload
  std::string error;          // non-empty: a self-check failed (exit code 1)
  std::string warning;        // non-empty: the numbers stand but are suspect
};

struct workload
{
  std::string name;    // also what --filter matches
  std::string what;    // one sentence on the method, printed under the heading
  std::size_t timers;  // full size (--quick divides by 10)
  std::vector<metric> metrics;
  std::function<sample(const peer&, std::size_t timers)> run;
};

// Workload names the targets section looks up.
inline const std::string arm_cancel_name = "arm+cancel";
inline const std::string arm_cancel_random_name = "random deadlines";
inline const std::string dense_name = "lateness dense";
inline const std::string sparse_name = "lateness sparse";

/// timer_bench_workloads.cpp.
std::vector<workload> make_workloads();

/// A (workload, peer) cell after aggregation over its runs.
struct cell
{
  const peer* who;
  std::vector<double> values;
  std::vector<std::string> errors;   // one entry per failed run
  std::vector<std::string> warnings; // likewise
};

struct row_set
{
  const workload* w;
  std::size_t timers; // per run, after --quick
  std::vector<cell> cells;
};

struct run_info
{
  std::string command_line;
  unsigned cores;
  std::string load_at_start; // /proc/loadavg's three averages
  int runs;
  bool quick;
  std::string filter;
};


/// The reads a random-order cancel cannot avoid, on the random-deadline
/// shape's layout and order (timer_bench_memory.cpp).
struct memory_reference
{
  double independent_ns = 0; // a read per timer, free to overlap
  double dependent_ns = 0;   // a read per timer whose address needs the previous read's value
  double with_work_ns = 0;   // independent reads, each followed by work_steps dependent steps on its value
  static constexpr int work_steps = 40;
  std::uint64_t checksum = 0;
};
memory_reference measure_memory_reference(std::size_t timers);

/// The median of v (the mean of the middle two for an even count); v is not empty.
double median(std::vector<double> v);

/// Writes the whole Markdown report to os (timer_bench_report.cpp).
void print_report(std::ostream& os, const run_info& info, const std::vector<row_set>& rows,
                  const std::vector<memory_reference>& memory);

} // namespace tbench
