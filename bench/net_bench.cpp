// nanorun_net_bench: TCP echo over 127.0.0.1 against eight server peers, in one
// process run (see README.md for the method).
//
//   nanorun_net_bench [--runs N] [--seconds S] [--only PEER] [--filter WORKLOAD]
//
// Each (workload, peer) cell runs N times, interleaved with the other peers'
// runs. A run starts a fresh server on an
// ephemeral port, runs the raw client against it on a thread of its own, shuts
// the server down and checks that no fd and no thread outlived it. Each metric
// reports its median over the runs. A watchdog ends the program with exit code
// 2 if a run hangs. The exit code is 1 if a self-check failed (a wrong or
// missing echo, a server error, a leak), 64 on a bad command line, else 0:
// the timings and targets never change it.
#include "net_bench.hpp"
#include "machine.hpp"
#include "watchdog.hpp"

#include <csignal>
#include <dirent.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <utility>
#include <thread>

namespace nbench {

const std::vector<peer>& peers()
{
  static const std::vector<peer> all = {
      {"raw epoll, 1 thread", "epoll(1)", [] { return make_epoll_server(1); }},
      {"raw epoll, 2 threads", "epoll(2)", [] { return make_epoll_server(2); }},
      {"io_context(1), 1 thread", "io(1)", [] { return make_asio_server(1); }},
      {"io_context(2), 2 threads", "io(2)", [] { return make_asio_server(2); }},
      {"nanorun::runtime(1), 1 worker", "nanorun(1)", [] { return make_nanorun_server(1); }},
      {"nanorun::runtime(2), 2 workers", "nanorun(2)", [] { return make_nanorun_server(2); }},
      {"nanorun::runtime(1) + Asio sockets, 1 worker", "nanorun(1)+asio", [] { return make_nanorun_asio_server(1); }},
      {"nanorun::runtime(2) + Asio sockets, 2 workers", "nanorun(2)+asio", [] { return make_nanorun_asio_server(2); }},
  };
  return all;
}

} // namespace nbench

namespace {

using namespace nbench;

constexpr double warmup_s = 0.25;

struct options
{
  int runs = 3;
  double seconds = 2;
  std::string only;
  std::string filter;
};

[[noreturn]] void usage(const char* argv0, int code)
{
  std::fprintf(code ? stderr : stdout,
               "usage: %s [--runs N] [--seconds S] [--only PEER] [--filter WORKLOAD]\n"
               "  --runs N     runs per cell, median reported (default 3)\n"
               "  --seconds S  measured duration of each run, after a 0.25 s warm-up (default 2)\n"
               "  --only S     only the peers whose name contains S (epoll, io_context, nanorun, \"Asio sockets\", \"2 threads\")\n"
               "  --filter S   only the workloads whose name contains S (ping-pong, 100)\n",
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
    else if (a == "--seconds" && i + 1 < argc)
      o.seconds = std::max(0.05, std::atof(argv[++i]));
    else if (a == "--only" && i + 1 < argc)
      o.only = argv[++i];
    else if (a == "--filter" && i + 1 < argc)
      o.filter = argv[++i];
    else if (a == "--help" || a == "-h")
      usage(argv[0], 0);
    else
      usage(argv[0], 64);
  }
  return o;
}

// The command line as a shell would take it back.
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

std::vector<workload> make_workloads()
{
  return {
      {ping_pong_name,
       "One connection; the client thread sends 64 bytes, blocks until the 64-byte echo is back, repeats. "
       "Latency: one steady_clock sample per round trip. `cores busy` counts the client thread too.",
       {{"round trips/s", 0, true}, {"p50 us", 1, false}, {"p99 us", 1, false}, {"cores busy", 2, false}},
       {epoll_1, io_2},
       [](unsigned short port, double seconds) { return run_ping_pong(port, warmup_s, seconds); }},
      {many_name,
       "100 connections, each with one 64-byte message in flight (send, wait for the echo, send the next), "
       "driven by one client thread on its own epoll loop. `cores busy` counts the client thread too.",
       {{"msgs/s", 0, true}, {"cores busy", 2, false}},
       {epoll_2, io_2},
       [](unsigned short port, double seconds) {
         return run_many_connections(port, many_connections, warmup_s, seconds);
       }},
  };
}

std::size_t count_entries(const char* dir)
{
  std::size_t n = 0;
  if (DIR* d = ::opendir(dir))
  {
    while (const ::dirent* e = ::readdir(d))
      n += e->d_name[0] != '.';
    ::closedir(d);
  }
  return n;
}

struct resources
{
  std::size_t fds;
  std::size_t threads;
  bool operator==(const resources&) const = default;
};

resources count_resources()
{
  return {count_entries("/proc/self/fd"), count_entries("/proc/self/task")};
}

// One run: a fresh server, the client on its own thread, a clean shutdown.
// nullopt: the peer was not built.
std::optional<sample> run_once(const workload& w, const peer& p, double seconds)
{
  const resources before = count_resources();
  sample s;
  {
    std::unique_ptr<server> srv;
    try
    {
      srv = p.make();
    }
    catch (const std::exception& e)
    {
      s.error = std::string("server did not start: ") + e.what();
      return s;
    }
    if (!srv)
      return std::nullopt;
    const unsigned short port = srv->port();
    std::thread client([&] { s = w.run(port, seconds); });
    client.join();
    const shutdown_result r = srv->shutdown();
    if (!r.error.empty())
      s.error += (s.error.empty() ? "server: " : "; server: ") + r.error;
    if (!r.warning.empty())
      s.warning += (s.warning.empty() ? "server: " : "; server: ") + r.warning;
  }
  // A joined thread can linger in /proc/self/task for a moment.
  resources after = count_resources();
  for (int i = 0; i < 20 && !(after == before); ++i)
  {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    after = count_resources();
  }
  if (after.fds != before.fds || after.threads != before.threads)
    s.error += (s.error.empty() ? "" : "; ") + std::string("leak after shutdown: fds ") + std::to_string(before.fds) +
               " -> " + std::to_string(after.fds) + ", threads " + std::to_string(before.threads) + " -> " +
               std::to_string(after.threads);
  return s;
}

// /proc/stat's aggregate line: {steal, total} in clock ticks, or {0, 0}.
std::pair<double, double> cpu_steal_ticks()
{
  std::FILE* f = std::fopen("/proc/stat", "r");
  if (!f)
    return {0, 0};
  unsigned long long v[8] = {};
  const int n = std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
                            &v[5], &v[6], &v[7]);
  std::fclose(f);
  if (n != 8)
    return {0, 0};
  double total = 0;
  for (auto x : v)
    total += static_cast<double>(x);
  return {static_cast<double>(v[7]), total};
}

