// Sockets under concurrency. The design under attack (src/reactor/reactor.hpp,
// src/runtime/io_service.cpp): every descriptor has a state with three queues
// under one mutex; operations are attempted speculatively, then on readiness
// events, on whichever worker sees the event; completions are queued on the
// runtime, never run inside the call that produced them; per-operation
// cancellation finds its operation by key; states are pooled and reused, so a
// stale event may reach a state that now belongs to another socket; one
// parked worker waits in the reactor and must be woken by foreign threads.
//
// Handlers report into atomics; Boost.Test is not thread-safe, so assertions
// are made on the test's own thread once every other thread has been joined.
#include "stress/echo_server.hpp"
#include "stress/runners.hpp"
#include "stress/watchdog.hpp"
#include "unit/io/io_test_support.hpp"

#include <nanorun/detail/config.hpp>
#include <nanorun/steady_timer.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

using namespace io_test;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

constexpr bool under_tsan = nanorun::detail::built_with_tsan;

// Work shrinks under TSan, which slows this CPU-bound code 5-15x.
constexpr int scaled(int n) { return under_tsan ? std::max(1, n / 4) : n; }
constexpr auto watchdog_limit = std::chrono::seconds(under_tsan ? 300 : 60);

// xorshift64*; one per thread or per task, never shared.
class rng
{
public:
  explicit rng(std::uint64_t seed) noexcept : s_(seed * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull)
  {
    if (s_ == 0)
      s_ = 1;
  }
  std::uint64_t next() noexcept
  {
    s_ ^= s_ >> 12;
    s_ ^= s_ << 25;
    s_ ^= s_ >> 27;
    return s_ * 0x2545f4914f6cdd1dull;
  }
  std::uint64_t below(std::uint64_t n) noexcept { return next() % n; }
  bool chance(unsigned percent) noexcept { return below(100) < percent; }

private:
  std::uint64_t s_;
};

using nanorun::test::runners;

// What happened to a population of operations.
struct tally
{
  std::atomic<long> started{0};
  std::atomic<long> ran{0};
  std::atomic<long> succeeded{0};
  std::atomic<long> aborted{0};       // operation_aborted
  std::atomic<long> bad_descriptor{0};
  std::atomic<long> eof{0};
  std::atomic<long> other{0};         // any other error: never expected
  std::atomic<long> twice{0};         // invocations after the first
  std::atomic<long> dropped{0};       // destroyed without being invoked
  std::atomic<long> wrong_thread{0};  // not on the executor it had to run on
};

// One operation's record, co-owned by its handler and the handler's copies.
class op_record
{
public:
  explicit op_record(tally& t) : t_(t) { t_.started.fetch_add(1, std::memory_order_relaxed); }
  ~op_record()
  {
    if (calls_.load(std::memory_order_relaxed) == 0)
      t_.dropped.fetch_add(1, std::memory_order_relaxed);
  }
  op_record(const op_record&) = delete;
  op_record& operator=(const op_record&) = delete;

  void complete(const error_code& ec)
  {
    if (calls_.fetch_add(1, std::memory_order_relaxed) != 0)
      t_.twice.fetch_add(1, std::memory_order_relaxed);
    if (!ec)
      t_.succeeded.fetch_add(1, std::memory_order_relaxed);
    else if (ec == asio::error::operation_aborted)
      t_.aborted.fetch_add(1, std::memory_order_relaxed);
    else if (ec == asio::error::bad_descriptor)
      t_.bad_descriptor.fetch_add(1, std::memory_order_relaxed);
    else if (ec == asio::error::eof)
      t_.eof.fetch_add(1, std::memory_order_relaxed);
    else
      t_.other.fetch_add(1, std::memory_order_relaxed);
    t_.ran.fetch_add(1, std::memory_order_release);
  }

private:
  tally& t_;
  std::atomic<int> calls_{0};
};

