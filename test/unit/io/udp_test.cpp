// nanorun::ip::udp::socket through its public API, on both reactor backends.
#include "unit/io/io_test_support.hpp"

#include <nanorun/steady_timer.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/test/unit_test.hpp>

#include <string>

using namespace io_test;

BOOST_AUTO_TEST_SUITE(io_udp)

BOOST_AUTO_TEST_CASE_TEMPLATE(sync_send_to_and_receive_from, Backend, backends)
{
  on_backend<Backend> f;
  udp::socket a(f.rt, udp_loopback()), b(f.rt, udp_loopback());
  BOOST_TEST(a.local_endpoint().port() != 0);
  BOOST_TEST(a.send_to(asio::buffer("dgram", 5), b.local_endpoint()) == 5u);
  BOOST_TEST(a.send_to(asio::buffer("second", 6), b.local_endpoint()) == 6u);
  char buf[64];
  udp::endpoint from;
  BOOST_TEST(b.receive_from(asio::buffer(buf), from) == 5u); // datagram boundaries kept
  BOOST_TEST(std::string(buf, 5) == "dgram");
  BOOST_TEST(from == a.local_endpoint());
  BOOST_TEST(b.receive_from(asio::buffer(buf), from) == 6u);

  udp::socket closed(f.rt);
  error_code ec;
  closed.receive_from(asio::buffer(buf), from, 0, ec);
  BOOST_TEST(ec == asio::error::bad_descriptor);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(sync_connected_send_and_receive, Backend, backends)
{
  on_backend<Backend> f;
  udp::socket a(f.rt, udp_loopback()), b(f.rt, udp_loopback());
  a.connect(b.local_endpoint());
  b.connect(a.local_endpoint());
  BOOST_TEST(a.send(asio::buffer("one", 3)) == 3u);
  BOOST_TEST(a.send(asio::buffer("", 0)) == 0u); // an empty datagram is a datagram
  char buf[16];
  BOOST_TEST(b.receive(asio::buffer(buf)) == 3u);
  BOOST_TEST(std::string(buf, 3) == "one");
  error_code ec;
  BOOST_TEST(b.receive(asio::buffer(buf), 0, ec) == 0u);
  BOOST_TEST(!ec); // not end of file, as for a stream
  BOOST_TEST(b.send(asio::buffer("back", 4)) == 4u);
  BOOST_TEST(a.receive(asio::buffer(buf)) == 4u);

  udp::socket closed(f.rt);
  closed.send(asio::buffer("x", 1), 0, ec);
  BOOST_TEST(ec == asio::error::bad_descriptor);
  BOOST_CHECK_THROW(closed.receive(asio::buffer(buf)), boost::system::system_error);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(async_send_to_and_receive_from, Backend, backends)
{
  on_backend<Backend> f;
  auto& rt = f.rt;
  udp::socket a(rt, udp_loopback()), b(rt, udp_loopback());
  char buf[64];
  udp::endpoint from;
  outcome r, s1, s2;
  b.async_receive_from(asio::buffer(buf), from, r.handler()); // waits: nothing sent yet
  r.returned = true;
  nanorun::steady_timer t(rt, 5ms);
  t.async_wait([&](error_code) {
    BOOST_TEST(!r.done());
    a.async_send_to(asio::buffer("hello", 5), b.local_endpoint(), s1.handler());
    s1.returned = true;
  });
  rt.run_for(limit);
  BOOST_TEST(r.calls == 1);
  BOOST_TEST(!r.inline_call);
  BOOST_TEST(!r.ec);
  BOOST_TEST(r.bytes == 5u);
  BOOST_TEST(std::string(buf, 5) == "hello");
  BOOST_TEST(from == a.local_endpoint());
  BOOST_TEST(!s1.inline_call);
  BOOST_TEST(!s1.ec);

  // A datagram already queued: the receive still completes later.
  a.send_to(asio::buffer("queued", 6), b.local_endpoint());
  outcome q;
  asio::post(rt, [&] {
    b.async_receive_from(asio::buffer(buf), from, q.handler());
    q.returned = true;
  });
  // An empty datagram is a datagram.
  a.async_send_to(asio::buffer(buf, 0), b.local_endpoint(), s2.handler());
  rt.restart();
  rt.run_for(limit);
  BOOST_TEST(!q.inline_call);
  BOOST_TEST(q.bytes == 6u);
  BOOST_TEST(!s2.ec);
  BOOST_TEST(s2.bytes == 0u);
  outcome empty;
  b.async_receive_from(asio::buffer(buf), from, empty.handler());
  rt.restart();
  rt.run_for(limit);
  BOOST_TEST(!empty.ec);
  BOOST_TEST(empty.bytes == 0u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(connected_send_and_receive, Backend, backends)
{
  on_backend<Backend> f;
  auto& rt = f.rt;
  udp::socket a(rt, udp_loopback()), b(rt, udp_loopback()), stranger(rt, udp_loopback());
  a.connect(b.local_endpoint());
  b.connect(a.local_endpoint());
  BOOST_TEST(a.remote_endpoint() == b.local_endpoint());
  // A connected socket only receives from its peer.
  stranger.send_to(asio::buffer("noise", 5), b.local_endpoint());
  char buf[64];
  outcome r, s;
  b.async_receive(asio::buffer(buf), r.handler());
  a.async_send(asio::buffer("peer", 4), s.handler());
  rt.run_for(limit);
  BOOST_TEST(!s.ec);
  BOOST_TEST(s.bytes == 4u);
  BOOST_TEST(!r.ec);
  BOOST_TEST(std::string(buf, r.bytes) == "peer");

  // Synchronously (receive_from on a connected socket) ...
  b.async_send(asio::buffer("back", 4), s.handler());
  rt.restart();
  rt.run_for(limit);
  udp::endpoint from;
  BOOST_TEST(a.receive_from(asio::buffer(buf), from) == 4u);
  BOOST_TEST(from == b.local_endpoint());

  // ... and in a coroutine.
  auto fut = asio::co_spawn(
      rt,
      [&]() -> asio::awaitable<std::string> {
        co_await a.async_send(asio::buffer("coro", 4), asio::use_awaitable);
        auto [ec, n] = co_await b.async_receive(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
        co_return ec ? ec.message() : std::string(buf, n);
      },
      asio::use_future);
  rt.restart();
  rt.run_for(limit);
  BOOST_TEST(fut.get() == "coro");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(close_and_cancel_abort_a_pending_receive, Backend, backends)
{
  on_backend<Backend> f;
  auto& rt = f.rt;
  for (const bool use_close : {true, false})
  {
    udp::socket s(rt, udp_loopback());
    char buf[16];
    udp::endpoint from;
    outcome r;
    s.async_receive_from(asio::buffer(buf), from, r.handler());
    nanorun::steady_timer t(rt, 10ms);
    t.async_wait([&](error_code) {
      BOOST_TEST(!r.done());
      if (use_close)
        s.close();
      else
        s.cancel();
    });
    rt.restart();
    rt.run_for(limit);
    BOOST_TEST(r.calls == 1);
    BOOST_TEST(r.ec == asio::error::operation_aborted);
    outcome after;
    s.async_receive_from(asio::buffer(buf), from, after.handler());
    if (!use_close)
      s.send_to(asio::buffer("x", 1), s.local_endpoint()); // to itself
    rt.restart();
    rt.run_for(limit);
    if (use_close)
      BOOST_TEST(after.ec == asio::error::bad_descriptor);
    else
      BOOST_TEST(after.bytes == 1u);
  }
}

// Asio's async_send_to does not open a closed socket (only async_connect
// does): it completes with bad_descriptor, and the socket stays closed.
BOOST_AUTO_TEST_CASE(async_send_to_on_a_closed_socket_fails_with_bad_descriptor)
{
  nanorun::runtime rt(1);
  udp::socket receiver(rt, udp_loopback());
  udp::socket sender(rt);
  BOOST_TEST(!sender.is_open());
  outcome s;
  sender.async_send_to(asio::buffer("auto", 4), receiver.local_endpoint(), s.handler());
  rt.run_for(limit);
  BOOST_TEST(s.calls == 1);
  BOOST_TEST(s.ec == asio::error::bad_descriptor);
  BOOST_TEST(!sender.is_open());
  BOOST_TEST(receiver.available() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
