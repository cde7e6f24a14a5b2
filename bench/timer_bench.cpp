// nanorun_timer_bench: nanorun's timers against boost::asio::steady_timer on
// io_context, in one process run (see README.md for the method).
//
//   nanorun_timer_bench [--runs N] [--quick] [--filter SUBSTR] [--peer SUBSTR]
//
// Each (workload, peer) cell runs N times on a freshly built context, in N
// rounds that each run every peer once, and each metric reports its median
// over the runs. A watchdog ends the program with
// exit code 2 if one run takes longer than 120 s, so a hang cannot stall CI.
// The exit code is 1 if a self-check failed, else 0: the timings and targets
// are informational and never fail the program.
#include "timer_bench.hpp"
#include "machine.hpp"
#include "watchdog.hpp"

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

namespace {

using namespace tbench;

constexpr double run_timeout_s = 120;

struct options
{
  int runs = 3;
  bool quick = false;
  std::string filter;
  std::string peer;
};

[[noreturn]] void usage(const char* argv0, int code)
{
  std::fprintf(code ? stderr : stdout,
               "usage: %s [--runs N] [--quick] [--filter SUBSTR] [--peer SUBSTR]\n"
               "  --runs N    runs per cell, median reported (default 3)\n"
               "  --quick     divide every workload size by 10 (smoke test)\n"
               "  --filter S  only workloads whose name contains S (arm+cancel, random, lateness, dense, sparse)\n"
               "  --peer S    only peers whose name contains S (others are reported as not run)\n",
               argv0);
  std::exit(code);
}

options parse(int argc, char** argv)
{
  options o;
  for (int i = 1; i < argc; ++i)
  {
    const std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc)
      o.runs = std::max(1, std::atoi(argv[++i]));
    else if (a == "--quick")
      o.quick = true;
    else if (a == "--filter" && i + 1 < argc)
      o.filter = argv[++i];
    else if (a == "--peer" && i + 1 < argc)
      o.peer = argv[++i];
    else if (a == "--help" || a == "-h")
      usage(argv[0], 0);
    else
      usage(argv[0], 64);
  }
  return o;
}

// The command line as a shell would take it back: arguments with spaces or
// quotes are single-quoted, so the report says exactly what was run.
std::string command_line(int argc, char** argv)
{
  std::string out;
  for (int i = 0; i < argc; ++i)
  {
    std::string a = argv[i];
    if (a.empty() || a.find_first_of(" \t\"'\\$*?;&|<>()") != std::string::npos)
    {
      std::string q = "'";
      for (char c : a)
        q += c == '\'' ? std::string("'\\''") : std::string(1, c);
      a = q + "'";
    }
    out += (i ? " " : "") + a;
  }
  return out;
}

// One run of one cell, reported on stderr as it ends.
sample run_once(const workload& w, const peer& p, std::size_t timers, int round, bench::watchdog& dog)
{
  const std::string what = w.name + " / " + p.name + " (run " + std::to_string(round) + ")";
  std::fprintf(stderr, "  %-58s", what.c_str());
  dog.arm(what);
  sample s;
  try
  {
    s = w.run(p, timers);
  }
  catch (const std::exception& e)
  {
    s.error = std::string("exception: ") + e.what();
  }
  dog.disarm();
  for (std::size_t m = 0; m < w.metrics.size() && m < s.values.size(); ++m)
    std::fprintf(stderr, " %s %.*f", w.metrics[m].name.c_str(), w.metrics[m].decimals, s.values[m]);
  std::fprintf(stderr, "\n");
  if (!s.error.empty())
    std::fprintf(stderr, "    ERROR: %s\n", s.error.c_str());
  if (!s.warning.empty())
    std::fprintf(stderr, "    warning: %s\n", s.warning.c_str());
  return s;
}

