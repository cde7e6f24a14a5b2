// nanorun's sockets: options, available(), non-blocking mode, native handles,
// the executors they can be built from, and what happens to pending
// operations when the runtime goes away.
#include "unit/io/io_test_support.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/test/unit_test.hpp>

#include <memory>
#include <stdexcept>
#include <string>

using namespace io_test;

BOOST_AUTO_TEST_SUITE(io_socket_misc)

BOOST_AUTO_TEST_CASE(set_and_get_options)
{
  nanorun::runtime rt(1);
  tcp_pair p = connected_pair(rt);
  tcp::socket& s = p.client;

  tcp::no_delay nd;
  s.set_option(tcp::no_delay(true));
  s.get_option(nd);
  BOOST_TEST(nd.value());
  s.set_option(tcp::no_delay(false));
  s.get_option(nd);
  BOOST_TEST(!nd.value());

  tcp::socket::reuse_address ra;
  s.set_option(tcp::socket::reuse_address(true));
  s.get_option(ra);
  BOOST_TEST(ra.value());

  tcp::socket::keep_alive ka;
  s.set_option(tcp::socket::keep_alive(true));
  s.get_option(ka);
  BOOST_TEST(ka.value());
  s.set_option(tcp::socket::keep_alive(false));
  s.get_option(ka);
  BOOST_TEST(!ka.value());

  // The OS rounds buffer sizes (Linux doubles them): only the order is certain.
  tcp::socket::receive_buffer_size rb_small, rb_large;
  s.set_option(tcp::socket::receive_buffer_size(4096));
  s.get_option(rb_small);
  s.set_option(tcp::socket::receive_buffer_size(65536));
  s.get_option(rb_large);
  BOOST_TEST(rb_small.value() >= 4096);
  BOOST_TEST(rb_large.value() > rb_small.value());

  tcp::socket::send_buffer_size sb_small, sb_large;
  s.set_option(tcp::socket::send_buffer_size(4096));
  s.get_option(sb_small);
  s.set_option(tcp::socket::send_buffer_size(65536));
  s.get_option(sb_large);
  BOOST_TEST(sb_small.value() >= 4096);
  BOOST_TEST(sb_large.value() > sb_small.value());

  tcp::socket::linger lg;
  s.set_option(tcp::socket::linger(true, 7));
  s.get_option(lg);
  BOOST_TEST(lg.enabled());
  BOOST_TEST(lg.timeout() == 7);
  s.set_option(tcp::socket::linger(false, 0));
  s.get_option(lg);
  BOOST_TEST(!lg.enabled());

  tcp::acceptor acc(rt, tcp::v4());
  acc.set_option(tcp::acceptor::reuse_address(true));
  tcp::acceptor::reuse_address ara;
  acc.get_option(ara);
  BOOST_TEST(ara.value());

  udp::socket u(rt, udp::v4());
  u.set_option(udp::socket::broadcast(true));
  udp::socket::broadcast bc;
  u.get_option(bc);
  BOOST_TEST(bc.value());

  tcp::socket closed(rt);
  error_code ec;
  closed.set_option(tcp::no_delay(true), ec);
  BOOST_TEST(ec == asio::error::bad_descriptor);
  ec = unset;
  closed.get_option(nd, ec);
  BOOST_TEST(ec == asio::error::bad_descriptor);
  BOOST_CHECK_THROW(closed.set_option(tcp::no_delay(true)), boost::system::system_error);
}

BOOST_AUTO_TEST_CASE(available_counts_unread_bytes)
{
  nanorun::runtime rt(1);
  tcp_pair p = connected_pair(rt);
  BOOST_TEST(p.server.available() == 0u);
  p.client.write_some(asio::buffer("12345", 5));
  wait_readable(p.server);
  BOOST_TEST(p.server.available() == 5u);
  char b[2];
  asio::read(p.server, asio::buffer(b));
  BOOST_TEST(p.server.available() == 3u);
  tcp::socket closed(rt);
  error_code ec;
  BOOST_TEST(closed.available(ec) == 0u);
  BOOST_TEST(ec == asio::error::bad_descriptor);
}