double median(std::vector<double> v)
{
  std::sort(v.begin(), v.end());
  const std::size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : (v[h - 1] + v[h]) / 2;
}

// One run of one cell, added to the cell; false once the cell is done for
// (not built, or a self-check failed: its remaining runs are skipped).
bool run_into(cell& c, std::vector<std::vector<double>>& per_metric, const workload& w, int r, const options& opt,
              bench::watchdog& dog)
{
  const peer& p = *c.who;
  const std::string what = w.name + " / " + p.name + " (run " + std::to_string(r) + ")";
  std::fprintf(stderr, "  %-62s", what.c_str());
  dog.arm(what);
  const std::optional<sample> ran = run_once(w, p, opt.seconds);
  dog.disarm();
  if (!ran)
  {
    std::fprintf(stderr, " nanorun: not built yet\n");
    c.built = false;
    return false;
  }
  const sample& s = *ran;
  for (std::size_t m = 0; m < w.metrics.size() && m < s.values.size(); ++m)
  {
    std::fprintf(stderr, " %s %.*f", w.metrics[m].name.c_str(), w.metrics[m].decimals, s.values[m]);
    per_metric[m].push_back(s.values[m]);
  }
  std::fprintf(stderr, "\n");
  if (!s.warning.empty())
  {
    std::fprintf(stderr, "    warning: %s\n", s.warning.c_str());
    c.warnings.push_back("run " + std::to_string(r) + ": " + s.warning);
  }
  if (!s.error.empty())
  {
    std::fprintf(stderr, "    ERROR: %s (skipping this cell's remaining runs)\n", s.error.c_str());
    c.errors.push_back("run " + std::to_string(r) + ": " + s.error);
    return false;
  }
  return true;
}

// Every cell of one workload. The runs are interleaved (run 1 of every peer,
// then run 2 of every peer, ...) so that a slow drift of the machine, common
// on a VM, spreads over all peers instead of favouring whichever ran first.
row_set run_workload(const workload& w, const options& opt, bench::watchdog& dog)
{
  row_set rs{&w, {}};
  std::vector<std::vector<std::vector<double>>> per_metric;
  std::vector<bool> active;
  for (const peer& p : peers())
  {
    const bool selected = opt.only.empty() || p.name.find(opt.only) != std::string::npos;
    rs.cells.push_back(cell{&p, selected, true, {}, {}, {}, {}});
    per_metric.emplace_back(w.metrics.size());
    active.push_back(selected);
  }
  for (int r = 1; r <= opt.runs; ++r)
    for (std::size_t i = 0; i < rs.cells.size(); ++i)
      if (active[i])
        active[i] = run_into(rs.cells[i], per_metric[i], w, r, opt, dog);
  for (std::size_t i = 0; i < rs.cells.size(); ++i)
    for (const auto& v : per_metric[i])
    {
      const double mid = v.empty() ? 0 : median(v);
      rs.cells[i].values.push_back(mid);
      rs.cells[i].spread.push_back(
          mid > 0 ? (*std::max_element(v.begin(), v.end()) - *std::min_element(v.begin(), v.end())) / mid : 0);
    }
  return rs;
}

} // namespace

int main(int argc, char** argv)
{
  const options opt = parse(argc, argv);
  // Belt and braces: every send here uses MSG_NOSIGNAL, but a server that
  // wrote to a reset connection without it would otherwise kill the program.
  std::signal(SIGPIPE, SIG_IGN);

  run_info info{command_line(argc, argv),
                std::max(1u, std::thread::hardware_concurrency()),
                bench::load_average(true),
                opt.runs,
                opt.seconds,
                opt.filter,
                opt.only};
  std::fprintf(stderr, "%s\ncores: %u, load average: %s\n", info.command_line.c_str(), info.cores,
               info.load_at_start.c_str());

  const auto steal0 = cpu_steal_ticks();
  const std::vector<workload> workloads = make_workloads();
  // A run is warm-up + measurement + at most a few 5 s grace periods.
  bench::watchdog dog(std::max(60.0, 3 * opt.seconds + 30));
  std::vector<row_set> rows;
  for (const auto& w : workloads)
  {
    if (!opt.filter.empty() && w.name.find(opt.filter) == std::string::npos)
      continue;
    std::fprintf(stderr, "%s\n", w.name.c_str());
    rows.push_back(run_workload(w, opt, dog));
  }
  if (rows.empty())
  {
    std::fprintf(stderr, "no workload matches --filter %s\n", opt.filter.c_str());
    return 64;
  }

  const auto steal1 = cpu_steal_ticks();
  if (steal1.second > steal0.second)
    info.steal = (steal1.first - steal0.first) / (steal1.second - steal0.second);
  print_report(std::cout, info, rows);
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
