// nanorun_fidelity_bench: io_context's scheduling promises, measured side by
// side. Two threads run each context; a handler makes work ready and then
// computes (spins) until that work has run, or 200 ms:
//
//   post       the handler posts a second handler; delay until it runs
//   timer      the handler arms a 5 ms timer; lateness past its expiry
//   read       the handler starts a read; another thread writes 5 ms later;
//              delay from the write to the completion handler
//
// Peers: boost::asio::io_context with Asio's timer and socket, nanorun with
// its own, and nanorun with Asio's timer and socket (the bridge). Each row
// gives the median, p90 and worst of N trials in microseconds, and how many
// trials waited for the computing handler to return (a missing wake-up).
//
// Usage: nanorun_fidelity_bench [--trials N] (default 50)
#include <nanorun/nanorun.hpp>

#include "bench/fidelity_shapes.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace asio = boost::asio;
using namespace fidelity_shapes;

namespace {

double us(clock_type::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

void report(const char* workload, const char* peer, std::vector<sample> s)
{
  std::sort(s.begin(), s.end(), [](auto& x, auto& y) { return x.delay < y.delay; });
  const auto waited = std::count_if(s.begin(), s.end(), [](auto& x) { return !x.during_computation; });
  std::printf("| %s | %s | %.1f | %.1f | %.1f | %zu / %zu |\n", workload, peer, us(s[s.size() / 2].delay),
              us(s[s.size() * 9 / 10].delay), us(s.back().delay), static_cast<std::size_t>(waited), s.size());
  std::fflush(stdout);
}

template <class Context, class Timer, class Tcp>
void run_peer(const char* name, int trials)
{
  std::vector<sample> post, timer, read;
  {
    two_threads<Context> w(2);
    for (int i = 0; i < trials; ++i)
      post.push_back(post_trial(w.ctx));
    for (int i = 0; i < trials; ++i)
      timer.push_back(timer_trial<Timer>(w.ctx));
    auto [a, b] = socket_pair<Tcp>(w.ctx);
    for (int i = 0; i < trials; ++i)
      read.push_back(read_trial<Tcp>(w.ctx, a, b));
  }
  report("post, then compute", name, post);
  report("5 ms timer, then compute", name, timer);
  report("read, then compute", name, read);
}

} // namespace

int main(int argc, char** argv)
{
  int trials = 50;
  for (int i = 1; i < argc; ++i)
  {
    if (std::strcmp(argv[i], "--trials") == 0 && i + 1 < argc)
      trials = std::atoi(argv[++i]);
    else
    {
      std::fprintf(stderr, "usage: %s [--trials N]\n", argv[0]);
      return 2;
    }
  }
  std::printf("Two threads per context; a handler makes work ready, then computes until it has run (or %lld ms).\n"
              "Delays in microseconds over %d trials; 'waited' counts trials in which the work ran only after\n"
              "the computing handler returned.\n\n",
              static_cast<long long>(block_for.count()), trials);
  std::printf("| workload | peer | median us | p90 us | worst us | waited |\n|---|---|--:|--:|--:|--:|\n");
  run_peer<asio::io_context, asio::steady_timer, asio::ip::tcp>("io_context(2), Asio timer and socket", trials);
  run_peer<nanorun::runtime, nanorun::steady_timer, nanorun::ip::tcp>("nanorun(2), nanorun timer and socket",
                                                                      trials);
  run_peer<nanorun::runtime, asio::steady_timer, asio::ip::tcp>("nanorun(2), Asio timer and socket (bridge)",
                                                                trials);
  return 0;
}
