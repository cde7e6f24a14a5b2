// Asio conformance: Boost.Asio's OWN I/O objects (tcp acceptor and socket,
// steady_timer, signal_set) constructed on a nanorun::runtime. Asio serves
// them from its hidden scheduler thread; their completion handlers must still
// run on the runtime's run() threads, pending operations must count as work,
// per-operation cancellation must work against nanorun's own timer, they must
// interoperate with nanorun's sockets, and a runtime destroyed with operations
// pending must destroy the coroutine frames without invoking them.
#include <nanorun/runtime.hpp>
#include "conformance/common.hpp"
#include <nanorun/ip/tcp.hpp>
#include <nanorun/spawn.hpp>
#include <nanorun/steady_timer.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
using namespace boost::asio::experimental::awaitable_operators;
using namespace std::chrono_literals;
using std::chrono::steady_clock;

namespace {

using conformance::ex_t;

const tcp::endpoint loopback{asio::ip::address_v4::loopback(), 0};

// Counts handlers (coroutine resumptions) by whether they ran inside run().
struct thread_probe
{
  nanorun::runtime* rt;
  std::atomic<int> on{0}, off{0};
  explicit thread_probe(nanorun::runtime& r) : rt(&r) {}
  void check() { ++(rt->running_in_this_thread() ? on : off); }
};

// The watchdog: every thread runs the runtime for at most 10 s; a test then
// checks that its work finished (rather than hanging on a bug).
void run_on_threads(nanorun::runtime& rt, int threads)
{
  std::vector<std::thread> extra;
  for (int i = 1; i < threads; ++i)
    extra.emplace_back([&] { rt.run_for(10s); });
  rt.run_for(10s);
  for (auto& t : extra)
    t.join();
}

// Completion handler for co_spawn that records an exception.
struct record_done
{
  std::atomic<int>* done;
  std::atomic<int>* failed;
  void operator()(std::exception_ptr e) const { ++*(e ? failed : done); }
};

// Accepts one connection, then echoes until the peer shuts down its side.
template <class AwEx, class Acceptor>
asio::awaitable<void, AwEx> echo_server(Acceptor acc, thread_probe& p)
{
  constexpr asio::use_awaitable_t<AwEx> tok;
  auto s = co_await acc.async_accept(tok);
  p.check();
  char buf[64];
  for (;;)
  {
    auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), asio::as_tuple(tok));
    p.check();
    if (ec == asio::error::eof)
      break;
    if (ec)
      throw boost::system::system_error(ec);
    co_await asio::async_write(s, asio::buffer(buf, n), tok);
    p.check();
  }
}

// Connects, sends five messages and reads each echo back.
template <class AwEx, class Socket>
asio::awaitable<void, AwEx> echo_client(Socket c, tcp::endpoint ep, thread_probe& p, int* echoed)
{
  constexpr asio::use_awaitable_t<AwEx> tok;
  co_await c.async_connect(ep, tok);
  p.check();
  for (int i = 0; i < 5; ++i)
  {
    const std::string msg = "message " + std::to_string(i) + std::string(i * 7, 'x');
    co_await asio::async_write(c, asio::buffer(msg), tok);
    p.check();
    std::string back(msg.size(), '\0');
    co_await asio::async_read(c, asio::buffer(back), tok);
    p.check();
    if (back == msg)
      ++*echoed;
  }
  c.shutdown(tcp::socket::shutdown_send);
}

enum class made_from { runtime, executor, coroutine_executor };

