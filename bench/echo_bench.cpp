// nanorun_echo_bench: TCP echo with the client and the server in the same
// process, on the same context, the shape of a proxy or a service that calls
// another over loopback. Every message's round trip crosses the context twice,
// so this measures how well a runtime keeps a client and a server that wake
// each other on one core, where nanorun_net_bench's external client does not.
//
// Peers, one after another in one run:
//   raw epoll, N threads: each thread owns whole connections (client and
//     server ends) and runs one level-triggered epoll loop over them;
//   io_context / nanorun::runtime, 1 or 2 threads: a client coroutine per
//     connection (connect, then write 64 bytes and async_read the 64-byte
//     echo, in a loop) and a server coroutine per accepted connection
//     (async_read_some, async_write), all co_spawned on the same context.
// Workloads: 1 connection (round trips/s, latency percentiles) and 100
// connections with one message in flight on each (messages/s).
// Rates are medians of --runs runs; futex/op counts futex(2) calls per
// message (see futex_count.hpp). Timed from the start of the threads to the
// last echo, connection set-up included (well under 1% of a run).
#include "futex_count.hpp"
#include "machine.hpp"

#include <nanorun/io_context.hpp>
#include <nanorun/ip/tcp.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;
constexpr std::size_t msg_size = 64;

struct result
{
  double seconds = 0;
  std::uint64_t messages = 0;
  std::vector<double> latency_us; // one per round trip (1-connection workload)
  std::int64_t futexes = -1;
  double cpu_seconds = 0;
  double cross_core_ns = -1; // bench::cross_core_round_trip_ns() just before the run
  std::string error;
};

double cpu_now()
{
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

[[noreturn]] void fail(const std::string& what)
{
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

// ---- raw epoll ---------------------------------------------------------------

struct raw_conn
{
  int client = -1, server = -1;
  char cbuf[msg_size]{}, sbuf[msg_size]{};
  std::size_t cgot = 0;
  std::uint64_t left = 0;
  clock_type::time_point sent;
};

result run_epoll(unsigned threads, unsigned conns, std::uint64_t per_conn, bool sample)
{
  const int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (lfd < 0 || ::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) || ::listen(lfd, 1024) ||
      ::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len))
    fail("raw epoll: listen");
  std::vector<raw_conn> cs(conns);
  const int one = 1;
  for (auto& c : cs)
  {
    c.client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c.client < 0 || ::connect(c.client, reinterpret_cast<sockaddr*>(&a), sizeof a))
      fail("raw epoll: connect");
    c.server = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (c.server < 0)
      fail("raw epoll: accept");
    ::setsockopt(c.client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(c.server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::fcntl(c.client, F_SETFL, O_NONBLOCK);
    c.left = per_conn;
  }
  ::close(lfd);
  result r;
  std::vector<std::vector<double>> lat(threads);
  auto loop = [&](unsigned t) {
    const int ep = ::epoll_create1(EPOLL_CLOEXEC);
    std::size_t mine = 0;
    for (std::size_t i = t; i < cs.size(); i += threads, ++mine)
    {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = i * 2;
      ::epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].client, &ev);
      ev.data.u64 = i * 2 + 1;
      ::epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].server, &ev);
      cs[i].sent = clock_type::now();
      if (::send(cs[i].client, cs[i].cbuf, msg_size, MSG_NOSIGNAL) != static_cast<ssize_t>(msg_size))
        std::abort();
    }
    std::size_t active = mine;
    epoll_event evs[64];
    while (active)
    {
      const int n = ::epoll_wait(ep, evs, 64, -1);
      for (int k = 0; k < n; ++k)
      {
        raw_conn& c = cs[evs[k].data.u64 / 2];
        if (evs[k].data.u64 % 2)
        {
          const ssize_t got = ::recv(c.server, c.sbuf, sizeof c.sbuf, 0);
          if (got > 0)
            (void)!::send(c.server, c.sbuf, static_cast<std::size_t>(got), MSG_NOSIGNAL);
          else if (got == 0)
          {
            ::epoll_ctl(ep, EPOLL_CTL_DEL, c.server, nullptr);
            ::close(c.server);
          }
          continue;
        }
        const ssize_t got = ::recv(c.client, c.cbuf + c.cgot, msg_size - c.cgot, 0);
        if (got <= 0)
          continue;
        c.cgot += static_cast<std::size_t>(got);
        if (c.cgot < msg_size)
          continue;
        c.cgot = 0;
        const auto now = clock_type::now();
        if (sample)
          lat[t].push_back(std::chrono::duration<double, std::micro>(now - c.sent).count());
        if (--c.left == 0)
        {
          ::epoll_ctl(ep, EPOLL_CTL_DEL, c.client, nullptr);
          ::shutdown(c.client, SHUT_WR);
          --active;
          continue;
        }
        c.sent = now;
        if (::send(c.client, c.cbuf, msg_size, MSG_NOSIGNAL) != static_cast<ssize_t>(msg_size))
          std::abort();
      }
    }
    // Let each server end see its client's close.
    for (std::size_t i = t; i < cs.size(); i += threads)
    {
      char b[8];
      while (::recv(cs[i].server, b, sizeof b, 0) > 0)
      {
      }
    }
    ::close(ep);
  };
  const auto f0 = bench::futex_calls();
  const double c0 = cpu_now();
  const auto t0 = clock_type::now();
  std::vector<std::thread> ts;
  for (unsigned t = 0; t < threads; ++t)
    ts.emplace_back(loop, t);
  for (auto& t : ts)
    t.join();
  r.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
  r.cpu_seconds = cpu_now() - c0;
  if (const auto f1 = bench::futex_calls(); f0 && f1)
    r.futexes = static_cast<std::int64_t>(*f1 - *f0);
  for (auto& c : cs)
  {
    ::close(c.client);
    ::close(c.server);
  }
  r.messages = conns * per_conn;
  for (auto& l : lat)
    r.latency_us.insert(r.latency_us.end(), l.begin(), l.end());
  return r;
}