void check_exactly_once(const tally& t, const char* what)
{
  BOOST_TEST_MESSAGE(what << ": " << t.started.load() << " operations, " << t.succeeded.load() << " succeeded, "
                          << t.aborted.load() << " aborted, " << t.bad_descriptor.load() << " bad_descriptor, "
                          << t.eof.load() << " eof");
  BOOST_TEST_CONTEXT(what)
  {
    BOOST_TEST(t.started.load() > 0);
    BOOST_TEST(t.twice.load() == 0);
    BOOST_TEST(t.dropped.load() == 0);
    BOOST_TEST(t.ran.load() == t.started.load());
    BOOST_TEST(t.other.load() == 0);
    BOOST_TEST(t.wrong_thread.load() == 0);
  }
}

std::uint64_t seed_for(int i) { return 0x5eed0000u + static_cast<std::uint64_t>(i) * 7919u; }

// ---------------------------------------------------------------------------
// 1. Many connections echoing at once; every byte checked.

using nanorun::test::echo_acceptor;
using nanorun::test::echo_server;
using nanorun::test::echo_stats;

asio::awaitable<void> echo_client(tcp::endpoint ep, int messages, std::uint64_t seed, echo_stats& st)
{
  tcp::socket s(co_await asio::this_coro::executor);
  co_await s.async_connect(ep, asio::use_awaitable);
  rng r(seed);
  std::vector<unsigned char> out, in;
  for (int m = 0; m < messages; ++m)
  {
    const std::size_t len = r.chance(10) ? 1 + r.below(65536) : 1 + r.below(4096);
    out.resize(len);
    for (auto& b : out)
      b = static_cast<unsigned char>(r.next());
    in.assign(len, 0);
    // Written and read at once: a large message would otherwise fill both
    // directions' buffers and stall.
    co_await (asio::async_write(s, asio::buffer(out), asio::use_awaitable) &&
              asio::async_read(s, asio::buffer(in), asio::use_awaitable));
    if (in != out)
      st.mismatches.fetch_add(1);
    st.bytes_checked.fetch_add(static_cast<long>(len));
  }
  s.shutdown(tcp::socket::shutdown_send);
  char b;
  auto [ec, n] = co_await s.async_read_some(asio::buffer(&b, 1), asio::as_tuple(asio::use_awaitable));
  if (ec != asio::error::eof)
    st.errors.fetch_add(1);
  st.clients_done.fetch_add(1);
}

void echo_case(const char* backend, int threads, int connections, int messages)
{
  nanorun::test::watchdog wd("socket echo", watchdog_limit);
  auto rt = runtime_on(backend, threads);
  echo_stats st;
  std::atomic<long> coroutine_failures{0};
  {
    tcp::acceptor acc(*rt, loopback());
    auto count_failure = [&](std::exception_ptr e) {
      if (e)
        coroutine_failures.fetch_add(1);
    };
    asio::co_spawn(*rt, echo_acceptor(acc, connections, st), count_failure);
    for (int i = 0; i < connections; ++i)
      asio::co_spawn(asio::make_strand(rt->get_executor()),
                     echo_client(acc.local_endpoint(), messages, seed_for(i), st), count_failure);
    runners run(*rt, threads);
    run.join();
  }
  BOOST_TEST_MESSAGE("echo " << backend << "/" << threads << ": " << st.bytes_checked.load() << " bytes checked");
  BOOST_TEST(coroutine_failures.load() == 0);
  BOOST_TEST(st.mismatches.load() == 0);
  BOOST_TEST(st.errors.load() == 0);
  BOOST_TEST(st.clients_done.load() == connections);
  BOOST_TEST(st.servers_done.load() == connections);
  BOOST_TEST(st.bytes_checked.load() > 0);
}

// ---------------------------------------------------------------------------
// 2. close() racing pending reads.
//
// Half of the connections follow the mutex discipline (every call on the
// server socket holds its mutex; reads are re-armed from workers, close comes
// from a foreign thread), half the strand discipline (the socket's executor
// is a strand; close is posted to it). Re-arms sometimes ignore the closed
// flag, so some reads start on a closed socket (bad_descriptor).