void echo_case(made_from how, int threads)
{
  BOOST_TEST_CONTEXT("made_from=" << int(how) << " threads=" << threads)
  {
    nanorun::runtime rt(threads);
    thread_probe p(rt);
    std::atomic<int> done{0}, failed{0};
    int echoed = 0;
    const record_done rec{&done, &failed};
    switch (how)
    {
    case made_from::runtime: { // any_io_executor wrapping the runtime's executor
      tcp::acceptor acc(rt, loopback);
      const auto ep = acc.local_endpoint();
      asio::co_spawn(rt, echo_server<asio::any_io_executor>(std::move(acc), p), rec);
      asio::co_spawn(rt, echo_client<asio::any_io_executor>(tcp::socket(rt), ep, p, &echoed), rec);
      break;
    }
    case made_from::executor: { // typed on nanorun's executor
      asio::basic_socket_acceptor<tcp, ex_t> acc(rt.get_executor(), loopback);
      const auto ep = acc.local_endpoint();
      asio::co_spawn(rt.get_executor(), echo_server<ex_t>(std::move(acc), p), rec);
      asio::co_spawn(rt.get_executor(),
                     echo_client<ex_t>(asio::basic_stream_socket<tcp, ex_t>(rt.get_executor()), ep, p, &echoed), rec);
      break;
    }
    case made_from::coroutine_executor:
      asio::co_spawn(
          rt,
          [&]() -> asio::awaitable<void> {
            asio::any_io_executor ex = co_await asio::this_coro::executor;
            tcp::acceptor acc(ex, loopback);
            const auto ep = acc.local_endpoint();
            asio::co_spawn(ex, echo_server<asio::any_io_executor>(std::move(acc), p), rec);
            co_await echo_client<asio::any_io_executor>(tcp::socket(ex), ep, p, &echoed);
          },
          rec);
      break;
    }
    run_on_threads(rt, threads);
    BOOST_TEST(failed.load() == 0);
    BOOST_TEST(done.load() == 2);
    BOOST_TEST(echoed == 5);
    BOOST_TEST(p.off.load() == 0);
    BOOST_TEST(p.on.load() >= 1 + 5 * 2 + 1 + 5 * 2); // client steps + server steps
  }
}

// ---- destruction ---------------------------------------------------------------

// Lives in a coroutine frame; counts its own destruction (moved-from ones do not).
struct frame_probe
{
  std::atomic<int>* destroyed;
  explicit frame_probe(std::atomic<int>* d) noexcept : destroyed(d) {}
  frame_probe(frame_probe&& o) noexcept : destroyed(std::exchange(o.destroyed, nullptr)) {}
  ~frame_probe()
  {
    if (destroyed)
      ++*destroyed;
  }
};

asio::awaitable<void> read_forever(tcp::socket s, frame_probe probe, std::atomic<bool>* started,
                                   std::atomic<bool>* resumed)
{
  (void)probe;
  char buf[16];
  *started = true; // the read starts as this coroutine suspends, in the same handler
  co_await s.async_read_some(asio::buffer(buf), asio::use_awaitable);
  *resumed = true;
}

// Also keeps the read's peer alive: see destroy_with_asio_read_and_timer_pending.
asio::awaitable<void> wait_forever(tcp::socket peer, frame_probe probe, std::atomic<bool>* started,
                                   std::atomic<bool>* resumed)
{
  (void)peer, (void)probe;
  asio::steady_timer t(co_await asio::this_coro::executor, 1h);
  *started = true;
  co_await t.async_wait(asio::use_awaitable);
  *resumed = true;
}

} // namespace

BOOST_AUTO_TEST_SUITE(asio_bridge)

BOOST_AUTO_TEST_CASE(tcp_echo_one_thread)
{
  for (auto how : {made_from::runtime, made_from::executor, made_from::coroutine_executor})
    echo_case(how, 1);
}

BOOST_AUTO_TEST_CASE(tcp_echo_two_threads)
{
  for (auto how : {made_from::runtime, made_from::executor, made_from::coroutine_executor})
    echo_case(how, 2);
}

BOOST_AUTO_TEST_CASE(steady_timer_fires_not_before_expiry_and_keeps_run_alive)
{
  for (int threads : {1, 2})
  {
    nanorun::runtime rt(threads);
    asio::steady_timer t(rt, 30ms);
    const auto expiry = t.expiry();
    steady_clock::time_point fired_at{};
    error_code got = asio::error::would_block;
    bool on_runtime = false;
    t.async_wait([&](error_code ec) {
      fired_at = steady_clock::now();
      got = ec;
      on_runtime = rt.running_in_this_thread();
    });
    run_on_threads(rt, threads); // returns early (before the handler) if the wait is not work
    BOOST_TEST(!got.failed(), got.message());
    BOOST_TEST(on_runtime);
    BOOST_TEST((fired_at >= expiry));
    BOOST_TEST(rt.stopped());
  }
}

BOOST_AUTO_TEST_CASE(steady_timer_cancel_gives_operation_aborted)
{
  nanorun::runtime rt(2);
  asio::steady_timer t(rt, 1h);
  error_code got = asio::error::would_block;
  std::atomic<bool> on_runtime{false};
  t.async_wait([&](error_code ec) {
    got = ec;
    on_runtime = rt.running_in_this_thread();
  });
  asio::post(rt, [&] { t.cancel(); }); // from a nanorun thread
  run_on_threads(rt, 2);
  BOOST_TEST(got == asio::error::operation_aborted, got.message());
  BOOST_TEST(on_runtime.load());

  // Cancelled before run() too.
  rt.restart();
  t.expires_after(1h);
  got = asio::error::would_block;
  t.async_wait([&](error_code ec) { got = ec; });
  t.cancel();
  rt.run_for(10s);
  BOOST_TEST(got == asio::error::operation_aborted, got.message());
}

