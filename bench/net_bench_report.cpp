// nanorun_net_bench's report: everything it writes to stdout, in Markdown.
//
// A cell's value is the median of its runs. A ratio divides a row's rate by a
// base peer's rate on the same workload (raw epoll 1 thread and io_context 2
// threads for ping-pong; raw epoll 2 threads and io_context 2 threads for 100
// connections); rates are throughput, so above 1.00 is better.
#include "net_bench.hpp"
#include "machine.hpp"

#include <boost/version.hpp>

#include <cstdio>
#include <ctime>
#include <optional>
#include <ostream>

namespace nbench {
namespace {

std::string fmt(double v, int decimals)
{
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::size_t metric_index(const workload& w, const std::string& name)
{
  for (std::size_t i = 0; i < w.metrics.size(); ++i)
    if (w.metrics[i].name == name)
      return i;
  return w.metrics.size();
}

// A cell's value, if the cell ran and passed its self-checks.
std::optional<double> value_of(const row_set& r, std::size_t peer_index, std::size_t metric)
{
  if (peer_index >= r.cells.size() || metric >= r.w->metrics.size())
    return std::nullopt;
  const cell& c = r.cells[peer_index];
  if (!c.ran || !c.built || !c.errors.empty() || metric >= c.values.size())
    return std::nullopt;
  return c.values[metric];
}

std::optional<double> ratio(const row_set& r, std::size_t peer_index, std::size_t base_index, std::size_t metric)
{
  const auto v = value_of(r, peer_index, metric);
  const auto b = value_of(r, base_index, metric);
  if (!v || !b || *b <= 0)
    return std::nullopt;
  return *v / *b;
}

// Why a cell has no value.
std::string missing(const cell& c)
{
  if (!c.ran)
    return "not run (--only)";
  if (!c.built)
    return "nanorun: not built yet";
  return "self-check failed";
}

void print_header(std::ostream& os, const run_info& info)
{
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S", std::localtime(&now));
  os << "# nanorun_net_bench\n\n"
     << date << " | CPU: " << bench::cpu_model() << " | cores: " << info.cores << " | Boost " << BOOST_VERSION / 100000
     << '.' << BOOST_VERSION / 100 % 1000 << '.' << BOOST_VERSION % 100 << " | " << bench::compiler() << "\n\n"
     << "Command: `" << info.command_line << "`\n\n"
     << "Load average (1, 5, 15 min): " << info.load_at_start << " at start, " << bench::load_average(true)
     << " at end" << (info.steal < 0 ? std::string() : "; CPU steal time while it ran: " + fmt(100 * info.steal, 1) + " %")
     << ".\n\n"
     << "TCP echo of " << message_size << "-byte messages over 127.0.0.1; every server peer runs in this process, "
     << "one after another, against the same raw client (its own thread). Median of " << info.runs
     << " run(s) per cell, " << fmt(info.seconds, 2) << " s measured per run after a 0.25 s warm-up"
     << (info.filter.empty() ? "" : ", --filter " + info.filter) << (info.only.empty() ? "" : ", --only " + info.only)
     << ". Runs are interleaved across peers. Ratio columns: the row's rate / the named peer's rate on the same "
     << "workload; above 1.00 is better. `spread`: (slowest - fastest run) / median; a large spread means the "
     << "machine, not the peer, moved the number (rerun with more --runs).\n\n";
  if (!nanorun_sockets_built())
    os << "peers on nanorun's own sockets: not built yet (`<nanorun/ip/tcp.hpp>` did not exist when this program was compiled, "
       << "or it was compiled with -DNANORUN_NET_BENCH_WITHOUT_NANORUN).\n\n";
}

void print_table(std::ostream& os, const row_set& r)
{
  const workload& w = *r.w;
  os << "## " << w.name << "\n\n" << w.what << "\n\n| peer |";
  std::size_t columns = 1;
  for (const metric& m : w.metrics)
    os << ' ' << m.name << " |", ++columns;
  for (const metric& m : w.metrics)
    if (m.compare)
    {
      for (std::size_t b : w.bases)
        os << ' ' << m.name << " / " << peers()[b].label << " |", ++columns;
      os << ' ' << m.name << " spread |", ++columns;
    }
  os << " status |\n|---|";
  for (std::size_t i = 1; i < columns; ++i)
    os << "--:|";
  os << "---|\n";

  for (std::size_t p = 0; p < r.cells.size(); ++p)
  {
    const cell& c = r.cells[p];
    os << "| " << c.who->name << " |";
    const bool has_values = c.ran && c.built && !c.values.empty();
    for (std::size_t m = 0; m < w.metrics.size(); ++m)
      os << ' ' << (has_values && m < c.values.size() ? fmt(c.values[m], w.metrics[m].decimals) : "-") << " |";
    for (std::size_t m = 0; m < w.metrics.size(); ++m)
      if (w.metrics[m].compare)
      {
        for (std::size_t b : w.bases)
        {
          const auto q = ratio(r, p, b, m);
          os << ' ' << (q ? fmt(*q, 2) : "n/a") << " |";
        }
        os << ' ' << (has_values && m < c.spread.size() ? fmt(100 * c.spread[m], 0) + " %" : "-") << " |";
      }
    os << ' '
       << (!c.ran                ? "not run"
           : !c.built            ? "nanorun: not built yet"
           : !c.errors.empty()   ? "**ERROR**"
           : !c.warnings.empty() ? "warning"
                                 : "ok")
       << " |\n";
  }
  os << '\n';
  bool notes = false;
  for (const cell& c : r.cells)
  {
    for (const auto& e : c.errors)
      os << "- **ERROR**, " << c.who->name << ", " << e << '\n', notes = true;
    for (const auto& e : c.warnings)
      os << "- warning, " << c.who->name << ", " << e << '\n', notes = true;
  }
  if (notes)
    os << '\n';
}

struct target
{
  const std::string* workload;
  const char* metric;
  std::size_t peer_index;
  std::size_t base_index;
  double floor; // the ratio must reach it
};

void print_targets(std::ostream& os, const std::vector<row_set>& rows)
{
  const target targets[] = {
      {&ping_pong_name, "round trips/s", nanorun_2, epoll_1, 0.95},
      {&many_name, "msgs/s", nanorun_2, epoll_2, 0.95},
      {&many_name, "msgs/s", nanorun_2, io_2, 1.10},
      // The bridge: Asio's own sockets on nanorun, against io_context.
      {&ping_pong_name, "round trips/s", nanorun_asio_2, io_2, 1.00},
  };
  os << "## Targets (informational)\n\n"
     << "nanorun's goals as ratios of its rate to a peer's rate. PASS or MISS never changes the exit code.\n\n"
     << "| workload | metric | nanorun peer | / peer | at least | ratio | result |\n"
     << "|---|---|---|---|--:|--:|---|\n";
  for (const target& t : targets)
    for (const row_set& r : rows)
    {
      if (r.w->name != *t.workload)
        continue;
      const auto q = ratio(r, t.peer_index, t.base_index, metric_index(*r.w, t.metric));
      std::string result;
      if (q)
        result = *q >= t.floor ? "PASS" : "MISS";
      else
      {
        const cell& a = r.cells[t.peer_index];
        const cell& b = r.cells[t.base_index];
        const bool a_ok = a.ran && a.built && a.errors.empty();
        result = "n/a (" + (a_ok ? peers()[t.base_index].label + " " + missing(b) : missing(a)) + ")";
      }
      os << "| " << *t.workload << " | " << t.metric << " | " << peers()[t.peer_index].name << " | "
         << peers()[t.base_index].name << " | " << fmt(t.floor, 2) << " | " << (q ? fmt(*q, 2) : "n/a") << " | "
         << result << " |\n";
    }
  os << '\n';
}

} // namespace

void print_report(std::ostream& os, const run_info& info, const std::vector<row_set>& rows)
{
  print_header(os, info);
  for (const auto& r : rows)
    print_table(os, r);
  print_targets(os, rows);
}

} // namespace nbench