struct close_conn
{
  close_conn(nanorun::runtime& rt, bool use_strand)
      : strand(asio::make_strand(rt.get_executor())), on_strand(use_strand),
        p(connected_pair(use_strand ? asio::any_io_executor(strand) : asio::any_io_executor(rt.get_executor())))
  {
  }
  asio::strand<nanorun::runtime::executor_type> strand;
  const bool on_strand;
  tcp_pair p;
  std::mutex m; // mutex discipline only
  bool closed = false;
  char buf[512];
};

class close_race
{
public:
  close_race(nanorun::runtime& rt, tally& t, int conns) : t_(t)
  {
    for (int i = 0; i < conns; ++i)
      conns_.push_back(std::make_unique<close_conn>(rt, i % 2 == 1));
  }

  void start_all()
  {
    for (auto& c : conns_)
    {
      std::lock_guard lock(c->m);
      start_read(*c);
    }
  }

  // From a foreign thread: closes every server socket at random moments.
  void close_all(rng& r)
  {
    std::vector<close_conn*> order;
    for (auto& c : conns_)
      order.push_back(c.get());
    for (std::size_t i = order.size(); i > 1; --i)
      std::swap(order[i - 1], order[r.below(i)]);
    for (close_conn* c : order)
    {
      std::this_thread::sleep_for(std::chrono::microseconds(r.below(3000)));
      if (c->on_strand)
        asio::post(c->strand, [c] {
          c->closed = true;
          c->p.server.close();
        });
      else
      {
        std::lock_guard lock(c->m);
        c->closed = true;
        c->p.server.close();
      }
    }
  }

  // From a foreign thread: keeps data flowing until told to stop.
  void write_until(const std::atomic<bool>& stop, rng& r)
  {
    while (!stop.load())
    {
      close_conn& c = *conns_[r.below(conns_.size())];
      const std::size_t n = 1 + r.below(700);
      std::vector<char> data(n, 'd');
      error_code ec; // reset or broken pipe once the server side is closed
      c.p.client.write_some(asio::buffer(data), ec);
      if (r.chance(20))
        std::this_thread::yield();
    }
  }

private:
  // With the connection serialised (its mutex held, or on its strand).
  void start_read(close_conn& c)
  {
    auto rec = std::make_shared<op_record>(t_);
    c.p.server.async_read_some(asio::buffer(c.buf), [this, &c, rec](error_code ec, std::size_t) {
      rec->complete(ec);
      if (c.on_strand && !c.strand.running_in_this_thread())
        t_.wrong_thread.fetch_add(1, std::memory_order_relaxed);
      if (ec)
        return;
      thread_local rng r(seed_for(static_cast<int>(std::hash<std::thread::id>()(std::this_thread::get_id()) & 0xffff)));
      const bool ignore_closed = r.chance(30);
      if (c.on_strand)
      {
        if (!c.closed || ignore_closed)
          start_read(c);
      }
      else
      {
        std::lock_guard lock(c.m);
        if (!c.closed || ignore_closed)
          start_read(c);
      }
    });
  }

  tally& t_;
  std::vector<std::unique_ptr<close_conn>> conns_;
};

void close_race_case(int threads)
{
  nanorun::test::watchdog wd("socket close race", watchdog_limit);
  nanorun::runtime rt(threads);
  tally t;
  {
    close_race race(rt, t, 128);
    race.start_all();
    runners run(rt, threads);
    std::atomic<bool> stop{false};
    std::thread writer([&] {
      rng r(seed_for(1));
      race.write_until(stop, r);
    });
    std::thread closer([&] {
      rng r(seed_for(2));
      race.close_all(r);
    });
    closer.join();
    run.join(); // every server socket closed: every read has completed
    stop = true;
    writer.join();
  }
  check_exactly_once(t, "close race");
  BOOST_TEST(t.aborted.load() + t.bad_descriptor.load() > 0);
  BOOST_TEST(t.eof.load() == 0);
}

