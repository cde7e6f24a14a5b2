// nanorun::ip::tcp::socket, on both reactor backends: what the peer does
// (end of stream, shutdown, reset) and readiness waits, including the cases
// where a readiness edge is consumed before an operation waits for it.
#include "unit/io/io_test_support.hpp"

#include <nanorun/steady_timer.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/asio/read.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <csignal>
#include <functional>
#include <string>
#include <thread>
#include <vector>

using namespace io_test;

namespace {

#if !defined(_WIN32) // Windows has no SIGPIPE: a write to a reset socket only fails
// Counts SIGPIPEs while it lives (a write to a reset connection must not
// raise one), then restores the previous disposition.
volatile std::sig_atomic_t sigpipes = 0;
extern "C" void count_sigpipe(int) { sigpipes = sigpipes + 1; }

class sigpipe_counter
{
public:
  sigpipe_counter()
  {
    sigpipes = 0;
    struct sigaction sa = {};
    sa.sa_handler = count_sigpipe;
    ::sigemptyset(&sa.sa_mask);
    ::sigaction(SIGPIPE, &sa, &old_);
  }
  ~sigpipe_counter() { ::sigaction(SIGPIPE, &old_, nullptr); }
  int count() const noexcept { return sigpipes; }

private:
  struct sigaction old_ = {};
};
#endif

} // namespace

BOOST_AUTO_TEST_SUITE(io_socket_events)

BOOST_AUTO_TEST_CASE_TEMPLATE(peer_close_and_shutdown_give_eof, Backend, backends)
{
  on_backend<Backend> f;
  auto& rt = f.rt;
  char buf[16];
  {
    tcp_pair p = connected_pair(rt);
    outcome r;
    p.server.async_read_some(asio::buffer(buf), r.handler());
    nanorun::steady_timer t(rt, 5ms);
    t.async_wait([&](error_code) { p.client.close(); });
    rt.run_for(limit);
    BOOST_TEST(r.calls == 1);
    BOOST_TEST(r.ec == asio::error::eof, r.ec.message());
    error_code ec;
    BOOST_TEST(p.server.read_some(asio::buffer(buf), ec) == 0u);
    BOOST_TEST(ec == asio::error::eof);
  }
  {
    tcp_pair p = connected_pair(rt);
    outcome r;
    p.server.async_read_some(asio::buffer(buf), r.handler());
    p.client.shutdown(tcp::socket::shutdown_send);
    rt.restart();
    rt.run_for(limit);
    BOOST_TEST(r.ec == asio::error::eof, r.ec.message());
    // Half-closed: the other direction still works.
    outcome back;
    p.client.async_read_some(asio::buffer(buf), back.handler());
    p.server.async_write_some(asio::buffer("back", 4), [](error_code, std::size_t) {});
    rt.restart();
    rt.run_for(limit);
    BOOST_TEST(!back.ec);
    BOOST_TEST(std::string(buf, back.bytes) == "back");
    error_code ec;
    tcp::socket closed(rt);
    closed.shutdown(tcp::socket::shutdown_both, ec);
    BOOST_TEST(ec == asio::error::bad_descriptor);
  }
}