// A cell from its runs: each metric's median (or worst) over them.
cell finish_cell(const workload& w, const peer& p, const std::vector<sample>& runs)
{
  cell c{&p, {}, {}, {}};
  std::vector<std::vector<double>> per_metric(w.metrics.size());
  for (std::size_t r = 0; r < runs.size(); ++r)
  {
    const sample& s = runs[r];
    for (std::size_t m = 0; m < w.metrics.size() && m < s.values.size(); ++m)
      per_metric[m].push_back(s.values[m]);
    if (!s.error.empty())
      c.errors.push_back("run " + std::to_string(r + 1) + ": " + s.error);
    if (!s.warning.empty())
      c.warnings.push_back("run " + std::to_string(r + 1) + ": " + s.warning);
  }
  for (std::size_t m = 0; m < w.metrics.size(); ++m)
  {
    const auto& v = per_metric[m];
    if (v.empty())
      c.values.push_back(0);
    else
      c.values.push_back(w.metrics[m].worst_of_runs ? *std::max_element(v.begin(), v.end()) : median(v));
  }
  return c;
}

} // namespace

int main(int argc, char** argv)
{
  const options opt = parse(argc, argv);
#ifdef __GLIBC__
  // Keep freed heap memory mapped, so that the arm+cancel workers' pre-faulted
  // arenas stay faulted in (see prefault_heap in timer_bench_workloads.cpp).
  // The trim threshold stops a heap from shrinking; glibc unmaps a thread
  // arena's emptied 64 MiB heaps unless they are within the top pad. Setting
  // either also fixes the mmap threshold at its default (128 KiB).
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
  mallopt(M_TOP_PAD, 64 << 20);
#endif
  run_info info{command_line(argc, argv), std::max(1u, std::thread::hardware_concurrency()), bench::load_average(true),
                opt.runs, opt.quick, opt.filter};
  std::fprintf(stderr, "%s\ncores: %u, load average: %s\n", info.command_line.c_str(), info.cores,
               info.load_at_start.c_str());

  const std::vector<workload> workloads = make_workloads();
  bench::watchdog dog(run_timeout_s);
  std::vector<row_set> rows;
  std::vector<memory_reference> memory; // one per round of the random-deadline workload
  for (const auto& w : workloads)
  {
    if (!opt.filter.empty() && w.name.find(opt.filter) == std::string::npos)
      continue;
    const std::size_t timers = opt.quick ? std::max<std::size_t>(w.timers / 10, 1) : w.timers;
    std::fprintf(stderr, "%s (%zu timers per run)\n", w.name.c_str(), timers);
    row_set r{&w, timers, {}};
    const auto& all = peers();
    auto chosen = [&](const peer& p) { return opt.peer.empty() || p.name.find(opt.peer) != std::string::npos; };
    // Rounds, not blocks: every peer runs once per round, so that a slow
    // spell of the machine falls on all peers alike.
    std::vector<std::vector<sample>> runs(all.size());
    for (int round = 1; round <= opt.runs; ++round)
    {
      for (std::size_t k = 0; k < all.size(); ++k)
        if (chosen(all[k]))
          runs[k].push_back(run_once(w, all[k], timers, round, dog));
      if (w.name == arm_cancel_random_name)
        memory.push_back(measure_memory_reference(timers));
    }
    for (std::size_t k = 0; k < all.size(); ++k)
      r.cells.push_back(chosen(all[k]) ? finish_cell(w, all[k], runs[k]) : cell{&all[k], {}, {}, {}}); // "-"
    rows.push_back(std::move(r));
  }
  if (rows.empty())
  {
    std::fprintf(stderr, "no workload matches --filter %s\n", opt.filter.c_str());
    return 64;
  }

  print_report(std::cout, info, rows, memory);
  std::cout.flush();
  for (const auto& r : rows)
    for (const auto& c : r.cells)
      if (!c.errors.empty())
      {
        std::cerr << "ERROR: at least one self-check failed (see the report)\n";
        return 1;
      }
  return 0;
}