// A signal nobody else uses: SIGUSR1, or on Windows (whose C runtime has no
// SIGUSR1) SIGINT, which Asio's signal_set also serves there.
#if defined(_WIN32)
constexpr int test_signal = SIGINT;
#else
constexpr int test_signal = SIGUSR1;
#endif

BOOST_AUTO_TEST_CASE(signal_set_delivers_raise_and_cancels)
{
  nanorun::runtime rt(2);
  asio::signal_set sigs(rt, test_signal);
  error_code got = asio::error::would_block;
  int signo = 0;
  bool on_runtime = false;
  sigs.async_wait([&](error_code ec, int n) {
    got = ec;
    signo = n;
    on_runtime = rt.running_in_this_thread();
  });
  asio::post(rt, [] { std::raise(test_signal); });
  run_on_threads(rt, 2);
  BOOST_TEST(!got.failed(), got.message());
  BOOST_TEST(signo == test_signal);
  BOOST_TEST(on_runtime);

  rt.restart();
  got = asio::error::would_block;
  sigs.async_wait([&](error_code ec, int) {
    got = ec;
    on_runtime = rt.running_in_this_thread();
  });
  asio::post(rt, [&] { sigs.cancel(); });
  run_on_threads(rt, 2);
  BOOST_TEST(got == asio::error::operation_aborted, got.message());
  BOOST_TEST(on_runtime);
}

BOOST_AUTO_TEST_CASE(asio_read_or_nanorun_timer)
{
  nanorun::runtime rt(2);
  tcp::acceptor acc(rt, loopback);
  tcp::socket a(rt), b(rt);
  a.connect(acc.local_endpoint());
  acc.accept(b);
  std::atomic<int> done{0}, failed{0};
  thread_probe p(rt);
  std::string first = "unset", second = "unset", third = "unset";
  // Reads from b unless the nanorun timer fires first ("timer" then).
  auto read_or_timer = [&](std::chrono::milliseconds d, std::string& out) -> asio::awaitable<void> {
    nanorun::steady_timer t(co_await asio::this_coro::executor, d);
    char buf[16];
    auto r = co_await (b.async_read_some(asio::buffer(buf), asio::use_awaitable) || t.async_wait(asio::use_awaitable));
    p.check();
    out = r.index() == 1 ? std::string("timer") : std::string(buf, std::get<0>(r));
  };
  auto write_later = [&]() -> asio::awaitable<void> {
    nanorun::steady_timer d(co_await asio::this_coro::executor, 20ms);
    co_await d.async_wait(asio::use_awaitable);
    co_await asio::async_write(a, asio::buffer(std::string("pong")), asio::use_awaitable);
  };
  // nanorun::spawn: the task has its own serial executor, so || is race-free
  // on two threads. The closures outlive the coroutines that refer to them.
  auto body = [&]() -> asio::awaitable<void> {
    co_await read_or_timer(20ms, first); // no data: the timer wins, the read is cancelled
    co_await asio::async_write(a, asio::buffer(std::string("ping")), asio::use_awaitable);
    co_await read_or_timer(1h, second); // data there: the read wins, the timer is cancelled
    asio::co_spawn(co_await asio::this_coro::executor, write_later(), record_done{&done, &failed});
    co_await read_or_timer(1h, third); // data written while the read is pending
  };
  nanorun::spawn(rt, body(), record_done{&done, &failed});
  run_on_threads(rt, 2);
  BOOST_TEST(failed.load() == 0);
  BOOST_TEST(done.load() == 2);
  BOOST_TEST(first == "timer");
  BOOST_TEST(second == "ping"); // the cancelled read consumed nothing
  BOOST_TEST(third == "pong");
  BOOST_TEST(p.off.load() == 0);
  BOOST_TEST(p.on.load() == 3);
}

