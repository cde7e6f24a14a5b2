// nanorun::ip::tcp::socket through its public API. Every case runs once per
// reactor backend (epoll and the portable poll(2) one, chosen with
// NANORUN_REACTOR): connection set-up, sync and async transfer, composed
// operations, the completion rules (never inside the initiating call, exactly
// once), close, cancel and per-operation cancellation. End of stream, resets
// and waits are in socket_events_test.cpp; completion tokens, associated
// executor and allocator in socket_tokens_test.cpp.
#include "unit/io/io_test_support.hpp"

#include <nanorun/steady_timer.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include <functional>
#include <istream>
#include <string>
#include <thread>

using namespace io_test;

namespace {

std::string pattern(std::size_t n, unsigned seed = 1)
{
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i)
    s[i] = static_cast<char>((i * 131 + seed * 7 + (i >> 8)) & 0xff);
  return s;
}

} // namespace

BOOST_AUTO_TEST_SUITE(io_socket)

BOOST_AUTO_TEST_CASE_TEMPLATE(open_bind_listen_and_endpoints, Backend, backends)
{
  on_backend<Backend> f;
  tcp::acceptor acc(f.rt);
  BOOST_TEST(!acc.is_open());
  acc.open(tcp::v4());
  BOOST_TEST(acc.is_open());
  acc.set_option(tcp::acceptor::reuse_address(true));
  acc.bind(loopback());
  acc.listen();
  const tcp::endpoint ep = acc.local_endpoint();
  BOOST_TEST(ep.address() == asio::ip::make_address("127.0.0.1"));
  BOOST_TEST(ep.port() != 0);

  tcp::socket c(f.rt);
  c.open(tcp::v4());
  c.bind(loopback());
  const tcp::endpoint client_ep = c.local_endpoint();
  BOOST_TEST(client_ep.port() != 0);
  c.connect(ep);
  tcp::socket s(f.rt);
  acc.accept(s);
  BOOST_TEST(c.remote_endpoint() == ep);
  BOOST_TEST(s.local_endpoint() == ep);
  BOOST_TEST(s.remote_endpoint() == client_ep);

  error_code ec;
  c.open(tcp::v4(), ec);
  BOOST_TEST(ec == asio::error::already_open);
  tcp::socket closed(f.rt);
  closed.local_endpoint(ec);
  BOOST_TEST(ec == asio::error::bad_descriptor);
  BOOST_CHECK_THROW(closed.remote_endpoint(), boost::system::system_error);
  tcp::socket unconnected(f.rt, tcp::v4());
  BOOST_TEST(unconnected.is_open());
  unconnected.remote_endpoint(ec);
  BOOST_TEST(ec == asio::error::not_connected);
  tcp::acceptor second(f.rt);
  second.open(tcp::v4());
  second.bind(ep, ec);
  BOOST_TEST(ec == asio::error::address_in_use);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(sync_connect_accept_read_write, Backend, backends)
{
  on_backend<Backend> f;
  tcp_pair p = connected_pair(f.rt);
  const std::string msg = "hello, sync";
  BOOST_TEST(p.client.write_some(asio::buffer(msg)) == msg.size());
  std::string got(msg.size(), '\0');
  BOOST_TEST(asio::read(p.server, asio::buffer(got)) == msg.size());
  BOOST_TEST(got == msg);

  const std::string big = pattern(200000);
  std::thread writer([&] { asio::write(p.server, asio::buffer(big)); });
  std::string back(big.size(), '\0');
  std::size_t total = 0;
  while (total < back.size())
    total += p.client.read_some(asio::buffer(back.data() + total, back.size() - total));
  writer.join();
  BOOST_TEST((back == big));

  char b[8];
  BOOST_TEST(p.client.read_some(asio::buffer(b, 0)) == 0u); // nothing asked: no wait
  p.client.write_some(asio::buffer("peek", 4));
  wait_readable(p.server);
  BOOST_TEST(p.server.receive(asio::buffer(b), tcp::socket::message_peek) == 4u);
  BOOST_TEST(p.server.read_some(asio::buffer(b)) == 4u);
  BOOST_TEST(std::string(b, 4) == "peek");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(async_connect_to_listener_and_to_closed_port, Backend, backends)
{
  on_backend<Backend> f;
  tcp::acceptor acc(f.rt, loopback());
  refusing_port closed(f.rt);
  tcp::socket a(f.rt), b(f.rt);
  outcome ok, refused;
  a.async_connect(acc.local_endpoint(), ok.handler());
  ok.returned = true;
  b.async_connect(closed.endpoint(), refused.handler());
  refused.returned = true;
  f.rt.run_for(limit);
  BOOST_TEST(ok.calls == 1);
  BOOST_TEST(!ok.inline_call);
  BOOST_TEST(!ok.ec, ok.ec.message());
  BOOST_TEST(a.remote_endpoint() == acc.local_endpoint());
  BOOST_TEST(refused.calls == 1);
  BOOST_TEST(!refused.inline_call);
  BOOST_TEST(refused.ec == asio::error::connection_refused, refused.ec.message());
  BOOST_TEST(b.is_open()); // async_connect opened it
}

BOOST_AUTO_TEST_CASE_TEMPLATE(async_read_and_write_with_callbacks, Backend, backends)
{
  on_backend<Backend> f;
  tcp_pair p = connected_pair(f.rt);
  char rbuf[64];
  std::string log;
  // The read is waiting before anything is written.
  p.server.async_read_some(asio::buffer(rbuf), [&](error_code ec, std::size_t n) {
    BOOST_TEST(!ec);
    log += "server got " + std::string(rbuf, n) + ";";
    p.server.async_write_some(asio::buffer("pong", 4), [&](error_code ec2, std::size_t n2) {
      BOOST_TEST(!ec2);
      BOOST_TEST(n2 == 4u);
    });
  });
  char cbuf[64];
  p.client.async_write_some(asio::buffer("ping", 4), [&](error_code ec, std::size_t n) {
    BOOST_TEST(!ec);
    BOOST_TEST(n == 4u);
    p.client.async_read_some(asio::buffer(cbuf), [&](error_code ec2, std::size_t n2) {
      BOOST_TEST(!ec2);
      log += "client got " + std::string(cbuf, n2) + ";";
    });
  });
  f.rt.run_for(limit);
  BOOST_TEST(log == "server got ping;client got pong;");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(never_completes_inside_the_initiating_call, Backend, backends)
{
  on_backend<Backend> f;
  auto& rt = f.rt;
  tcp::acceptor acc(rt, loopback());
  refusing_port refusing(rt);
  // Two rounds: initiated from outside run(), then from inside a handler
  // (where an inline completion would be easiest to slip in).
  for (int round = 0; round < 2; ++round)
  {
    BOOST_TEST_CONTEXT("round " << round)
    {
      tcp_pair p = connected_pair(rt);
      p.client.write_some(asio::buffer("abc", 3));
      wait_readable(p.server); // data already there: the read can finish at once
      tcp::socket closed(rt), connecting(rt), refused(rt);
      char buf[16], cbuf[16];
      outcome ready_read, zero_read, zero_write, write, wait_write, closed_read, closed_write, closed_wait,
          connect, refuse;
      auto start = [&] {
        p.server.async_read_some(asio::buffer(buf), ready_read.handler());
        ready_read.returned = true;
        p.server.async_write_some(asio::buffer(buf, 0), zero_write.handler());
        zero_write.returned = true;
        p.server.async_wait(tcp::socket::wait_write, wait_write.handler());
        wait_write.returned = true;
        p.client.async_read_some(asio::buffer(cbuf, 0), zero_read.handler());
        zero_read.returned = true;
        p.client.async_write_some(asio::buffer("d", 1), write.handler());
        write.returned = true;
        closed.async_read_some(asio::buffer(buf), closed_read.handler());
        closed_read.returned = true;
        closed.async_write_some(asio::buffer("x", 1), closed_write.handler());
        closed_write.returned = true;
        closed.async_wait(tcp::socket::wait_read, closed_wait.handler());
        closed_wait.returned = true;
        connecting.async_connect(acc.local_endpoint(), connect.handler());
        connect.returned = true;
        refused.async_connect(refusing.endpoint(), refuse.handler());
        refuse.returned = true;
      };
      if (round == 0)
        start();
      else
        asio::post(rt, start);
      rt.restart();
      rt.run_for(limit);
      for (outcome* o : {&ready_read, &zero_read, &zero_write, &write, &wait_write, &closed_read, &closed_write,
                         &closed_wait, &connect, &refuse})
      {
        BOOST_TEST(o->calls == 1);
        BOOST_TEST(!o->inline_call);
      }
      BOOST_TEST(!ready_read.ec);
      BOOST_TEST(ready_read.bytes == 3u);
      BOOST_TEST(!zero_read.ec);
      BOOST_TEST(zero_read.bytes == 0u);
      BOOST_TEST(!zero_write.ec);
      BOOST_TEST(zero_write.bytes == 0u);
      BOOST_TEST(!write.ec);
      BOOST_TEST(write.bytes == 1u);
      BOOST_TEST(!wait_write.ec);
      BOOST_TEST(closed_read.ec == asio::error::bad_descriptor);
      BOOST_TEST(closed_write.ec == asio::error::bad_descriptor);
      BOOST_TEST(closed_wait.ec == asio::error::bad_descriptor);
      BOOST_TEST(!connect.ec);
      BOOST_TEST(refuse.ec == asio::error::connection_refused);
      tcp::socket drained(rt);
      acc.accept(drained);
    }
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(close_and_cancel_complete_pending_operations, Backend, backends)
{
  on_backend<Backend> f;
  auto& rt = f.rt;
  // An acceptor whose queue is full (backlog 0, one connection waiting):
  // further connects stay in progress.
  tcp::acceptor full(rt);
  full.open(tcp::v4());
  full.bind(loopback());
  full.listen(0);
  tcp::socket filler(rt);
  filler.connect(full.local_endpoint());

  for (const bool use_close : {true, false})
  {
    BOOST_TEST_CONTEXT((use_close ? "close()" : "cancel()"))
    {
      tcp_pair p = connected_pair(rt);
      tcp::socket connecting(rt);
      char buf[16];
      outcome read, wait_read, wait_error, connect;
      p.server.async_read_some(asio::buffer(buf), read.handler());
      p.client.async_wait(tcp::socket::wait_read, wait_read.handler());
      p.client.async_wait(tcp::socket::wait_error, wait_error.handler());
      connecting.async_connect(full.local_endpoint(), connect.handler());
      nanorun::steady_timer t(rt, 20ms);
      t.async_wait([&](error_code) {
        for (outcome* o : {&read, &wait_read, &wait_error, &connect})
          BOOST_TEST(!o->done()); // nothing could have completed them
        if (use_close)
        {
          p.server.close();
          p.client.close();
          connecting.close();
        }
        else
        {
          p.server.cancel();
          p.client.cancel();
          connecting.cancel();
        }
      });
      rt.restart();
      rt.run_for(limit);
      for (outcome* o : {&read, &wait_read, &wait_error, &connect})
      {
        BOOST_TEST(o->calls == 1);
        BOOST_TEST(o->ec == asio::error::operation_aborted, o->ec.message());
      }
      BOOST_TEST(p.server.is_open() == !use_close);
      if (!use_close)
      {
        // Cancelled, not closed: the socket goes on working.
        outcome again;
        p.server.async_read_some(asio::buffer(buf), again.handler());
        p.client.write_some(asio::buffer("after", 5));
        rt.restart();
        rt.run_for(limit);
        BOOST_TEST(!again.ec);
        BOOST_TEST(again.bytes == 5u);
      }
      error_code ec;
      tcp::socket never_opened(rt);
      never_opened.cancel(ec);
      BOOST_TEST(ec == asio::error::bad_descriptor);
    }
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(per_operation_cancellation_of_a_read, Backend, backends)
{
  on_backend<Backend> f;
  auto& rt = f.rt;
  tcp_pair p = connected_pair(rt);
  char buf[16];
  for (auto type : {asio::cancellation_type::terminal, asio::cancellation_type::partial,
                    asio::cancellation_type::total})
  {
    BOOST_TEST_CONTEXT("type " << static_cast<int>(type))
    {
      asio::cancellation_signal sig;
      outcome r;
      p.server.async_read_some(asio::buffer(buf), asio::bind_cancellation_slot(sig.slot(), r.handler()));
      r.returned = true;
      nanorun::steady_timer t(rt, 2ms);
      t.async_wait([&](error_code) {
        BOOST_TEST(!r.done());
        sig.emit(type);
      });
      rt.restart();
      rt.run_for(limit);
      BOOST_TEST(r.calls == 1);
      BOOST_TEST(r.ec == asio::error::operation_aborted);
      sig.emit(type); // after completion: finds nothing
    }
  }
  // Nothing was consumed by the cancelled reads.
  p.client.write_some(asio::buffer("z", 1));
  wait_readable(p.server);
  BOOST_TEST(p.server.available() == 1u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(late_cancellation_emit_does_nothing, Backend, backends)
{
  on_backend<Backend> f;
  auto& rt = f.rt;
  char buf[16];
  asio::cancellation_signal sig;
  {
    tcp_pair p = connected_pair(rt);
    p.client.write_some(asio::buffer("a", 1));
    wait_readable(p.server);
    outcome first, second;
    p.server.async_read_some(asio::buffer(buf), asio::bind_cancellation_slot(sig.slot(), first.handler()));
    rt.run_for(limit);
    BOOST_TEST(!first.ec);
    BOOST_TEST(first.bytes == 1u);

    // A second read on the same socket, not bound to the signal: the stale
    // emit must not touch it.
    p.server.async_read_some(asio::buffer(buf), second.handler());
    sig.emit(asio::cancellation_type::terminal);
    nanorun::steady_timer t(rt, 5ms);
    t.async_wait([&](error_code) {
      BOOST_TEST(!second.done());
      p.client.write_some(asio::buffer("b", 1));
    });
    rt.restart();
    rt.run_for(limit);
    BOOST_TEST(second.calls == 1);
    BOOST_TEST(!second.ec);
    BOOST_TEST(second.bytes == 1u);
  } // both sockets closed: their descriptor states go back to the pool

  // New sockets may reuse those states; the signal's old handler still names
  // the old one. Emitting must not cancel the new read.
  tcp_pair q = connected_pair(rt);
  outcome third;
  q.server.async_read_some(asio::buffer(buf), third.handler());
  sig.emit(asio::cancellation_type::terminal);
  nanorun::steady_timer t(rt, 5ms);
  t.async_wait([&](error_code) {
    BOOST_TEST(!third.done());
    q.client.write_some(asio::buffer("c", 1));
  });
  rt.restart();
  rt.run_for(limit);
  BOOST_TEST(!third.ec);
  BOOST_TEST(third.bytes == 1u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(composed_read_write_and_read_until, Backend, backends)
{
  on_backend<Backend> f;
  auto& rt = f.rt;
  tcp_pair p = connected_pair(rt);

  const std::string payload = pattern(300000, 3);
  std::string received(payload.size(), '\0');
  error_code wec = unset, rec = unset;
  std::size_t wn = 0, rn = 0;
  asio::async_write(p.client, asio::buffer(payload), [&](error_code ec, std::size_t n) {
    wec = ec;
    wn = n;
  });
  asio::async_read(p.server, asio::buffer(received), [&](error_code ec, std::size_t n) {
    rec = ec;
    rn = n;
  });
  rt.run_for(limit);
  BOOST_TEST(!wec);
  BOOST_TEST(!rec);
  BOOST_TEST(wn == payload.size());
  BOOST_TEST(rn == payload.size());
  BOOST_TEST((received == payload));

  // read_until into a streambuf ...
  asio::streambuf sb;
  std::size_t line = 0;
  asio::async_write(p.client, asio::buffer(std::string("line one\r\nline two\r\n")), asio::detached);
  asio::async_read_until(p.server, sb, "\r\n", [&](error_code ec, std::size_t n) {
    BOOST_TEST(!ec);
    line = n;
  });
  rt.restart();
  rt.run_for(limit);
  BOOST_TEST(line == 10u);
  std::istream is(&sb);
  std::string first;
  std::getline(is, first);
  BOOST_TEST(first == "line one\r");

  // ... and into a dynamic_string_buffer.
  std::string text;
  std::size_t upto = 0;
  asio::async_read_until(p.server, asio::dynamic_buffer(text), '\n', [&](error_code ec, std::size_t n) {
    BOOST_TEST(!ec);
    upto = n;
  });
  asio::async_write(p.client, asio::buffer(std::string("alpha\nbeta")), asio::detached);
  rt.restart();
  rt.run_for(limit);
  BOOST_TEST(upto == 6u);
  BOOST_TEST(text.substr(0, upto) == "alpha\n");

  // async_read stops with eof and reports what it got.
  std::string rest(64, '\0');
  error_code eof_ec = unset;
  std::size_t got = 0;
  const std::size_t already = text.size() - upto; // "beta", or part of it
  asio::async_read(p.server, asio::buffer(rest), [&](error_code ec, std::size_t n) {
    eof_ec = ec;
    got = n;
  });
  p.client.shutdown(tcp::socket::shutdown_send);
  rt.restart();
  rt.run_for(limit);
  BOOST_TEST(eof_ec == asio::error::eof);
  BOOST_TEST(already + got == 4u);
}

// A read that fills its buffer exactly cannot tell by its count whether more
// is queued, so it must not mark the socket drained: these reads must see
// data that was already queued behind them (no new readiness event will
// announce it), data that comes later, and an end of file queued right
// behind the data.
BOOST_AUTO_TEST_CASE_TEMPLATE(reads_that_fill_their_buffer_exactly_see_what_follows, Backend, backends)
{
  on_backend<Backend> f;
  auto& rt = f.rt;
  tcp_pair p = connected_pair(rt);
  // Three 8-byte messages queued before the first read; a fourth sent only
  // once the third is read; then the end of the stream.
  const std::string sent = pattern(32, 5);
  BOOST_TEST_REQUIRE(asio::write(p.server, asio::buffer(sent.data(), 24)) == 24u);
  std::string got;
  char buf[8];
  std::function<void(error_code, std::size_t)> on_read = [&](error_code ec, std::size_t n) {
    BOOST_TEST_REQUIRE(!ec);
    BOOST_TEST_REQUIRE(n == sizeof buf);
    got.append(buf, n);
    if (got.size() == 24)
      asio::async_write(p.server, asio::buffer(sent.data() + 24, 8), [&](error_code wec, std::size_t) {
        BOOST_TEST(!wec);
        p.server.shutdown(tcp::socket::shutdown_send);
      });
    if (got.size() < sent.size())
      asio::async_read(p.client, asio::buffer(buf), on_read);
  };
  asio::async_read(p.client, asio::buffer(buf), on_read);
  rt.run_for(limit);
  BOOST_TEST(got == sent);
  error_code end = unset;
  p.client.async_read_some(asio::buffer(buf), [&](error_code ec, std::size_t) { end = ec; });
  rt.restart();
  rt.run_for(limit);
  BOOST_TEST(end == asio::error::eof);

  // Data and the end of file arrive together; the exact read takes the data.
  tcp_pair q = connected_pair(rt);
  BOOST_TEST_REQUIRE(asio::write(q.server, asio::buffer(sent.data(), 8)) == 8u);
  q.server.shutdown(tcp::socket::shutdown_send);
  error_code first = unset, second = unset;
  asio::async_read(q.client, asio::buffer(buf), [&](error_code ec, std::size_t) {
    first = ec;
    q.client.async_read_some(asio::buffer(buf), [&](error_code ec2, std::size_t) { second = ec2; });
  });
  rt.restart();
  rt.run_for(limit);
  BOOST_TEST(!first);
  BOOST_TEST(second == asio::error::eof);
}

BOOST_AUTO_TEST_SUITE_END()
