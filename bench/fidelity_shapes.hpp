// The drop-in fidelity workload shapes, shared by bench/fidelity_bench.cpp
// (which reports them side by side) and test/unit/executor/fidelity_test.cpp
// (which asserts them), so that the test checks exactly what the benchmark
// measures. Two threads run a context; a handler makes work ready and then
// computes (spins) until that work has run, or `block_for`:
//
//   post_trial   the handler posts a second handler; delay until it runs
//   timer_trial  the handler arms a 5 ms timer; lateness past its expiry
//   read_trial   the handler starts a read; another thread writes 5 ms later;
//                delay from the write to the completion handler
//
// Each works on io_context with Asio's objects and on nanorun with either
// nanorun's or Asio's: only the types differ.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/error_code.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <future>
#include <stdexcept>
#include <thread>
#include <utility>

namespace fidelity_shapes {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

inline constexpr auto block_for = 200ms;

// A context run by two threads until the object is destroyed.
template <class Context>
class two_threads
{
public:
  explicit two_threads(int concurrency_hint = 2) : ctx(concurrency_hint), guard_(asio::make_work_guard(ctx))
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
  clock_type::duration delay{};
  bool during_computation = false; // false: the work ran only after the computing handler returned
  boost::system::error_code ec{};  // what the timer or read completed with
  std::size_t bytes = 0;           // what the read transferred
};

// Computes (spins, as a CPU-bound handler would) until `done` or `block_for`.
inline void compute_until(const std::atomic<bool>& done, clock_type::time_point start)
{
  while (!done.load(std::memory_order_acquire) && clock_type::now() - start < block_for)
  {
  }
}

// Posts `body` to run as the computing handler and waits for its sample.
template <class Context, class Body>
sample trial(Context& ctx, Body body)
{
  std::promise<sample> p;
  auto f = p.get_future();
  asio::post(ctx, [&] { p.set_value(body()); });
  if (f.wait_for(30s) != std::future_status::ready)
    throw std::runtime_error("a fidelity trial did not finish within 30 s");
  return f.get();
}

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
    const bool during = ran.load(std::memory_order_acquire);
    while (!ran.load(std::memory_order_acquire)) // it runs once we return; wait for it here
      std::this_thread::yield();
    return sample{at.load() - start, during};
  });
}

template <class Timer, class Context>
sample timer_trial(Context& ctx)
{
  Timer t(ctx);
  return trial(ctx, [&] {
    std::atomic<bool> fired{false};
    std::atomic<clock_type::time_point> at{};
    boost::system::error_code result;
    const auto start = clock_type::now();
    t.expires_after(5ms);
    const auto expiry = t.expiry();
    t.async_wait([&](boost::system::error_code ec) {
      result = ec;
      at.store(clock_type::now());
      fired.store(true, std::memory_order_release);
    });
    compute_until(fired, start);
    const bool during = fired.load(std::memory_order_acquire);
    while (!fired.load(std::memory_order_acquire))
      std::this_thread::yield();
    return sample{at.load() - expiry, during, result};
  });
}

template <class Tcp, class Context>
sample read_trial(Context& ctx, typename Tcp::socket& a, typename Tcp::socket& b)
{
  return trial(ctx, [&] {
    std::atomic<bool> done{false};
    std::atomic<clock_type::time_point> done_at{}, written_at{};
    boost::system::error_code result;
    std::size_t bytes = 0;
    char in[8];
    const auto start = clock_type::now();
    a.async_read_some(asio::buffer(in), [&](boost::system::error_code ec, std::size_t n) {
      result = ec;
      bytes = n;
      done_at.store(clock_type::now());
      done.store(true, std::memory_order_release);
    });
    // The data arrives 5 ms later, from a thread that is not a worker.
    std::thread writer([&] {
      std::this_thread::sleep_for(5ms);
      written_at.store(clock_type::now());
      char c = 'x';
      boost::system::error_code ec;
      asio::write(b, asio::buffer(&c, 1), ec);
    });
    compute_until(done, start);
    const bool during = done.load(std::memory_order_acquire);
    writer.join();
    while (!done.load(std::memory_order_acquire))
      std::this_thread::yield();
    return sample{done_at.load() - written_at.load(), during, result, bytes};
  });
}

// A connected pair over loopback.
template <class Tcp, class Context>
std::pair<typename Tcp::socket, typename Tcp::socket> socket_pair(Context& ctx)
{
  typename Tcp::acceptor acc(ctx, typename Tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  typename Tcp::socket a(ctx), b(ctx);
  a.connect(acc.local_endpoint());
  acc.accept(b);
  return {std::move(a), std::move(b)};
}

} // namespace fidelity_shapes