// The peer's last bytes and its FIN arrive together, and the reactor sees
// their readiness before any read waits. The first read returns the bytes
// (fewer than asked for); the end of stream must still reach the next read,
// although no new readiness edge will come for it.
BOOST_AUTO_TEST_CASE_TEMPLATE(eof_right_after_the_last_bytes_is_not_lost, Backend, backends)
{
  on_backend<Backend> f;
  auto& rt = f.rt;
  tcp_pair p = connected_pair(rt);
  p.client.write_some(asio::buffer("last", 4));
  p.client.shutdown(tcp::socket::shutdown_send);
  wait_readable(p.server);
  // Let the reactor consume the readiness while no operation waits.
  nanorun::steady_timer settle(rt, 10ms);
  settle.async_wait([](error_code) {});
  rt.run_for(limit);

  char buf[64];
  outcome first, second;
  nanorun::steady_timer guard(rt, 2s);
  p.server.async_read_some(asio::buffer(buf), [&, h = first.handler()](error_code ec, std::size_t n) mutable {
    h(ec, n);
    p.server.async_read_some(asio::buffer(buf), [&, h2 = second.handler()](error_code ec2, std::size_t n2) mutable {
      h2(ec2, n2);
      guard.cancel();
    });
  });
  // If the end of stream is lost, the guard cancels the read (and the case fails).
  guard.async_wait([&](error_code e) {
    if (!e)
      p.server.cancel();
  });
  rt.restart();
  rt.run_for(limit);
  BOOST_TEST(!first.ec);
  BOOST_TEST(first.bytes == 4u);
  BOOST_TEST(second.calls == 1);
  BOOST_TEST(second.ec == asio::error::eof, "second read: " << second.ec.message());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(write_after_peer_reset_fails_without_sigpipe, Backend, backends)
{
  on_backend<Backend> f;
  auto& rt = f.rt;
#if !defined(_WIN32)
  sigpipe_counter sigpipe;
#endif
  tcp_pair p = connected_pair(rt);
  p.server.set_option(tcp::socket::linger(true, 0));
  p.server.close(); // an RST, not a FIN
  wait_readable(p.client);
  const std::string chunk(16384, 'w');
  error_code werr = unset;
  int writes = 0;
  std::function<void()> write_next = [&] {
    p.client.async_write_some(asio::buffer(chunk), [&](error_code ec, std::size_t) {
      ++writes;
      if (ec)
        werr = ec;
      else if (writes < 200)
        write_next();
    });
  };
  write_next();
  rt.run_for(limit);
  BOOST_TEST((werr == asio::error::connection_reset || werr == asio::error::broken_pipe), werr.message());
  error_code ec;
  p.client.write_some(asio::buffer(chunk), ec);
  BOOST_TEST((ec == asio::error::connection_reset || ec == asio::error::broken_pipe), ec.message());
#if !defined(_WIN32)
  BOOST_TEST(sigpipe.count() == 0);
#endif
}

BOOST_AUTO_TEST_CASE_TEMPLATE(async_wait_for_read_and_write, Backend, backends)
{
  on_backend<Backend> f;
  auto& rt = f.rt;
  tcp_pair p = connected_pair(rt);
  bool data_sent = false, saw_data = false;
  outcome ww;
  error_code wr_ec = unset;
  int wr_calls = 0;
  p.server.async_wait(tcp::socket::wait_read, [&](error_code ec) {
    ++wr_calls;
    wr_ec = ec;
    saw_data = data_sent;
  });
  p.server.async_wait(tcp::socket::wait_write, ww.handler());
  ww.returned = true;
  nanorun::steady_timer t(rt, 20ms);
  t.async_wait([&](error_code) {
    BOOST_TEST(wr_calls == 0); // no data: the read wait must still be waiting
    BOOST_TEST(ww.calls == 1);
    data_sent = true;
    p.client.write_some(asio::buffer("w", 1));
  });
  rt.run_for(limit);
  BOOST_TEST(ww.calls == 1);
  BOOST_TEST(!ww.inline_call);
  BOOST_TEST(!ww.ec);
  BOOST_TEST(wr_calls == 1);
  BOOST_TEST(!wr_ec);
  BOOST_TEST(saw_data);
  BOOST_TEST(p.server.available() == 1u); // a wait consumes nothing
}

// Asio's wait_error completes when the socket has an exceptional condition:
// out-of-band data (EPOLLPRI/POLLPRI) or an error such as a reset.
BOOST_AUTO_TEST_CASE_TEMPLATE(async_wait_error, Backend, backends)
{
  on_backend<Backend> f;
  auto& rt = f.rt;
  {
    tcp_pair p = connected_pair(rt);
    error_code ec = unset;
    int calls = 0;
    nanorun::steady_timer guard(rt, 3s);
    p.server.async_wait(tcp::socket::wait_error, [&](error_code e) {
      ++calls;
      ec = e;
      guard.cancel();
    });
    nanorun::steady_timer t(rt, 10ms);
    t.async_wait([&](error_code) {
      BOOST_TEST(calls == 0);
      p.client.send(asio::buffer("!", 1), tcp::socket::message_out_of_band);
    });
    // If the wait never completes, the guard cancels it (and the case fails).
    guard.async_wait([&](error_code e) {
      if (!e)
        p.server.cancel();
    });
    rt.run_for(limit);
    BOOST_TEST(calls == 1);
    BOOST_TEST(!ec, "wait_error after out-of-band data: " << ec.message());
  }
  {
    tcp_pair p = connected_pair(rt);
    error_code ec = unset;
    int calls = 0;
    nanorun::steady_timer guard(rt, 3s);
    p.server.async_wait(tcp::socket::wait_error, [&](error_code e) {
      ++calls;
      ec = e;
      guard.cancel();
    });
    nanorun::steady_timer t(rt, 10ms);
    t.async_wait([&](error_code) {
      BOOST_TEST(calls == 0);
      p.client.set_option(tcp::socket::linger(true, 0));
      p.client.close();
    });
    guard.async_wait([&](error_code e) {
      if (!e)
        p.server.cancel();
    });
    rt.restart();
    rt.run_for(limit);
    BOOST_TEST(calls == 1);
    BOOST_TEST(!ec, "wait_error after a reset: " << ec.message());
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_read_and_a_write_pending_at_once, Backend, backends)
{
  on_backend<Backend> f;
  auto& rt = f.rt;
  tcp_pair p = connected_pair(rt);
  const std::size_t filled = fill_send_buffer(p.client);
  const std::string big(200000, 'b');
  char rbuf[16];
  outcome w, r;
  p.client.async_write_some(asio::buffer(big), w.handler());
  p.client.async_read_some(asio::buffer(rbuf), r.handler());
  nanorun::steady_timer t(rt, 10ms);
  t.async_wait([&](error_code) {
    BOOST_TEST(!w.done()); // the send buffer is full
    BOOST_TEST(!r.done()); // nothing was sent the other way
    p.server.write_some(asio::buffer("r", 1));
    std::vector<char> sink(filled);
    asio::read(p.server, asio::buffer(sink)); // makes room for the write
  });
  rt.run_for(limit);
  BOOST_TEST(r.calls == 1);
  BOOST_TEST(!r.ec);
  BOOST_TEST(r.bytes == 1u);
  BOOST_TEST(w.calls == 1);
  BOOST_TEST(!w.ec);
  BOOST_TEST(w.bytes > 0u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(run_returns_only_after_the_pending_read, Backend, backends)
{
  on_backend<Backend> f;
  auto& rt = f.rt;
  tcp_pair p = connected_pair(rt);
  char buf[16];
  std::atomic<bool> written{false};
  bool saw_written = false;
  outcome r;
  p.server.async_read_some(asio::buffer(buf), [&, h = r.handler()](error_code ec, std::size_t n) mutable {
    saw_written = written.load();
    h(ec, n);
  });
  std::thread writer([&] {
    std::this_thread::sleep_for(50ms);
    written = true;
    p.client.write_some(asio::buffer("late", 4));
  });
  const auto handlers = rt.run(); // no timer, no guard: only the read is work
  writer.join();
  BOOST_TEST(handlers >= 1u);
  BOOST_TEST(r.calls == 1);
  BOOST_TEST(saw_written);
  BOOST_TEST(!r.ec);
  BOOST_TEST(r.bytes == 4u);
}

BOOST_AUTO_TEST_SUITE_END()
