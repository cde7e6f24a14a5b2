// nanorun_bench: nanorun against Boost.Asio's io_context and thread_pool, in
// one run, on the same workloads (see README.md for the method).
//
//   nanorun_bench [--runs N] [--quick] [--filter SUBSTR] [--peer SUBSTR] [--batch N] [--timeout SECONDS] [--fresh]
//
// Each (workload, peer) cell runs N times on a freshly built context, in N
// rounds that each run every peer once, after one warm-up run per peer that is
// not counted (none with --fresh, where each run is a new process); the
// median is reported. A watchdog ends the program (exit code 2) if one run
// takes longer than the timeout, so a hang cannot stall CI. The exit code is 1
// if a workload's self-check failed, else 0 (targets are informational).
#include "bench.hpp"
#include "futex_count.hpp"
#include "machine.hpp"
#include "report.hpp"
#include "watchdog.hpp"

#include <algorithm>
#include <climits>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#ifdef __GLIBC__
#include <malloc.h>
#endif
#if defined(__linux__)
#include <csignal>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

namespace {

using namespace bench;

[[noreturn]] void usage(const char* argv0, int code)
{
  std::fprintf(code ? stderr : stdout,
               "usage: %s [--runs N] [--quick] [--filter SUBSTR] [--peer SUBSTR] [--batch N] [--timeout SECONDS] [--fresh]\n"
               "  --runs N       runs per cell, median reported (default 3)\n"
               "  --quick        divide every workload size by 10 (smoke test)\n"
               "  --filter S     only workloads whose name contains S\n"
               "  --peer S       only peers whose name contains S (e.g. nanorun, \"1 thread\")\n"
               "  --batch N      spawns per batch in the fan-out workloads (default 1024)\n"
               "  --timeout S    abort if one run takes longer (default 120, --quick 20)\n"
               "  --fresh        each run in a new process (Linux), whose heap grows from nothing\n",
               argv0);
  std::exit(code);
}

options parse(int argc, char** argv)
{
  options o;
  for (int i = 1; i < argc; ++i)
  {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        usage(argv[0], 64);
      return argv[++i];
    };
    if (a == "--runs")
      o.runs = std::max(1, std::atoi(value().c_str()));
    else if (a == "--quick")
      o.quick = true;
    else if (a == "--filter")
      o.filter = value();
    else if (a == "--peer")
      o.peer_filter = value();
    else if (a == "--batch")
      fanout_batch = std::max<std::uint64_t>(1, std::strtoull(value().c_str(), nullptr, 10));
    else if (a == "--fresh")
    {
#if defined(__linux__)
      o.fresh = true;
#else
      std::fprintf(stderr, "--fresh needs fork(): Linux only\n");
      std::exit(64);
#endif
    }
    else if (a == "--timeout")
      o.timeout_s = std::atof(value().c_str());
    else if (a == "--help" || a == "-h")
      usage(argv[0], 0);
    else
      usage(argv[0], 64);
  }
  if (o.timeout_s <= 0)
    o.timeout_s = o.quick ? 20 : 120;
  return o;
}


measurement measure(const workload& w, peer_id p, std::uint64_t ops)
{
  measurement m;
  try
  {
    m = w.run(p, ops);
  }
  catch (const std::exception& e)
  {
    m.error = std::string("exception: ") + e.what();
  }
  return m;
}

