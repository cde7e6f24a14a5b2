// Every wake-up the scheduler owes, under a deadline. No worker parks with a
// timeout to rescue queued work (there is no periodic rescue), so a lost
// wake-up leaves work unstarted for good; here each iteration waits for its
// work with a deadline and fails if it passes, instead of hanging the suite.
//
// Each iteration: a handler makes work ready (posts a handler, arms a timer,
// starts a read, or, through the Asio bridge, starts an Asio operation) and
// then keeps its worker busy until that work has run, so only another worker
// can run it, and only if it was woken (or was searching and found it). The
// timing between the steps is jittered, so the wake-ups race with workers
// spinning, parking, taking and handing over the driver role.
#include "stress/watchdog.hpp"

#include <nanorun/nanorun.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <poll.h>
#include <cstring>
#include <functional>
#include <future>
#include <memory>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

// How long one iteration's work may take to start while a handler computes.
// Far beyond any real wake-up (microseconds), even under ThreadSanitizer on
// a loaded machine; far below "never".
constexpr auto deadline = 2s;

#if defined(NANORUN_STRESS) && NANORUN_STRESS
constexpr int iterations = 150;
#else
constexpr int iterations = 300;
#endif

class workers
{
public:
  workers(nanorun::runtime& rt, int n) : guard_(asio::make_work_guard(rt)), rt_(rt)
  {
    for (int i = 0; i < n; ++i)
      threads_.emplace_back([this] { rt_.run(); });
  }
  ~workers()
  {
    guard_.reset();
    for (auto& t : threads_)
      t.join();
  }

private:
  asio::executor_work_guard<nanorun::runtime::executor_type> guard_;
  nanorun::runtime& rt_;
  std::vector<std::thread> threads_;
};

// Jitter: nothing, a spin, a yield or a short sleep.
void jitter(std::minstd_rand& rng)
{
  switch (rng() % 4)
  {
  case 0:
    break;
  case 1: {
    const auto until = clock_type::now() + std::chrono::nanoseconds(rng() % 20000);
    while (clock_type::now() < until)
    {
    }
    break;
  }
  case 2:
    std::this_thread::yield();
    break;
  default:
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 200));
  }
}

// Computes (spins, keeping this thread's worker busy) until `done()` or the
// deadline; returns done().
template <class Done>
bool compute_until(Done done)
{
  const auto start = clock_type::now();
  while (!done() && clock_type::now() - start < deadline)
  {
  }
  return done();
}

// Runs `make_ready(done)` in a handler that then computes until `done` is
// set or the deadline passes; returns false on a missed deadline.
template <class MakeReady>
bool busy_iteration(nanorun::runtime& rt, MakeReady make_ready)
{
  std::atomic<int> result{0}; // 1: ran in time; 2: missed
  asio::post(rt, [&] {
    std::atomic<bool> done{false};
    make_ready(done);
    const bool ok = compute_until([&] { return done.load(std::memory_order_acquire); });
    while (!done.load(std::memory_order_acquire)) // it must not outlive us
      std::this_thread::yield();
    result.store(ok ? 1 : 2);
  });
  while (result.load() == 0)
    std::this_thread::yield();
  return result.load() == 1;
}

void fork_posts(int threads)
{
  nanorun::test::watchdog dog("fork posts under a deadline", 600s);
  nanorun::runtime rt(threads);
  workers w(rt, threads);
  std::minstd_rand rng(static_cast<unsigned>(threads) * 7919u);
  int missed = 0;
  for (int i = 0; i < iterations; ++i)
  {
    jitter(rng); // let the other workers spin, park, or not
    missed += !busy_iteration(rt, [&](std::atomic<bool>& done) {
      asio::post(rt, [&done] { done.store(true, std::memory_order_release); });
    });
  }
  BOOST_TEST(missed == 0);
}

void armed_timers(int threads)
{
  nanorun::test::watchdog dog("timers under a deadline", 600s);
  nanorun::runtime rt(threads);
  workers w(rt, threads);
  std::minstd_rand rng(static_cast<unsigned>(threads) * 104729u);
  int missed = 0;
  for (int i = 0; i < iterations; ++i)
  {
    jitter(rng);
    nanorun::steady_timer t(rt);
    const auto after = std::chrono::microseconds(rng() % 3000);
    missed += !busy_iteration(rt, [&](std::atomic<bool>& done) {
      t.expires_after(after);
      t.async_wait([&done](boost::system::error_code) { done.store(true, std::memory_order_release); });
    });
  }
  BOOST_TEST(missed == 0);
}