// ---------------------------------------------------------------------------
// 3. Per-operation cancellation racing completion. Each connection's reads
// are bound to its signal and run on its strand; foreign threads post emits
// of every type to the strand while data arrives. A cancelled read consumes
// nothing, so every byte written must be read exactly once, in order.

struct cancel_conn
{
  explicit cancel_conn(nanorun::runtime& rt)
      : strand(asio::make_strand(rt.get_executor())), p(connected_pair(rt))
  {
  }
  asio::strand<nanorun::runtime::executor_type> strand;
  tcp_pair p;
  asio::cancellation_signal sig; // on the strand only
  char buf[1024];
  std::atomic<long> received{0}; // written on the strand only
  std::atomic<long> sent{0};     // the writer thread's
  std::atomic<long> out_of_order{0};
  std::atomic<bool> finished{false};
};

void start_cancellable_read(cancel_conn& c, tally& t)
{
  auto rec = std::make_shared<op_record>(t);
  c.p.server.async_read_some(
      asio::buffer(c.buf),
      asio::bind_cancellation_slot(c.sig.slot(), asio::bind_executor(c.strand, [&c, &t, rec](error_code ec,
                                                                                              std::size_t n) {
        rec->complete(ec);
        if (!c.strand.running_in_this_thread())
          t.wrong_thread.fetch_add(1, std::memory_order_relaxed);
        if (ec == asio::error::eof)
        {
          c.finished = true;
          return;
        }
        if (!ec)
        {
          for (std::size_t i = 0; i < n; ++i)
            if (static_cast<unsigned char>(c.buf[i]) !=
                static_cast<unsigned char>((c.received.load(std::memory_order_relaxed) + static_cast<long>(i)) & 0xff))
            {
              c.out_of_order.fetch_add(1, std::memory_order_relaxed);
              break;
            }
          c.received.fetch_add(static_cast<long>(n), std::memory_order_relaxed);
        }
        else if (ec != asio::error::operation_aborted)
        {
          c.finished = true;
          return;
        }
        start_cancellable_read(c, t);
      })));
}