#if defined(__linux__)
// --fresh: the run happens in a child process, forked while this process has
// no thread but the watchdog's, so that its heap starts from the parent's
// (which never ran a workload) and grows as a program's does the first time it
// spawns a million tasks. The child sends its measurement back as text.
std::string one_line(std::string s)
{
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

measurement measure_in_child(const workload& w, peer_id p, std::uint64_t ops)
{
  measurement m;
  int fds[2];
  if (::pipe(fds) != 0)
  {
    m.error = "--fresh: pipe failed";
    return m;
  }
  std::fflush(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0)
  {
    ::close(fds[0]);
    ::close(fds[1]);
    m.error = "--fresh: fork failed";
    return m;
  }
  if (pid == 0)
  {
    ::close(fds[0]);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL); // the watchdog ends the parent: end with it
    if (::getppid() != parent)
      ::_exit(3); // it ended before the line above took effect
    restart_futex_counting_after_fork();
    const measurement r = measure(w, p, ops);
    char head[256];
    std::snprintf(head, sizeof head, "%a %llu %llu %lld %a\n", r.seconds, static_cast<unsigned long long>(r.ops),
                  static_cast<unsigned long long>(r.allocs), static_cast<long long>(r.futexes), r.cpu_seconds);
    const std::string text = head + one_line(r.error) + "\n" + one_line(r.warning) + "\n";
    for (std::size_t done = 0; done < text.size();)
    {
      const ssize_t n = ::write(fds[1], text.data() + done, text.size() - done);
      if (n <= 0)
        break;
      done += static_cast<std::size_t>(n);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
    text.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  // Three lines: the numbers, the error, the warning (either may be empty).
  std::vector<std::string> lines;
  for (std::size_t at = 0; at < text.size();)
  {
    const std::size_t eol = text.find('\n', at);
    if (eol == std::string::npos)
      break;
    lines.push_back(text.substr(at, eol - at));
    at = eol + 1;
  }
  unsigned long long got_ops = 0, allocs = 0;
  long long futexes = -1;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || lines.size() != 3 ||
      std::sscanf(lines[0].c_str(), "%la %llu %llu %lld %la", &m.seconds, &got_ops, &allocs, &futexes,
                  &m.cpu_seconds) != 5)
  {
    m.error = WIFSIGNALED(status) ? "--fresh: the child process died of signal " + std::to_string(WTERMSIG(status))
                                  : "--fresh: the child process failed (exit code " +
                                        std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")";
    return m;
  }
  m.ops = got_ops;
  m.allocs = allocs;
  m.futexes = futexes;
  m.error = lines[1];
  m.warning = lines[2];
  return m;
}
#endif

// One run of one cell, reported on stderr as it ends.
measurement run_once(const workload& w, peer_id p, std::uint64_t ops, int round, bool fresh, watchdog& dog)
{
  const std::string what =
      w.name + " / " + peer_name(p) + (round ? " (run " + std::to_string(round) + ")" : " (warm-up, not counted)");
  std::fprintf(stderr, "  %-60s", what.c_str());
  dog.arm(what);
  // Outside the timed region, and (for --fresh) before the fork, whose child
  // must start with no thread but the watchdog's: the probe's thread is
  // joined by then.
  const double cross_core = cross_core_round_trip_ns();
#if defined(__linux__)
  measurement m = fresh ? measure_in_child(w, p, ops) : measure(w, p, ops);
#else
  (void)fresh;
  measurement m = measure(w, p, ops);
#endif
  dog.disarm();
  m.cross_core_ns = cross_core;
  if (m.error.empty())
    std::fprintf(stderr, " %9.2f M/s  %.2f allocs/op  %.3f futex/op  %.2f cores busy  x-core %.0f ns%s%s\n",
                 m.rate() / 1e6,
                 static_cast<double>(m.allocs) / static_cast<double>(m.ops ? m.ops : 1),
                 m.futexes < 0 ? -1.0 : static_cast<double>(m.futexes) / static_cast<double>(m.ops ? m.ops : 1),
                 m.seconds > 0 ? m.cpu_seconds / m.seconds : 0.0, m.cross_core_ns,
                 m.warning.empty() ? "" : "  warning: ",
                 m.warning.c_str());
  else
    std::fprintf(stderr, " ERROR: %s\n", m.error.c_str());
  return m;
}

// A cell from its runs: a failed run poisons it; otherwise the median by rate.
cell finish_cell(peer_id p, std::vector<measurement> ms)
{
  cell c{p, {}, {}, {}};
  for (auto& m : ms)
  {
    c.rates.push_back(m.rate());
    c.cross_core_ns.push_back(m.cross_core_ns);
  }
  for (auto& m : ms)
    if (!m.error.empty())
    {
      c.median = m;
      return c;
    }
  std::sort(ms.begin(), ms.end(), [](const measurement& a, const measurement& b) { return a.rate() < b.rate(); });
  c.median = ms[ms.size() / 2];
  for (auto& m : ms)
    if (c.median.warning.empty() && !m.warning.empty())
      c.median.warning = m.warning;
  return c;
}

} // namespace