// ---- coroutines on one context ------------------------------------------------

template <class Tcp>
asio::awaitable<void> echo_session(typename Tcp::socket s)
{
  char buf[1024];
  for (;;)
  {
    boost::system::error_code ec;
    const std::size_t n = co_await s.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
    if (ec)
      co_return;
    co_await asio::async_write(s, asio::buffer(buf, n), asio::use_awaitable);
  }
}

template <class Tcp>
asio::awaitable<void> accept_all(typename Tcp::acceptor& acc, unsigned conns)
{
  for (unsigned i = 0; i < conns; ++i)
  {
    typename Tcp::socket s = co_await acc.async_accept(asio::use_awaitable);
    s.set_option(asio::ip::tcp::no_delay(true));
    asio::co_spawn(acc.get_executor(), echo_session<Tcp>(std::move(s)), asio::detached);
  }
}

template <class Tcp>
asio::awaitable<void> client(typename Tcp::endpoint ep, std::uint64_t n, std::vector<double>* lat,
                             std::atomic<unsigned>* done, std::atomic<std::int64_t>* finished_ns)
{
  typename Tcp::socket s(co_await asio::this_coro::executor);
  co_await s.async_connect(ep, asio::use_awaitable);
  s.set_option(asio::ip::tcp::no_delay(true));
  char out[msg_size]{};
  char in[msg_size];
  for (std::uint64_t i = 0; i < n; ++i)
  {
    const auto t = clock_type::now();
    co_await asio::async_write(s, asio::buffer(out), asio::use_awaitable);
    co_await asio::async_read(s, asio::buffer(in), asio::use_awaitable);
    if (lat)
      lat->push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t).count());
  }
  const std::int64_t now = clock_type::now().time_since_epoch().count();
  std::int64_t prev = finished_ns->load(std::memory_order_relaxed);
  while (prev < now && !finished_ns->compare_exchange_weak(prev, now, std::memory_order_relaxed))
  {
  }
  done->fetch_add(1, std::memory_order_acq_rel);
}