void cancel_race_case(const char* backend, int threads)
{
  nanorun::test::watchdog wd("socket cancellation race", watchdog_limit);
  auto rt_ptr = runtime_on(backend, threads);
  nanorun::runtime& rt = *rt_ptr;
  tally t;
  constexpr int conn_count = 16;
  std::vector<std::unique_ptr<cancel_conn>> conns;
  for (int i = 0; i < conn_count; ++i)
    conns.push_back(std::make_unique<cancel_conn>(rt));
  for (auto& c : conns)
    asio::post(c->strand, [&c = *c, &t] { start_cancellable_read(c, t); });
  std::atomic<long> emits{0};
  std::atomic<int> phase{0}; // 0 writing, 1 waiting for an abort, 2 waiting for end of stream
  wd.set_report([&] {
    std::fprintf(stderr, "cancellation race: phase %d, %ld emits, %ld reads started, %ld ran, %ld aborted, %ld eof\n",
                 phase.load(), emits.load(), t.started.load(), t.ran.load(), t.aborted.load(), t.eof.load());
    for (std::size_t i = 0; i < conns.size(); ++i)
      std::fprintf(stderr, "  connection %zu: sent %ld, received %ld, finished %d\n", i, conns[i]->sent.load(),
                   conns[i]->received.load(), conns[i]->finished.load() ? 1 : 0);
  });
  int stalled = 0;
  {
    runners run(rt, threads);
    std::atomic<bool> writing{true};
    std::thread writer([&] {
      rng r(seed_for(3));
      const int rounds = scaled(60000);
      std::vector<unsigned char> data;
      for (int i = 0; i < rounds; ++i)
      {
        cancel_conn& c = *conns[r.below(conns.size())];
        const long at = c.sent.load(std::memory_order_relaxed);
        data.resize(1 + r.below(300));
        for (std::size_t k = 0; k < data.size(); ++k)
          data[k] = static_cast<unsigned char>((at + static_cast<long>(k)) & 0xff);
        asio::write(c.p.client, asio::buffer(data));
        c.sent.store(at + static_cast<long>(data.size()), std::memory_order_relaxed);
        if (r.chance(10))
          std::this_thread::yield();
      }
      // The case must see a cancellation abort a read, not only race with
      // one. On a loaded machine the emitter may not have run while data
      // kept every read busy: with the stream paused, the reads wait, and the
      // emitter's next cancellation aborts one (a bounded wait: if none ever
      // does, the check below fails).
      phase = 1;
      for (int w = 0; w < 3000 && t.aborted.load() == 0; ++w)
        std::this_thread::sleep_for(10ms);
      for (auto& c : conns)
        c->p.client.shutdown(tcp::socket::shutdown_send);
      writing = false;
    });
    std::thread emitter([&] {
      rng r(seed_for(4));
      const asio::cancellation_type types[] = {asio::cancellation_type::terminal, asio::cancellation_type::partial,
                                               asio::cancellation_type::total, asio::cancellation_type::all};
      while (writing.load())
      {
        cancel_conn& c = *conns[r.below(conns.size())];
        const auto type = types[r.below(4)];
        asio::post(c.strand, [&c, type] { c.sig.emit(type); });
        emits.fetch_add(1, std::memory_order_relaxed);
        if (r.chance(50))
          std::this_thread::yield();
      }
    });
    writer.join();
    emitter.join();
    phase = 2;
    // A connection whose end of stream never arrives would hang run(): after
    // a generous wait, such connections are closed (on their strands) so that
    // the case fails with a report instead.
    for (int w = 0; w < (under_tsan ? 600 : 200); ++w)
    {
      if (std::all_of(conns.begin(), conns.end(), [](auto& c) { return c->finished.load(); }))
        break;
      std::this_thread::sleep_for(100ms);
    }
    for (auto& c : conns)
      if (!c->finished.load())
      {
        ++stalled;
        BOOST_TEST_MESSAGE("stalled connection: sent " << c->sent.load() << ", received " << c->received.load()
                                                       << ", unread " << c->p.server.available());
        asio::post(c->strand, [&c = *c] { c.p.server.close(); });
      }
    run.join(); // every connection saw eof
  }
  check_exactly_once(t, "cancellation race");
  BOOST_TEST_MESSAGE("cancellation race: " << emits.load() << " emits");
  BOOST_TEST(stalled == 0, stalled << " connections never saw their end of stream");
  BOOST_TEST(t.aborted.load() > 0);
  BOOST_TEST(t.eof.load() == conn_count);
  for (auto& c : conns)
  {
    BOOST_TEST(c->finished.load());
    BOOST_TEST(c->received.load() == c->sent.load());
    BOOST_TEST(c->out_of_order.load() == 0);
  }
  wd.set_report({}); // before conns, declared after the watchdog, are destroyed
}

// ---------------------------------------------------------------------------
// 4. Many short-lived connections: descriptor states (and descriptor numbers)
// are reused all the time. Each client sends one byte; the server echoes it,
// except for multiples of 7, where it closes instead. A stale event or a
// mixed-up state would deliver the wrong byte or the wrong outcome.

struct churn_stats
{
  std::atomic<long> echoed{0};
  std::atomic<long> closed_as_expected{0};
  std::atomic<long> wrong{0};
  std::atomic<long> accepted{0};
};

asio::awaitable<void> churn_server_conn(tcp::socket s, churn_stats& st)
{
  unsigned char b = 0;
  auto [ec, n] = co_await s.async_read_some(asio::buffer(&b, 1), asio::as_tuple(asio::use_awaitable));
  if (ec || n != 1)
  {
    st.wrong.fetch_add(1);
    co_return;
  }
  if (b % 7 == 0)
    co_return; // closed without a reply
  auto [wec, wn] = co_await asio::async_write(s, asio::buffer(&b, 1), asio::as_tuple(asio::use_awaitable));
  if (wec)
  {
    st.wrong.fetch_add(1);
    co_return;
  }
  // Wait for the client to close first.
  auto [eec, en] = co_await s.async_read_some(asio::buffer(&b, 1), asio::as_tuple(asio::use_awaitable));
  if (eec != asio::error::eof)
    st.wrong.fetch_add(1);
}

