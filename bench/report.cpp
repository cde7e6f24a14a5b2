// Printing of results: everything the benchmark writes to stdout, in Markdown.
//
// Every rate is the median of the cell's runs. Ratios divide a row's rate by
// the rate of io_context(1) (resp. io_context run by every core) on the row's
// baseline workload: the same workload unless the workload names another
// (nanorun::spawn rows compare with co_spawn fan-out).
#include "report.hpp"
#include "machine.hpp"

#include <boost/version.hpp>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <thread>

namespace bench {
namespace {

std::string fmt(const char* f, double v)
{
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

} // namespace

unsigned core_count() noexcept
{
  const unsigned n = std::thread::hardware_concurrency();
  return n ? n : 1;
}

std::string peer_name(peer_id p)
{
  const std::string n = std::to_string(core_count());
  switch (p)
  {
  case peer_id::asio_io_1:
    return "io_context(1), 1 thread";
  case peer_id::asio_io_n:
    return "io_context, " + n + " threads";
  case peer_id::asio_pool_n:
    return "asio::thread_pool(" + n + ")";
  case peer_id::nanorun_1:
    return "nanorun, 1 thread";
  case peer_id::nanorun_n:
    return "nanorun, " + n + " threads";
  case peer_id::nanorun_1_nometrics:
    return "nanorun (metrics off), 1 thread";
  case peer_id::nanorun_n_nometrics:
    return "nanorun (metrics off), " + n + " threads";
  }
  return "?";
}

void report::print_header(std::ostream& os, const options& opt) const
{
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S", std::localtime(&now));
  os << "# nanorun_bench\n\n"
     << date << " | CPU: " << cpu_model() << " | cores: " << core_count() << " | Boost "
     << BOOST_VERSION / 100000 << '.' << BOOST_VERSION / 100 % 1000 << '.' << BOOST_VERSION % 100 << " | "
     << compiler() << " | load average (1 min): " << opt.load_at_start
     << " before, " << load_average() << " after\n\n"
     << "Median of " << opt.runs << " run(s) per cell" << (opt.quick ? ", --quick (sizes / 10)" : "")
     << (opt.filter.empty() ? "" : ", --filter " + opt.filter)
     << (opt.peer_filter.empty() ? "" : ", --peer " + opt.peer_filter) << ", fan-out batch " << fanout_batch
     << (opt.fresh ? ", --fresh (each run in a new process: its heap grows from nothing, as in a program that "
                     "does the work once)"
                   : "")
     << ". Ratios: rate / rate of the io_context peer "
     << "on the same workload (nanorun::spawn rows: on co_spawn fan-out). allocs/op: heap allocations "
     << "in the timed region per operation. futex/op: futex(2) calls per operation, counted by the kernel "
     << "(each wake-up of a parked thread is one; \"-\" where the kernel refused the counter). cores busy: process CPU time / wall time in the timed region "
     << "(includes a cross-thread producer). x-core ns: the round trip of a cache line between two threads, "
     << "measured just before the median run (see the last section).\n\n";
}

const row_set* report::find(const std::string& workload) const
{
  for (const auto& r : rows_)
    if (r.w->name == workload)
      return &r;
  return nullptr;
}

std::optional<double> report::rate(const std::string& workload, peer_id p) const
{
  if (const row_set* r = find(workload))
    for (const auto& c : r->cells)
      if (c.peer == p && c.median.error.empty())
        return c.median.rate();
  return std::nullopt;
}

std::optional<double> report::ratio(const row_set& r, const cell& c, peer_id base) const
{
  if (!c.median.error.empty())
    return std::nullopt;
  const auto b = rate(r.w->baseline.empty() ? r.w->name : r.w->baseline, base);
  if (!b || *b <= 0)
    return std::nullopt;
  return c.median.rate() / *b;
}

void report::print_table(std::ostream& os) const
{
  const std::string n = std::to_string(core_count());
  os << "| workload | peer | rate | vs io_context(1) | vs io_context, " << n
     << " threads | allocs/op | futex/op | cores busy | x-core ns |\n"
     << "|---|---|--:|--:|--:|--:|--:|--:|--:|\n";
  for (const auto& r : rows_)
    for (const auto& c : r.cells)
    {
      os << "| " << r.w->name << " | " << peer_name(c.peer) << " | ";
      if (!c.median.error.empty())
      {
        os << "**ERROR: " << c.median.error << "** | | | | | | |\n";
        continue;
      }
      os << fmt("%.2f", c.median.rate() / 1e6) << " M " << r.w->unit << "/s"
         << (c.median.warning.empty() ? "" : " (!)") << " | ";
      for (peer_id base : {peer_id::asio_io_1, peer_id::asio_io_n})
      {
        const auto x = ratio(r, c, base);
        os << (x ? fmt("%.2fx", *x) : std::string("-")) << " | ";
      }
      os << fmt("%.2f", static_cast<double>(c.median.allocs) / static_cast<double>(c.median.ops)) << " | "
         << (c.median.futexes < 0 ? std::string("-")
                                  : fmt("%.3f", static_cast<double>(c.median.futexes) / static_cast<double>(c.median.ops)))
         << " | " << fmt("%.2f", c.median.cpu_seconds / c.median.seconds) << " | "
         << (c.median.cross_core_ns < 0 ? std::string("-") : fmt("%.0f", c.median.cross_core_ns)) << " |\n";
    }
  os << '\n';
  bool any = false;
  for (const auto& r : rows_)
    for (const auto& c : r.cells)
      if (!c.median.warning.empty())
      {
        os << (any ? "" : "Warnings (rows marked (!)):\n\n") << "- " << r.w->name << ", " << peer_name(c.peer)
           << ": " << c.median.warning << '\n';
        any = true;
      }
  if (any)
    os << '\n';
}

void report::print_strand_cost(std::ostream& os) const
{
  const char* rows[] = {"nanorun::spawn fan-out, detached", "nanorun::spawn fan-out, joined"};
  bool any = false;
  for (const char* name : rows)
    if (find(name))
      any = true;
  if (!any)
    return;
  os << "## What nanorun::spawn's per-task strand costs\n\n"
     << "| row | peer | vs io_context(1) co_spawn | vs io_context(1) co_spawn(strand) "
     << "| vs same peer co_spawn | vs same peer co_spawn(strand) |\n|---|---|--:|--:|--:|--:|\n";
  auto show = [&](std::optional<double> a, std::optional<double> b) {
    return a && b && *b > 0 ? fmt("%.2fx", *a / *b) : std::string("-");
  };
  for (const char* name : rows)
    if (const row_set* r = find(name))
      for (const auto& c : r->cells)
      {
        const auto x = rate(name, c.peer);
        os << "| " << name << " | " << peer_name(c.peer) << " | "
           << show(x, rate("co_spawn fan-out", peer_id::asio_io_1)) << " | "
           << show(x, rate("co_spawn(strand) fan-out", peer_id::asio_io_1)) << " | "
           << show(x, rate("co_spawn fan-out", c.peer)) << " | "
           << show(x, rate("co_spawn(strand) fan-out", c.peer)) << " |\n";
      }
  os << '\n';
}

void report::print_runs(std::ostream& os) const
{
  os << "## Every run, and the cross-core round trip before it\n\n"
     << "Rate of each counted run in order (M/s), each with the round trip of a cache line between two spinning "
     << "threads measured just before it (ns). A peer with more than one thread hands work and its memory "
     << "between cores, and pays that round trip; on a VM it changes when the host moves a vCPU.\n\n"
     << "| workload | peer | runs: M/s @ round-trip ns |\n|---|---|---|\n";
  for (const auto& r : rows_)
    for (const auto& c : r.cells)
    {
      os << "| " << r.w->name << " | " << peer_name(c.peer) << " |";
      for (std::size_t i = 0; i < c.rates.size(); ++i)
      {
        const double ns = i < c.cross_core_ns.size() ? c.cross_core_ns[i] : -1;
        os << ' ' << fmt("%.2f", c.rates[i] / 1e6) << " @ " << (ns < 0 ? std::string("-") : fmt("%.0f", ns))
           << (i + 1 < c.rates.size() ? "," : "");
      }
      os << " |\n";
    }
  os << '\n';
}

void report::print_targets(std::ostream& os) const
{
  const std::string n = std::to_string(core_count());
  os << "## Targets (informational)\n\n| target | measured | result |\n|---|--:|---|\n";
  auto check = [&](const std::string& workload, const std::string& base_workload, peer_id p, peer_id base,
                   double want) {
    const auto a = rate(workload, p);
    const auto b = rate(base_workload, base);
    os << "| " << workload << ": " << peer_name(p) << " >= " << fmt("%.1f", want) << "x " << peer_name(base)
       << (base_workload != workload ? " on " + base_workload : std::string()) << " | ";
    if (!a || !b || *b <= 0)
    {
      os << "- | n/a (not run) |\n";
      return;
    }
    const double x = *a / *b;
    os << fmt("%.2fx", x) << " | " << (x >= want ? "PASS" : "**MISS**") << " |\n";
  };
  check("post-chain K=64", "post-chain K=64", peer_id::nanorun_n, peer_id::asio_io_1, 1.6);
  check("post-chain K=64", "post-chain K=64", peer_id::nanorun_n, peer_id::asio_io_n, 10.0);
  check("post-chain K=1", "post-chain K=1", peer_id::nanorun_n, peer_id::asio_io_1, 0.9);
  for (const auto& r : rows_)
    check(r.w->name, r.w->baseline.empty() ? r.w->name : r.w->baseline, peer_id::nanorun_1, peer_id::asio_io_1,
          1.0);
  check("co_spawn fan-out", "co_spawn fan-out", peer_id::nanorun_n, peer_id::asio_io_1, 1.8);
  check("yield ping-pong", "yield ping-pong", peer_id::nanorun_n, peer_id::asio_io_1, 1.4);
  os << '\n';
}

bool report::any_error() const
{
  for (const auto& r : rows_)
    for (const auto& c : r.cells)
      if (!c.median.error.empty())
        return true;
  return false;
}

} // namespace bench