BOOST_AUTO_TEST_CASE(non_blocking_sync_read_would_block)
{
  nanorun::runtime rt(1);
  tcp_pair p = connected_pair(rt);
  BOOST_TEST(!p.server.non_blocking());
  p.server.non_blocking(true);
  BOOST_TEST(p.server.non_blocking());
  char b[8];
  error_code ec;
  BOOST_TEST(p.server.read_some(asio::buffer(b), ec) == 0u);
  BOOST_TEST(ec == asio::error::would_block);
  BOOST_CHECK_EXCEPTION(p.server.read_some(asio::buffer(b)), boost::system::system_error,
                        [](const boost::system::system_error& e) { return e.code() == asio::error::would_block; });

  // Asynchronous operations still wait, whatever the mode.
  outcome r;
  p.server.async_read_some(asio::buffer(b), r.handler());
  p.client.write_some(asio::buffer("nb", 2));
  rt.run_for(limit);
  BOOST_TEST(!r.ec);
  BOOST_TEST(r.bytes == 2u);

  p.client.write_some(asio::buffer("now", 3));
  wait_readable(p.server);
  BOOST_TEST(p.server.read_some(asio::buffer(b), ec) == 3u);
  BOOST_TEST(!ec);
  p.server.non_blocking(false);
  BOOST_TEST(!p.server.non_blocking());

  tcp::socket closed(rt);
  closed.non_blocking(true, ec);
  BOOST_TEST(ec == asio::error::bad_descriptor);
}

BOOST_AUTO_TEST_CASE(native_handle_and_release)
{
  nanorun::runtime rt(1);
  tcp_pair p = connected_pair(rt);
  const auto fd = p.server.native_handle();
  BOOST_TEST(fd != nanorun::detail::invalid_native_handle);

  // A pending read is aborted by release(), as with Asio.
  char b[8];
  outcome pending;
  p.server.async_read_some(asio::buffer(b), pending.handler());
  const auto released = p.server.release();
  BOOST_TEST(released == fd);
  BOOST_TEST(!p.server.is_open());
  BOOST_TEST(p.server.native_handle() == nanorun::detail::invalid_native_handle);
  rt.run_for(limit);
  BOOST_TEST(pending.calls == 1);
  BOOST_TEST(pending.ec == asio::error::operation_aborted);

  // The descriptor is still open and connected.
  p.client.write_some(asio::buffer("xyz", 3));
  BOOST_TEST(raw_read(released, b, sizeof b) == 3);
  BOOST_TEST(std::string(b, 3) == "xyz");
  BOOST_TEST(raw_close(released));

  error_code ec;
  BOOST_TEST(p.server.release(ec) == nanorun::detail::invalid_native_handle);
  BOOST_TEST(ec == asio::error::bad_descriptor);
}

BOOST_AUTO_TEST_CASE(a_released_descriptor_can_be_assigned_to_another_socket)
{
  nanorun::runtime rt(1);
  tcp_pair p = connected_pair(rt);
  const auto peer = p.server.remote_endpoint();
  tcp::socket other(rt);
  other.assign(tcp::v4(), p.server.release());
  BOOST_TEST(other.is_open());
  BOOST_TEST(other.remote_endpoint() == peer);
  char b[8];
  outcome r;
  other.async_read_some(asio::buffer(b), r.handler());
  p.client.write_some(asio::buffer("moved", 5));
  rt.run_for(limit);
  BOOST_TEST(!r.ec);
  BOOST_TEST(r.bytes == 5u);
  error_code ec;
  other.assign(tcp::v4(), 0, ec);
  BOOST_TEST(ec == asio::error::already_open);
}

BOOST_AUTO_TEST_CASE(moved_socket_keeps_its_pending_read)
{
  nanorun::runtime rt(1);
  tcp_pair p = connected_pair(rt);
  char b[8];
  outcome r;
  p.server.async_read_some(asio::buffer(b), r.handler());
  tcp::socket moved(std::move(p.server));
  BOOST_TEST(!p.server.is_open()); // NOLINT(bugprone-use-after-move): moved-from state is specified
  BOOST_TEST(moved.is_open());
  p.client.write_some(asio::buffer("mv", 2));
  rt.run_for(limit);
  BOOST_TEST(!r.ec);
  BOOST_TEST(r.bytes == 2u);
}