asio::awaitable<void> churn_acceptor(tcp::acceptor& acc, int total, churn_stats& st)
{
  for (int i = 0; i < total; ++i)
  {
    tcp::socket s = co_await acc.async_accept(asio::use_awaitable);
    st.accepted.fetch_add(1);
    asio::co_spawn(asio::make_strand(s.get_executor()), churn_server_conn(std::move(s), st), asio::detached);
  }
}

asio::awaitable<void> churn_client(tcp::endpoint ep, int id, int count, churn_stats& st)
{
  const auto ex = co_await asio::this_coro::executor;
  for (int i = 0; i < count; ++i)
  {
    tcp::socket c(ex);
    co_await c.async_connect(ep, asio::use_awaitable);
    const auto b = static_cast<unsigned char>((id * 37 + i) & 0xff);
    co_await asio::async_write(c, asio::buffer(&b, 1), asio::use_awaitable);
    unsigned char reply = 0;
    auto [ec, n] = co_await c.async_read_some(asio::buffer(&reply, 1), asio::as_tuple(asio::use_awaitable));
    if (b % 7 == 0)
    {
      if (ec == asio::error::eof || ec == asio::error::connection_reset)
        st.closed_as_expected.fetch_add(1);
      else
        st.wrong.fetch_add(1);
    }
    else if (!ec && n == 1 && reply == b)
      st.echoed.fetch_add(1);
    else
      st.wrong.fetch_add(1);
  } // closed here, before the next connect reuses what it can
}

void churn_case(const char* backend, int threads, int total)
{
  nanorun::test::watchdog wd("socket churn", watchdog_limit);
  auto rt = runtime_on(backend, threads);
  churn_stats st;
  constexpr int clients = 8;
  const int per_client = std::max(1, total / clients);
  total = per_client * clients;
  std::atomic<long> failures{0};
  {
    tcp::acceptor acc(*rt, loopback());
    auto count_failure = [&](std::exception_ptr e) {
      if (e)
        failures.fetch_add(1);
    };
    asio::co_spawn(*rt, churn_acceptor(acc, total, st), count_failure);
    for (int i = 0; i < clients; ++i)
      asio::co_spawn(asio::make_strand(rt->get_executor()), churn_client(acc.local_endpoint(), i, per_client, st),
                     count_failure);
    runners run(*rt, threads);
    run.join();
  }
  BOOST_TEST(failures.load() == 0);
  BOOST_TEST(st.accepted.load() == total);
  BOOST_TEST(st.wrong.load() == 0);
  BOOST_TEST(st.echoed.load() + st.closed_as_expected.load() == total);
  BOOST_TEST(st.closed_as_expected.load() > 0);
}

// ---------------------------------------------------------------------------
// 5. Foreign-thread wake-ups: the only worker is parked in the reactor (no
// timers, nothing queued) and something happens on a plain std::thread:
//   0 data written to a read the worker is waiting on;
//   1 a read started from the foreign thread, data written later;
//   2 a read started from the foreign thread with data already there (it
//     completes at once, queued from the foreign thread);
//   3 a read waiting, then cancel() from the foreign thread;
//   4 a read waiting, then a per-operation cancel emitted from the foreign
//     thread (the emit is serialised with the op's initiation by the
//     foreign thread itself, which owns the signal).
// A lost wake-up hangs the iteration, and the watchdog fails the case.

