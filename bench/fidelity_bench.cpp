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

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr auto block_for = 200ms;

template <class Context>
class two_threads
{
public:
  explicit two_threads(int hint) : ctx(hint), guard_(asio::make_work_guard(ctx))
  {
    for (auto& t : threads_)
      t = std::thread([this] { ctx.run(); });
  }
  ~two_threads()
  {
    guard_.reset();
    ctx.stop();
    for (auto& t : threads_)
      t.join();
  }
  Context ctx;

private:
  asio::executor_work_guard<typename Context::executor_type> guard_;
  std::thread threads_[2];
};

struct sample
{
  double us;
  bool waited; // ran only after the computing handler returned
};

void compute_until(const std::atomic<bool>& done, clock_type::time_point start)
{
  while (!done.load(std::memory_order_acquire) && clock_type::now() - start < block_for)
  {
  }
}

template <class Context, class Body>
sample trial(Context& ctx, Body body)
{
  std::promise<sample> p;
  auto f = p.get_future();
  asio::post(ctx, [&] { p.set_value(body()); });
  return f.get();
}

double us(clock_type::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

template <class Context>
sample post_trial(Context& ctx)
{
  return trial(ctx, [&] {
    std::atomic<bool> ran{false};
    std::atomic<clock_type::time_point> at{};
    const auto start = clock_type::now();
    asio::post(ctx, [&] {
      at.store(clock_type::now());
      ran.store(true, std::memory_order_release);
    });
    compute_until(ran, start);
    const bool waited = !ran.load();
    while (!ran.load())
      std::this_thread::yield();
    return sample{us(at.load() - start), waited};
  });
}

template <class Timer, class Context>
sample timer_trial(Context& ctx)
{
  Timer t(ctx);
  return trial(ctx, [&] {
    std::atomic<bool> fired{false};
    std::atomic<clock_type::time_point> at{};
    const auto start = clock_type::now();
    t.expires_after(5ms);
    const auto expiry = t.expiry();
    t.async_wait([&](boost::system::error_code) {
      at.store(clock_type::now());
      fired.store(true, std::memory_order_release);
    });
    compute_until(fired, start);
    const bool waited = !fired.load();
    while (!fired.load())
      std::this_thread::yield();
    return sample{us(at.load() - expiry), waited};
  });
}

template <class Tcp, class Context>
sample read_trial(Context& ctx, typename Tcp::socket& a, typename Tcp::socket& b)
{
  return trial(ctx, [&] {
    std::atomic<bool> done{false};
    std::atomic<clock_type::time_point> done_at{}, written_at{};
    char in[8];
    const auto start = clock_type::now();
    a.async_read_some(asio::buffer(in), [&](boost::system::error_code, std::size_t) {
      done_at.store(clock_type::now());
      done.store(true, std::memory_order_release);
    });
    std::thread writer([&] {
      std::this_thread::sleep_for(5ms);
      written_at.store(clock_type::now());
      char c = 'x';
      boost::system::error_code ec;
      asio::write(b, asio::buffer(&c, 1), ec);
    });
    compute_until(done, start);
    const bool waited = !done.load();
    writer.join();
    while (!done.load())
      std::this_thread::yield();
    return sample{us(done_at.load() - written_at.load()), waited};
  });
}

template <class Tcp, class Context>
std::pair<typename Tcp::socket, typename Tcp::socket> socket_pair(Context& ctx)
{
  typename Tcp::acceptor acc(ctx, typename Tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  typename Tcp::socket a(ctx), b(ctx);
  a.connect(acc.local_endpoint());
  acc.accept(b);
  return {std::move(a), std::move(b)};
}

void report(const char* workload, const char* peer, std::vector<sample> s)
{
  std::sort(s.begin(), s.end(), [](auto& x, auto& y) { return x.us < y.us; });
  const auto waited = std::count_if(s.begin(), s.end(), [](auto& x) { return x.waited; });
  std::printf("| %s | %s | %.1f | %.1f | %.1f | %zu / %zu |\n", workload, peer, s[s.size() / 2].us,
              s[s.size() * 9 / 10].us, s.back().us, static_cast<std::size_t>(waited), s.size());
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