BOOST_AUTO_TEST_CASE(constructed_from_every_kind_of_nanorun_executor)
{
  nanorun::runtime rt(1);
  const asio::any_io_executor plain(rt.get_executor());
  const auto strand = asio::make_strand(rt.get_executor());
  tcp::socket from_runtime(rt);
  tcp::socket from_executor(rt.get_executor());
  tcp::socket from_any(plain);
  tcp::socket from_strand(strand);
  BOOST_TEST((from_runtime.get_executor() == plain));
  BOOST_TEST((from_executor.get_executor() == plain));
  BOOST_TEST((from_any.get_executor() == plain));
  BOOST_TEST((from_strand.get_executor() == asio::any_io_executor(strand)));
  udp::socket u(rt.get_executor(), udp_loopback());
  BOOST_TEST(u.is_open());
  tcp::resolver r(rt.get_executor());
  BOOST_TEST((r.get_executor() == plain));

  // The executor a coroutine is given.
  auto f = asio::co_spawn(
      rt,
      []() -> asio::awaitable<std::string> {
        tcp::acceptor acceptor(co_await asio::this_coro::executor, {tcp::v4(), 0});
        tcp::socket c(co_await asio::this_coro::executor);
        co_await c.async_connect(loopback(acceptor.local_endpoint().port()), asio::use_awaitable);
        tcp::socket s = co_await acceptor.async_accept(asio::use_awaitable);
        co_await c.async_write_some(asio::buffer("exec", 4), asio::use_awaitable);
        char b[4];
        co_await asio::async_read(s, asio::buffer(b), asio::use_awaitable);
        co_return std::string(b, 4);
      },
      asio::use_future);
  rt.run_for(limit);
  BOOST_TEST(f.get() == "exec");
}

BOOST_AUTO_TEST_CASE(a_foreign_execution_context_is_rejected)
{
  asio::io_context ioc;
  BOOST_CHECK_THROW(tcp::socket{ioc}, std::invalid_argument);
  BOOST_CHECK_THROW(tcp::socket{ioc.get_executor()}, std::invalid_argument);
  BOOST_CHECK_THROW(tcp::socket{asio::any_io_executor(ioc.get_executor())}, std::invalid_argument);
  BOOST_CHECK_THROW(tcp::acceptor{ioc}, std::invalid_argument);
  BOOST_CHECK_THROW(udp::socket{ioc}, std::invalid_argument);
  BOOST_CHECK_THROW(tcp::resolver{ioc}, std::invalid_argument);
  BOOST_CHECK_THROW(tcp::socket{asio::make_strand(ioc)}, std::invalid_argument);
}

// A runtime destroyed while a coroutine waits in async_read: the coroutine's
// frame (and the sockets it owns) is destroyed, its completion never runs,
// and nothing leaks.
BOOST_AUTO_TEST_CASE(runtime_destroyed_with_a_coroutine_suspended_in_async_read)
{
  life_counts frames, handlers;
  bool suspended = false, resumed = false, completed = false;
  {
    auto rt = std::make_unique<nanorun::runtime>(1);
    auto reader = [](tcp_pair p, life_token, bool& at_read, bool& after_read) -> asio::awaitable<void> {
      char b[16];
      at_read = true;
      co_await asio::async_read(p.server, asio::buffer(b), asio::use_awaitable);
      after_read = true;
    };
    asio::co_spawn(*rt, reader(connected_pair(*rt), life_token(frames), suspended, resumed),
                   [token = life_token(handlers), &completed](std::exception_ptr) { completed = true; });
    rt->run_for(20ms);
    BOOST_TEST(suspended);
    BOOST_TEST(frames.live.load() == 1);
    BOOST_TEST(handlers.live.load() >= 1);
  }
  BOOST_TEST(!resumed);
  BOOST_TEST(!completed);
  BOOST_TEST(frames.live.load() == 0);
  BOOST_TEST(handlers.live.load() == 0);
}

// The same with a plain callback that owns the socket it waits on.
BOOST_AUTO_TEST_CASE(runtime_destroyed_with_a_pending_callback)
{
  life_counts handlers;
  bool completed = false;
  {
    auto rt = std::make_unique<nanorun::runtime>(1);
    struct connection
    {
      tcp_pair p;
      char buf[16];
    };
    auto c = std::make_shared<connection>(connection{connected_pair(*rt), {}});
    tcp::acceptor acc(*rt, loopback());
    auto& server = c->p.server;
    server.async_read_some(asio::buffer(c->buf),
                           [c, token = life_token(handlers), &completed](error_code, std::size_t) { completed = true; });
    acc.async_accept([token = life_token(handlers), &completed](error_code, tcp::socket) { completed = true; });
    c.reset(); // the pending read's handler is the connection's only owner now
    rt->run_for(10ms);
    BOOST_TEST(handlers.live.load() >= 2);
  }
  BOOST_TEST(!completed);
  BOOST_TEST(handlers.live.load() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