template <class Tcp, class Context>
result run_coro(int hint, unsigned threads, unsigned conns, std::uint64_t per_conn, bool sample)
{
  result r;
  Context ctx(hint);
  typename Tcp::acceptor acc(ctx, typename Tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  const auto ep = acc.local_endpoint();
  std::vector<double> lat;
  std::atomic<unsigned> done{0};
  std::atomic<std::int64_t> finished{0}; // steady_clock ticks of the last client's end
  asio::co_spawn(ctx, accept_all<Tcp>(acc, conns), asio::detached);
  for (unsigned i = 0; i < conns; ++i)
    asio::co_spawn(ctx, client<Tcp>(ep, per_conn, sample && i == 0 ? &lat : nullptr, &done, &finished),
                   [&r](std::exception_ptr e) {
                     if (e)
                       try
                       {
                         std::rethrow_exception(e);
                       }
                       catch (const std::exception& x)
                       {
                         r.error = x.what();
                       }
                   });
  const auto f0 = bench::futex_calls();
  const double c0 = cpu_now();
  const auto t0 = clock_type::now();
  std::vector<std::thread> ts;
  for (unsigned t = 0; t < threads; ++t)
    ts.emplace_back([&] { ctx.run(); });
  for (auto& t : ts)
    t.join();
  r.cpu_seconds = cpu_now() - c0;
  if (const auto f1 = bench::futex_calls(); f0 && f1)
    r.futexes = static_cast<std::int64_t>(*f1 - *f0);
  if (done.load() != conns && r.error.empty())
    r.error = std::to_string(conns - done.load()) + " clients did not finish";
  r.seconds = std::chrono::duration<double>(clock_type::time_point(clock_type::duration(finished.load())) - t0).count();
  r.messages = conns * per_conn;
  r.latency_us = std::move(lat);
  return r;
}

// ---- the run ------------------------------------------------------------------

struct peer
{
  const char* name;
  std::function<result(unsigned conns, std::uint64_t per_conn, bool sample)> run;
};

double percentile(std::vector<double> v, double p)
{
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

} // namespace

int main(int argc, char** argv)
{
  int runs = 5;
  double scale = 1;
  std::string only;
  unsigned only_conns = 0; // 0: every shape
  for (int i = 1; i < argc; ++i)
  {
    const std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc)
      runs = std::max(1, std::atoi(argv[++i]));
    else if (a == "--quick")
      scale = 0.1;
    else if (a == "--only" && i + 1 < argc)
      only = argv[++i];
    else if (a == "--conns" && i + 1 < argc)
      only_conns = static_cast<unsigned>(std::atoi(argv[++i]));
    else
    {
      std::fprintf(stderr, "usage: %s [--runs N] [--quick] [--only PEER] [--conns 1|100]\n", argv[0]);
      return a == "--help" ? 0 : 64;
    }
  }
  bench::start_futex_counting();
  using ntcp = nanorun::ip::tcp;
  using atcp = asio::ip::tcp;
  const std::vector<peer> peers = {
      {"raw epoll, 1 thread", [](unsigned c, std::uint64_t n, bool s) { return run_epoll(1, c, n, s); }},
      {"raw epoll, 2 threads", [](unsigned c, std::uint64_t n, bool s) { return run_epoll(2, c, n, s); }},
      {"io_context(1), 1 thread",
       [](unsigned c, std::uint64_t n, bool s) { return run_coro<atcp, asio::io_context>(1, 1, c, n, s); }},
      {"io_context(2), 2 threads",
       [](unsigned c, std::uint64_t n, bool s) { return run_coro<atcp, asio::io_context>(2, 2, c, n, s); }},
      {"nanorun::io_context(1), 1 worker",
       [](unsigned c, std::uint64_t n, bool s) { return run_coro<ntcp, nanorun::io_context>(1, 1, c, n, s); }},
      {"nanorun::io_context(2), 2 workers",
       [](unsigned c, std::uint64_t n, bool s) { return run_coro<ntcp, nanorun::io_context>(2, 2, c, n, s); }},
  };
  struct shape
  {
    const char* name;
    unsigned conns;
    std::uint64_t per_conn;
    const char* base; // ratio denominator
  };
  const shape shapes[] = {
      {"echo, 1 connection, client and server on one context", 1,
       static_cast<std::uint64_t>(100000 * scale), "raw epoll, 1 thread"},
      {"echo, 100 connections, client and server on one context", 100,
       static_cast<std::uint64_t>(1000 * scale), "raw epoll, 2 threads"},
  };
  std::printf("# nanorun_echo_bench\n\n%s | CPU: %s | cores: %u | load average %s before\n"
              "Medians of %d runs. Client and server coroutines on the same context; raw epoll: one loop per "
              "thread over whole connections. futex/op: futex(2) calls per message. x-core ns: the round trip of a cache line between two cores, measured "
              "just before the median run (bench/README.md).\n\n",
              bench::compiler().c_str(), bench::cpu_model().c_str(), std::thread::hardware_concurrency(),
              bench::load_average(true).c_str(), runs);
  int failures = 0;
  for (const shape& sh : shapes)
  {
    if (only_conns != 0 && sh.conns != only_conns)
      continue;
    std::fprintf(stderr, "%s\n", sh.name);
    struct row
    {
      const char* name = "";
      double rate = 0, p50 = 0, p99 = 0, futex = -1, busy = 0, cross_core = -1;
      std::string error;
    };
    std::vector<row> rows;
    std::vector<const peer*> chosen;
    for (const peer& p : peers)
      if (only.empty() || std::string(p.name).find(only) != std::string::npos || std::string(p.name) == sh.base)
        chosen.push_back(&p);
    // Rounds, not blocks: every peer runs once per round, so that a slow
    // spell of the machine falls on all peers alike.
    std::vector<std::vector<result>> runs_of(chosen.size());
    for (int k = 0; k < runs; ++k)
      for (std::size_t i = 0; i < chosen.size(); ++i)
      {
        const peer& p = *chosen[i];
        result r;
        // Outside the timed region: see cross_core_round_trip_ns in machine.hpp.
        const double cross_core = bench::cross_core_round_trip_ns();
        try
        {
          r = p.run(sh.conns, sh.per_conn, sh.conns == 1);
        }
        catch (const std::exception& e)
        {
          r.error = e.what();
        }
        r.cross_core_ns = cross_core;
        std::fprintf(stderr, "  %-36s run %d: %.0f msgs/s  x-core %.0f ns%s%s\n", p.name, k + 1,
                     r.seconds > 0 ? static_cast<double>(r.messages) / r.seconds : 0.0, r.cross_core_ns,
                     r.error.empty() ? "" : " ERROR ", r.error.c_str());
        runs_of[i].push_back(std::move(r));
      }
    for (std::size_t i = 0; i < chosen.size(); ++i)
    {
      std::vector<result>& rs = runs_of[i];
      row rw;
      rw.name = chosen[i]->name;
      for (const result& r : rs)
        if (!r.error.empty())
          rw.error = r.error;
      std::sort(rs.begin(), rs.end(), [](const result& x, const result& y) {
        return static_cast<double>(x.messages) / x.seconds < static_cast<double>(y.messages) / y.seconds;
      });
      const result& m = rs[rs.size() / 2];
      rw.rate = static_cast<double>(m.messages) / m.seconds;
      rw.p50 = percentile(m.latency_us, 0.5);
      rw.p99 = percentile(m.latency_us, 0.99);
      rw.futex = m.futexes < 0 ? -1 : static_cast<double>(m.futexes) / static_cast<double>(m.messages);
      rw.busy = m.cpu_seconds / m.seconds;
      rw.cross_core = m.cross_core_ns;
      rows.push_back(rw);
    }
    double base = 0;
    for (const row& rw : rows)
      if (std::string(rw.name) == sh.base)
        base = rw.rate;
    std::printf("**%s** (%u x %llu messages)\n\n| peer | msgs/s | p50 us | p99 us | futex/op | cores busy | / %s | x-core ns |\n"
                "|---|--:|--:|--:|--:|--:|--:|--:|\n",
                sh.name, sh.conns, static_cast<unsigned long long>(sh.per_conn), sh.base);
    for (const row& rw : rows)
    {
      if (!rw.error.empty())
      {
        ++failures;
        std::printf("| %s | **ERROR: %s** | | | | | | |\n", rw.name, rw.error.c_str());
        continue;
      }
      char fx[32] = "-";
      if (rw.futex >= 0)
        std::snprintf(fx, sizeof fx, "%.3f", rw.futex);
      char xc[32] = "-";
      if (rw.cross_core >= 0)
        std::snprintf(xc, sizeof xc, "%.0f", rw.cross_core);
      std::printf("| %s | %.0f | %s | %s | %s | %.2f | %.2f | %s |\n", rw.name, rw.rate,
                  sh.conns == 1 ? std::to_string(rw.p50).substr(0, 5).c_str() : "-",
                  sh.conns == 1 ? std::to_string(rw.p99).substr(0, 5).c_str() : "-", fx, rw.busy,
                  base > 0 ? rw.rate / base : 0.0, xc);
    }
    std::printf("\n");
  }
  std::printf("Targets (issue 12, informational): nanorun 2 workers at least 0.95x raw epoll 1 thread on one "
              "connection, at least 1.0x raw epoll 2 threads on 100.\n");
  return failures ? 1 : 0;
}
