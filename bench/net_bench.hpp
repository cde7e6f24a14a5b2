// nanorun_net_bench: the vocabulary shared by its sources.
//
// A server is one echo server peer, started on an ephemeral port of this
// process and shut down again after each run: raw epoll loops
// (net_bench_epoll.cpp) or the coroutine echo server, written once and
// instantiated for Boost.Asio, for nanorun, and for nanorun's runtime with
// Asio's own sockets (net_bench_coro.cpp). The client is the same
// hand-written raw client for every peer (net_bench_client.cpp), so only the
// server differs. net_bench.cpp runs every (workload, peer) cell
// --runs times and takes each metric's median; net_bench_report.cpp prints
// the tables, the ratios and the targets.
#pragma once

#include <cstddef>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

namespace nbench {

/// What a server found wrong while it ran or shut down.
struct shutdown_result
{
  std::string error;   // the server misbehaved (the cell fails its self-check)
  std::string warning; // the numbers stand but are suspect
};

/// A running echo server. Constructed listening (port() is valid at once);
/// shutdown() must be called once, after every client connection has closed.
class server
{
public:
  virtual ~server() = default;
  virtual unsigned short port() const = 0;
  /// Closes the listener, lets the threads run out of work (or stops them
  /// after a grace period, with a warning) and joins them.
  virtual shutdown_result shutdown() = 0;
};

/// net_bench_epoll.cpp: `threads` non-blocking epoll loops; with two, one
/// SO_REUSEPORT listener per loop.
std::unique_ptr<server> make_epoll_server(unsigned threads);

/// net_bench_coro.cpp: the coroutine echo server on boost::asio::io_context(threads).
std::unique_ptr<server> make_asio_server(unsigned threads);

/// net_bench_coro.cpp: the same code on nanorun::runtime(threads); nullptr if
/// <nanorun/ip/tcp.hpp> did not exist when the program was built.
std::unique_ptr<server> make_nanorun_server(unsigned threads);
bool nanorun_sockets_built();

/// net_bench_coro.cpp: the same code with boost::asio::ip::tcp's sockets on
/// nanorun::runtime(threads), through the bridge that lets Asio's own I/O
/// objects run on a nanorun context.
std::unique_ptr<server> make_nanorun_asio_server(unsigned threads);

struct peer
{
  std::string name;  // also what --only matches
  std::string label; // short form for ratio column headers
  std::function<std::unique_ptr<server>()> make; // returns nullptr: not built
};

/// The eight peers, in table order (net_bench.cpp).
const std::vector<peer>& peers();

// Indices into peers().
inline constexpr std::size_t epoll_1 = 0;
inline constexpr std::size_t epoll_2 = 1;
inline constexpr std::size_t io_1 = 2;
inline constexpr std::size_t io_2 = 3;
inline constexpr std::size_t nanorun_1 = 4;
inline constexpr std::size_t nanorun_2 = 5;
inline constexpr std::size_t nanorun_asio_1 = 6;
inline constexpr std::size_t nanorun_asio_2 = 7;

inline constexpr std::size_t message_size = 64;
inline constexpr int many_connections = 100;

/// One run of one cell.
struct sample
{
  std::vector<double> values; // one per metric of the workload
  std::string error;          // non-empty: a self-check failed (exit code 1)
  std::string warning;        // non-empty: the numbers stand but are suspect
};

/// net_bench_client.cpp. Both connect to 127.0.0.1:port, warm up for
/// warmup_s, measure for seconds, and close every connection before returning.
/// ping-pong: {round trips/s, p50 us, p99 us, cores busy}.
sample run_ping_pong(unsigned short port, double warmup_s, double seconds);
/// 100 connections: {msgs/s, cores busy}.
sample run_many_connections(unsigned short port, int connections, double warmup_s, double seconds);

struct metric
{
  std::string name; // column header, with its unit
  int decimals;
  bool compare;     // gets a ratio column per base peer
};

struct workload
{
  std::string name; // also what --filter matches
  std::string what; // one sentence on the method, printed under the heading
  std::vector<metric> metrics;
  std::vector<std::size_t> bases; // peers the ratio columns divide by
  std::function<sample(unsigned short port, double seconds)> run;
};

inline const std::string ping_pong_name = "ping-pong, 1 connection";
inline const std::string many_name = "100 connections";

/// A (workload, peer) cell after aggregation over its runs.
struct cell
{
  const peer* who;
  bool ran;   // false: left out by --only
  bool built; // false: nanorun's sockets did not exist at build time
  std::vector<double> values;       // per metric: the median of the runs
  std::vector<double> spread;       // per metric: (max - min) / median of the runs
  std::vector<std::string> errors;   // one entry per failed run
  std::vector<std::string> warnings; // likewise
};

struct row_set
{
  const workload* w;
  std::vector<cell> cells; // one per peer of peers(), in order
};

struct run_info
{
  std::string command_line;
  unsigned cores;
  std::string load_at_start;
  int runs;
  double seconds;
  std::string filter;
  std::string only;
  double steal = -1; // share of all CPU time the hypervisor stole while the program ran; -1: unknown
};

/// Writes the whole Markdown report to os (net_bench_report.cpp).
void print_report(std::ostream& os, const run_info& info, const std::vector<row_set>& rows);

} // namespace nbench