class completion_latch
{
public:
  void set(error_code ec, std::size_t n)
  {
    std::lock_guard lock(m_);
    ec_ = ec;
    n_ = n;
    done_ = true;
    cv_.notify_all();
  }
  std::pair<error_code, std::size_t> wait()
  {
    std::unique_lock lock(m_);
    cv_.wait(lock, [this] { return done_; });
    done_ = false;
    return {ec_, n_};
  }

private:
  std::mutex m_;
  std::condition_variable cv_;
  bool done_ = false;
  error_code ec_;
  std::size_t n_ = 0;
};

void wakeup_case(const char* backend, int iterations)
{
  nanorun::test::watchdog wd("socket foreign wake-ups", watchdog_limit);
  auto rt = runtime_on(backend, 1);
  tcp_pair p = connected_pair(*rt);
  char buf[64];
  completion_latch latch;
  auto handler = [&latch](error_code ec, std::size_t n) { latch.set(ec, n); };
  long wrong = 0;
  {
    background worker(*rt, 1);
    std::thread foreign([&] {
      rng r(seed_for(5));
      asio::cancellation_signal sig;
      for (int i = 0; i < iterations; ++i)
      {
        const int kind = i % 5;
        const auto pause = std::chrono::microseconds(r.below(800));
        if (kind == 0)
          asio::post(*rt, [&] { p.server.async_read_some(asio::buffer(buf), handler); });
        else if (kind == 2)
        {
          p.client.write_some(asio::buffer("now", 3));
          p.server.wait(tcp::socket::wait_read);
        }
        if (kind == 1 || kind == 2 || kind == 3)
          p.server.async_read_some(asio::buffer(buf), handler);
        else if (kind == 4)
          p.server.async_read_some(asio::buffer(buf), asio::bind_cancellation_slot(sig.slot(), handler));
        std::this_thread::sleep_for(pause); // the worker parks meanwhile
        if (kind == 0 || kind == 1)
          p.client.write_some(asio::buffer("data", 4));
        else if (kind == 3)
          p.server.cancel();
        else if (kind == 4)
          sig.emit(asio::cancellation_type::terminal);
        const auto [ec, n] = latch.wait();
        const bool ok = kind == 0 || kind == 1   ? !ec && n == 4
                        : kind == 2              ? !ec && n == 3
                                                 : ec == asio::error::operation_aborted;
        wrong += !ok;
      }
    });
    foreign.join();
    worker.finish();
  }
  BOOST_TEST(wrong == 0);
}

} // namespace

BOOST_AUTO_TEST_SUITE(stress_socket)

BOOST_AUTO_TEST_CASE(echo_on_two_threads) { echo_case("epoll", 2, 50, scaled(48)); }
BOOST_AUTO_TEST_CASE(echo_on_four_threads) { echo_case("epoll", 4, 50, scaled(48)); }
BOOST_AUTO_TEST_CASE(echo_on_the_poll_backend) { echo_case("poll", 2, 50, scaled(24)); }

BOOST_AUTO_TEST_CASE(close_races_pending_reads_two_threads) { close_race_case(2); }
BOOST_AUTO_TEST_CASE(close_races_pending_reads_four_threads) { close_race_case(4); }

BOOST_AUTO_TEST_CASE(cancellation_races_completion_two_threads) { cancel_race_case("epoll", 2); }
BOOST_AUTO_TEST_CASE(cancellation_races_completion_four_threads) { cancel_race_case("epoll", 4); }
BOOST_AUTO_TEST_CASE(cancellation_races_completion_on_the_poll_backend) { cancel_race_case("poll", 2); }

BOOST_AUTO_TEST_CASE(short_lived_connections) { churn_case("epoll", 4, scaled(2000)); }
BOOST_AUTO_TEST_CASE(short_lived_connections_on_the_poll_backend) { churn_case("poll", 2, scaled(1000)); }

BOOST_AUTO_TEST_CASE(foreign_thread_wakeups) { wakeup_case("epoll", scaled(2000)); }
BOOST_AUTO_TEST_CASE(foreign_thread_wakeups_on_the_poll_backend) { wakeup_case("poll", scaled(2000)); }

BOOST_AUTO_TEST_SUITE_END()