int main(int argc, char** argv)
{
  options opt = parse(argc, argv);
  opt.load_at_start = load_average();
#ifdef __GLIBC__
  // Warm runs measure a steady state: memory a run frees stays mapped for the
  // next (each peer's threads are new and take over an exited thread's arena;
  // by default glibc trims a heap's free top and unmaps emptied 64 MiB heaps,
  // and the next run faults them in again, up to 180k faults for a fan-out
  // holding a million children). --fresh measures the other case, with
  // glibc's defaults.
  if (!opt.fresh)
  {
    mallopt(M_TRIM_THRESHOLD, INT_MAX);
    mallopt(M_TOP_PAD, 64 << 20);
  }
#endif
  // Before any thread exists: see futex_count.hpp.
  if (!start_futex_counting())
    std::fprintf(stderr, "futex counting unavailable (perf tracepoint syscalls:sys_enter_futex); futex/op shows -\n");

  std::vector<workload> workloads;
  add_post_workloads(workloads);
  add_coro_workloads(workloads);

  watchdog dog(opt.timeout_s);
  std::vector<row_set> rows;
  for (const auto& w : workloads)
  {
    if (!opt.filter.empty() && w.name.find(opt.filter) == std::string::npos)
      continue;
    const std::uint64_t ops = opt.quick ? std::max<std::uint64_t>(w.ops / 10, 1) : w.ops;
    std::fprintf(stderr, "%s (%llu %s per run)\n", w.name.c_str(), static_cast<unsigned long long>(ops),
                 w.unit.c_str());
    row_set r{&w, ops, {}};
    std::vector<peer_id> chosen;
    for (peer_id p : w.peers)
      if (opt.peer_filter.empty() || peer_name(p).find(opt.peer_filter) != std::string::npos)
        chosen.push_back(p);
    // Rounds, not blocks: every peer runs once per round, so that a slow
    // spell of the machine (this VM's speed drifts by 2x over minutes) falls
    // on all peers alike rather than on whichever ran through it.
    std::vector<std::vector<measurement>> runs(chosen.size());
    // Warm: a first run per peer, not counted, leaves the heap grown (and the
    // mallopt settings in main() keep it so) for the counted ones.
    // A warm-up that fails poisons its cell like a counted run.
    if (!opt.fresh)
      for (std::size_t k = 0; k < chosen.size(); ++k)
        if (measurement m = run_once(w, chosen[k], ops, 0, false, dog); !m.error.empty())
          runs[k].push_back(std::move(m));
    for (int i = 0; i < opt.runs; ++i)
      for (std::size_t k = 0; k < chosen.size(); ++k)
        runs[k].push_back(run_once(w, chosen[k], ops, i + 1, opt.fresh, dog));
    for (std::size_t k = 0; k < chosen.size(); ++k)
      r.cells.push_back(finish_cell(chosen[k], std::move(runs[k])));
    rows.push_back(std::move(r));
  }
  if (rows.empty())
  {
    std::fprintf(stderr, "no workload matches --filter %s\n", opt.filter.c_str());
    return 64;
  }

  const report rep(std::move(rows));
  rep.print_header(std::cout, opt);
  rep.print_table(std::cout);
  rep.print_strand_cost(std::cout);
  rep.print_runs(std::cout);
  rep.print_targets(std::cout);
  std::cout.flush();
  if (rep.any_error())
  {
    std::cerr << "ERROR: at least one workload failed its self-check (see the table)\n";
    return 1;
  }
  return 0;
}