BOOST_AUTO_TEST_CASE(asio_socket_talks_to_nanorun_socket)
{
  nanorun::runtime rt(2);
  thread_probe p(rt);
  std::atomic<int> done{0}, failed{0};
  const record_done rec{&done, &failed};
  int echoed_by_nanorun = 0, echoed_by_asio = 0;
  // nanorun acceptor and server, Asio client.
  nanorun::ip::tcp::acceptor n_acc(rt, loopback);
  const auto n_ep = n_acc.local_endpoint();
  asio::co_spawn(rt, echo_server<asio::any_io_executor>(std::move(n_acc), p), rec);
  asio::co_spawn(rt, echo_client<asio::any_io_executor>(tcp::socket(rt), n_ep, p, &echoed_by_nanorun), rec);
  // Asio acceptor and server, nanorun client.
  tcp::acceptor a_acc(rt, loopback);
  const auto a_ep = a_acc.local_endpoint();
  asio::co_spawn(rt, echo_server<asio::any_io_executor>(std::move(a_acc), p), rec);
  asio::co_spawn(rt, echo_client<asio::any_io_executor>(nanorun::ip::tcp::socket(rt), a_ep, p, &echoed_by_asio), rec);
  run_on_threads(rt, 2);
  BOOST_TEST(failed.load() == 0);
  BOOST_TEST(done.load() == 4);
  BOOST_TEST(echoed_by_nanorun == 5);
  BOOST_TEST(echoed_by_asio == 5);
  BOOST_TEST(p.off.load() == 0);
}

BOOST_AUTO_TEST_CASE(destroy_with_asio_read_and_timer_pending)
{
  for (int threads : {1, 2})
  {
    BOOST_TEST_CONTEXT("threads=" << threads)
    {
      std::atomic<int> destroyed{0};
      std::atomic<bool> read_started{false}, wait_started{false}, read_resumed{false}, wait_resumed{false};
      {
        nanorun::runtime rt(threads);
        tcp::acceptor acc(rt, loopback); // dies before the runtime, as it must
        tcp::socket peer(rt), mine(rt);
        peer.connect(acc.local_endpoint());
        acc.accept(mine);
        // Both ends live in the frames here; the next case closes a peer
        // while the runtime is being destroyed.
        asio::co_spawn(rt, read_forever(std::move(mine), frame_probe(&destroyed), &read_started, &read_resumed),
                       asio::detached);
        asio::co_spawn(rt, wait_forever(std::move(peer), frame_probe(&destroyed), &wait_started, &wait_resumed),
                       asio::detached);
        std::vector<std::thread> runners; // none: this thread runs it
        for (int i = 0; i < threads && threads > 1; ++i)
          runners.emplace_back([&] { rt.run_for(10s); });
        for (int i = 0; i < 1000 && !(read_started && wait_started); ++i)
          runners.empty() ? void(rt.run_one_for(10ms)) : std::this_thread::sleep_for(10ms);
        rt.stop();
        for (auto& t : runners)
          t.join();
        BOOST_TEST(read_started.load());
        BOOST_TEST(wait_started.load());
        BOOST_TEST(destroyed.load() == 0); // suspended, alive
      }
      BOOST_TEST(destroyed.load() == 2);
      BOOST_TEST(!read_resumed.load());
      BOOST_TEST(!wait_resumed.load());
    }
  }
}

// The ordinary shape of a server going away: the socket's peer outlives the
// frame's read and closes just before the runtime does, so the read becomes
// ready on Asio's hidden thread while ~runtime is shutting services down.
// ~runtime stops and joins that thread first: the frame is destroyed, never
// resumed, and nothing is touched after it is freed (ASan).
BOOST_AUTO_TEST_CASE(destroy_while_a_closing_peer_makes_a_pending_read_ready)
{
  for (int round = 0; round < 20; ++round)
  {
    BOOST_TEST_CONTEXT("round " << round)
    {
      std::atomic<int> destroyed{0};
      std::atomic<bool> started{false}, resumed{false};
      {
        nanorun::runtime rt(1);
        tcp::socket peer(rt);
        {
          tcp::acceptor acc(rt, loopback);
          tcp::socket mine(rt);
          peer.connect(acc.local_endpoint());
          acc.accept(mine);
          asio::co_spawn(rt, read_forever(std::move(mine), frame_probe(&destroyed), &started, &resumed),
                         asio::detached);
        }
        for (int i = 0; i < 1000 && !started; ++i)
          rt.run_one_for(10ms);
        rt.stop();
        BOOST_TEST(started.load());
        peer.close();
        if (round % 2)
          std::this_thread::sleep_for(1ms); // let the hidden thread see the close first
      }
      BOOST_TEST(destroyed.load() == 1);
      BOOST_TEST(!resumed.load());
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