template <class Tcp>
void started_reads(int threads)
{
  nanorun::test::watchdog dog("reads under a deadline", 600s);
  nanorun::runtime rt(threads);
  workers w(rt, threads);
  typename Tcp::acceptor acc(rt, typename Tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  typename Tcp::socket a(rt), b(rt);
  a.connect(acc.local_endpoint());
  acc.accept(b);
  std::minstd_rand rng(static_cast<unsigned>(threads) * 31u);
  int missed = 0;
  for (int i = 0; i < iterations; ++i)
  {
    jitter(rng);
    const auto delay = std::chrono::microseconds(rng() % 1000);
    std::thread writer;
    char in = 0;
    missed += !busy_iteration(rt, [&](std::atomic<bool>& done) {
      a.async_read_some(asio::buffer(&in, 1),
                        [&done](boost::system::error_code, std::size_t) { done.store(true, std::memory_order_release); });
      writer = std::thread([&b, delay] {
        std::this_thread::sleep_for(delay);
        const char c = 'x';
        asio::write(b, asio::buffer(&c, 1));
      });
    });
    writer.join();
  }
  BOOST_TEST(missed == 0);
}

// The deputy driver (scheduler.hpp, I/O LOCALITY): a client and a server
// coroutine on one runtime ping-pong in bursts, so that one worker polls the
// I/O and the driver waits as a deputy; then the client writes and computes
// in its handler until the server has read the byte. Only another worker can
// run the server now, and only once the deputy has noticed that the poller
// stopped polling and moved to the reactor. Each such read has a deadline.
// With `timer`, the client arms a timer (0-2 ms) instead of writing, and
// computes until it has fired: arming wakes the deputy, which holds the
// driver role, as it would wake a driver in the reactor.
void while_the_polling_peer_computes(int threads, bool timer)
{
  nanorun::test::watchdog dog("work made ready while the polling peer computes", 600s);
  using tcp = nanorun::ip::tcp;
  nanorun::runtime rt(threads);
  workers w(rt, threads);
  tcp::acceptor acc(rt, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  tcp::socket a(rt), b(rt);
  a.connect(acc.local_endpoint());
  acc.accept(b);
  std::atomic<int> read_by_server{0};
  std::promise<void> server_done;
  asio::co_spawn(
      rt,
      [&]() -> asio::awaitable<void> {
        char c = 0;
        for (;;)
        {
          auto [ec, n] = co_await b.async_read_some(asio::buffer(&c, 1), asio::as_tuple(asio::use_awaitable));
          if (ec)
            break;
          read_by_server.fetch_add(1, std::memory_order_release);
          auto [wec, wn] = co_await asio::async_write(b, asio::buffer(&c, 1), asio::as_tuple(asio::use_awaitable));
          if (wec)
            break;
        }
        server_done.set_value();
      },
      asio::detached);
  std::promise<int> client_done;
  int wrong_echoes = 0; // read on the main thread after client_done
  nanorun::steady_timer t(rt);
  asio::co_spawn(
      rt,
      [&]() -> asio::awaitable<void> {
        std::minstd_rand rng(static_cast<unsigned>(threads) * 7u);
        const char out = 'x';
        char in = 0;
        int missed = 0;
        for (int i = 0; i < iterations; ++i)
        {
          const int burst = static_cast<int>(rng() % 200);
          for (int k = 0; k < burst; ++k)
          {
            co_await asio::async_write(a, asio::buffer(&out, 1), asio::use_awaitable);
            co_await asio::async_read(a, asio::buffer(&in, 1), asio::use_awaitable);
          }
          if (timer)
          {
            auto fired = std::make_shared<std::atomic<bool>>(false);
            t.expires_after(std::chrono::microseconds(rng() % 2000));
            t.async_wait([fired](boost::system::error_code) { fired->store(true, std::memory_order_release); });
            missed += !compute_until([&] { return fired->load(std::memory_order_acquire); });
            while (!fired->load(std::memory_order_acquire)) // it must not outlive the timer's next arming
              std::this_thread::yield();
            continue;
          }
          const int before = read_by_server.load(std::memory_order_acquire);
          co_await asio::async_write(a, asio::buffer(&out, 1), asio::use_awaitable);
          missed += !compute_until([&] { return read_by_server.load(std::memory_order_acquire) != before; });
          co_await asio::async_read(a, asio::buffer(&in, 1), asio::use_awaitable);
          wrong_echoes += in != out;
        }
        client_done.set_value(missed);
      },
      asio::detached);
  BOOST_TEST(client_done.get_future().get() == 0);
  BOOST_TEST(wrong_echoes == 0);
  a.close(); // the server reads end of file
  server_done.get_future().get();
}

// A handler that defers itself is a chain of continuations (each waits in
// the LIFO slot for the one running). On one worker nothing else runs
// between its links, so timers and I/O are seen only by the worker's own
// polls between handlers, which the LIFO slot may put off for a few handlers
// (I/O LOCALITY), never for good. The chain runs until what it waits for has
// completed, or fails at the deadline.
template <class Start>
void completes_during_a_chain_of_continuations(Start start)
{
  nanorun::test::watchdog dog("a chain of continuations", 600s);
  nanorun::runtime rt(1);
  std::atomic<bool> completed{false};
  int outcome = 0; // 1: completed during the chain; 2: deadline
  long links = 0;
  const auto begin = clock_type::now();
  std::function<void()> link = [&] {
    ++links;
    if (completed.load(std::memory_order_acquire))
      outcome = 1;
    else if (clock_type::now() - begin > deadline)
      outcome = 2;
    else
      asio::defer(rt.get_executor(), [&] { link(); });
  };
  auto cleanup = start(rt, completed);
  asio::post(rt, [&] { asio::defer(rt.get_executor(), [&] { link(); }); });
  rt.run();
  BOOST_TEST(outcome == 1);
  BOOST_TEST(links > 1);
}

} // namespace

BOOST_AUTO_TEST_SUITE(wakeup_deadlines)

BOOST_AUTO_TEST_CASE(a_timer_fires_during_a_chain_of_continuations)
{
  completes_during_a_chain_of_continuations([](nanorun::runtime& rt, std::atomic<bool>& completed) {
    auto t = std::make_unique<nanorun::steady_timer>(rt, 1ms);
    t->async_wait([&completed](boost::system::error_code) { completed.store(true, std::memory_order_release); });
    return t;
  });
}

BOOST_AUTO_TEST_CASE(a_read_completes_during_a_chain_of_continuations)
{
  using tcp = nanorun::ip::tcp;
  struct sockets
  {
    explicit sockets(nanorun::runtime& rt)
        : acc(rt, tcp::endpoint(asio::ip::address_v4::loopback(), 0)), a(rt), b(rt)
    {
      a.connect(acc.local_endpoint());
      acc.accept(b);
    }
    tcp::acceptor acc;
    tcp::socket a, b;
    char in = 0;
    std::thread writer;
    ~sockets() { writer.join(); }
  };
  completes_during_a_chain_of_continuations([](nanorun::runtime& rt, std::atomic<bool>& completed) {
    auto s = std::make_unique<sockets>(rt);
    s->a.async_read_some(asio::buffer(&s->in, 1), [&completed](boost::system::error_code, std::size_t) {
      completed.store(true, std::memory_order_release);
    });
    s->writer = std::thread([&b = s->b] {
      std::this_thread::sleep_for(1ms);
      const char c = 'x';
      asio::write(b, asio::buffer(&c, 1));
    });
    return s;
  });
}

BOOST_AUTO_TEST_CASE(reads_while_the_polling_peer_computes_two_workers) { while_the_polling_peer_computes(2, false); }
BOOST_AUTO_TEST_CASE(reads_while_the_polling_peer_computes_four_workers) { while_the_polling_peer_computes(4, false); }
BOOST_AUTO_TEST_CASE(timers_while_the_polling_peer_computes_two_workers) { while_the_polling_peer_computes(2, true); }

BOOST_AUTO_TEST_CASE(fork_posts_two_workers) { fork_posts(2); }
BOOST_AUTO_TEST_CASE(fork_posts_four_workers) { fork_posts(4); }
BOOST_AUTO_TEST_CASE(timers_armed_by_a_busy_handler_two_workers) { armed_timers(2); }
BOOST_AUTO_TEST_CASE(timers_armed_by_a_busy_handler_four_workers) { armed_timers(4); }
BOOST_AUTO_TEST_CASE(reads_started_by_a_busy_handler_two_workers) { started_reads<nanorun::ip::tcp>(2); }
BOOST_AUTO_TEST_CASE(reads_started_by_a_busy_handler_four_workers) { started_reads<nanorun::ip::tcp>(4); }
BOOST_AUTO_TEST_CASE(asio_reads_through_the_bridge_two_workers) { started_reads<asio::ip::tcp>(2); }

BOOST_AUTO_TEST_CASE(asio_timers_through_the_bridge_two_workers)
{
  nanorun::test::watchdog dog("Asio timers under a deadline", 600s);
  nanorun::runtime rt(2);
  workers w(rt, 2);
  std::minstd_rand rng(17u);
  int missed = 0;
  for (int i = 0; i < iterations; ++i)
  {
    jitter(rng);
    asio::steady_timer t(rt);
    const auto after = std::chrono::microseconds(rng() % 3000);
    missed += !busy_iteration(rt, [&](std::atomic<bool>& done) {
      t.expires_after(after);
      t.async_wait([&done](boost::system::error_code) { done.store(true, std::memory_order_release); });
    });
  }
  BOOST_TEST(missed == 0);
}

// Many connections through the bridge at once, as a server under load sees
// them: readiness of Asio's epoll instance arrives while one worker is inside
// Asio's reactor and another is woken for it. Every round trip has a deadline;
// a lost readiness event stalls its connection (it once did: an edge of the
// nested epoll instance consumed by a worker that found Asio's task taken).
BOOST_AUTO_TEST_CASE(asio_echo_with_many_connections_through_the_bridge)
{
  nanorun::test::watchdog dog("Asio echo through the bridge", 600s);
  constexpr int connections = 48;
#if defined(NANORUN_STRESS) && NANORUN_STRESS
  constexpr int rounds = 100;
#else
  constexpr int rounds = 300;
#endif
  nanorun::runtime rt(2);
  asio::ip::tcp::acceptor acc(rt, asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  std::vector<std::unique_ptr<asio::ip::tcp::socket>> server_side;
  // Echo sessions on a strand each, callback style, as Beast's servers are.
  struct session : std::enable_shared_from_this<session>
  {
    explicit session(asio::ip::tcp::socket s) : socket(std::move(s)), strand(socket.get_executor()) {}
    void read()
    {
      socket.async_read_some(asio::buffer(buf), asio::bind_executor(strand, [self = shared_from_this()](
                                                                                boost::system::error_code ec, std::size_t n) {
                               if (!ec)
                                 asio::async_write(self->socket, asio::buffer(self->buf, n),
                                                   asio::bind_executor(self->strand, [self](boost::system::error_code ec2,
                                                                                            std::size_t) {
                                                     if (!ec2)
                                                       self->read();
                                                   }));
                             }));
    }
    asio::ip::tcp::socket socket;
    asio::strand<asio::any_io_executor> strand;
    char buf[64];
  };
  std::function<void()> accept_one = [&] {
    acc.async_accept([&](boost::system::error_code ec, asio::ip::tcp::socket s) {
      if (ec)
        return;
      std::make_shared<session>(std::move(s))->read();
      accept_one();
    });
  };
  accept_one();
  workers w(rt, 2);
  // Clients: plain blocking sockets, one thread each of a few connections.
  std::atomic<long long> worst_us{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> clients;
  const auto ep = acc.local_endpoint();
  for (int t = 0; t < 4; ++t)
    clients.emplace_back([&, t] {
      asio::io_context io;
      std::vector<asio::ip::tcp::socket> socks;
      for (int i = 0; i < connections / 4; ++i)
      {
        socks.emplace_back(io);
        socks.back().connect(ep);
      }
      for (int r = 0; r < rounds; ++r)
        for (auto& s : socks)
        {
          const char out[4] = {static_cast<char>(t), static_cast<char>(r), 'x', 'y'};
          char in[4];
          const auto start = clock_type::now();
          boost::system::error_code ec;
          asio::write(s, asio::buffer(out), ec);
          // A stalled connection would block here for good: give up after
          // the deadline instead (the watchdog is the last resort).
          s.non_blocking(true);
          std::size_t got = 0;
          while (!ec && got < sizeof in && clock_type::now() - start < deadline)
          {
            got += s.read_some(asio::buffer(in + got, sizeof in - got), ec);
            if (ec == asio::error::would_block)
            {
              ec.clear();
              std::this_thread::yield();
            }
          }
          s.non_blocking(false);
          const auto us = std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - start).count();
          long long prev = worst_us.load();
          while (us > prev && !worst_us.compare_exchange_weak(prev, us))
          {
          }
          if (ec || got != sizeof in || std::memcmp(in, out, sizeof in) != 0)
            ++failed;
        }
    });
  for (auto& c : clients)
    c.join();
  acc.close();
  BOOST_TEST(failed.load() == 0);
  BOOST_TEST_MESSAGE("worst round trip " << worst_us.load() << " us");
}

// One connection, a coroutine echoing through Asio's own socket on two
// workers, against a blocking client: the shape in which each message is
// collected by one worker while the other is woken by the re-armed watch and
// finds Asio's task operation taken. A worker that then left the watch
// disarmed stalled the connection for good (nanorun_net_bench's ping-pong
// once saw it after about 1800 echoes).
BOOST_AUTO_TEST_CASE(asio_coroutine_ping_pong_through_the_bridge)
{
  nanorun::test::watchdog dog("Asio coroutine ping-pong through the bridge", 600s);
#if defined(NANORUN_STRESS) && NANORUN_STRESS
  constexpr int rounds = 3000;
#else
  constexpr int rounds = 20000;
#endif
  nanorun::runtime rt(2);
  asio::ip::tcp::acceptor acc(rt, asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  asio::co_spawn(
      rt,
      [&acc]() -> asio::awaitable<void> {
        asio::ip::tcp::socket s = co_await acc.async_accept(asio::use_awaitable);
        char buf[64];
        for (;;)
        {
          auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
          if (ec)
            co_return;
          co_await asio::async_write(s, asio::buffer(buf, n), asio::use_awaitable);
        }
      },
      asio::detached);
  workers w(rt, 2);
  asio::io_context io;
  asio::ip::tcp::socket c(io);
  c.connect(acc.local_endpoint());
  c.set_option(asio::ip::tcp::no_delay(true));
  c.non_blocking(true);
  int failed = 0;
  long long worst_us = 0;
  for (int r = 0; r < rounds && failed == 0; ++r)
  {
    const char out[8] = {'p', 'i', 'n', 'g', static_cast<char>(r), static_cast<char>(r >> 8), 0, 1};
    char in[8];
    const auto start = clock_type::now();
    boost::system::error_code ec;
    std::size_t put = 0;
    while (!ec && put < sizeof out)
    {
      put += c.write_some(asio::buffer(out + put, sizeof out - put), ec);
      if (ec == asio::error::would_block)
        ec.clear();
    }
    // Sleep in the kernel until the echo arrives, as a real client does (a
    // spinning one would change which worker gets a core when).
    std::size_t got = 0;
    while (!ec && got < sizeof in && clock_type::now() - start < deadline)
    {
      pollfd p{c.native_handle(), POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0)
        continue;
      got += c.read_some(asio::buffer(in + got, sizeof in - got), ec);
      if (ec == asio::error::would_block)
        ec.clear();
    }
    worst_us = std::max<long long>(
        worst_us, std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - start).count());
    if (ec || got != sizeof in || std::memcmp(in, out, sizeof in) != 0)
    {
      ++failed;
      BOOST_TEST_MESSAGE("round " << r << ": " << (ec ? ec.message() : "no complete echo within the deadline"));
    }
  }
  c.close();
  acc.close();
  BOOST_TEST(failed == 0);
  BOOST_TEST_MESSAGE("worst round trip " << worst_us << " us");
  if (failed)
    rt.stop(); // the stalled session would keep run() going for good
}

BOOST_AUTO_TEST_SUITE_END()
