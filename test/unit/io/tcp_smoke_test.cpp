#include <nanorun/ip/tcp.hpp>
#include <nanorun/runtime.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

namespace asio = boost::asio;
using nanorun::ip::tcp;

BOOST_AUTO_TEST_SUITE(tcp_smoke)

BOOST_AUTO_TEST_CASE(echo_roundtrip)
{
  nanorun::runtime rt(1);
  tcp::acceptor acc(rt, tcp::endpoint{tcp::v4(), 0});
  const auto port = acc.local_endpoint().port();
  std::string got;
  asio::co_spawn(rt, [&]() -> asio::awaitable<void> {
    tcp::socket s = co_await acc.async_accept(asio::use_awaitable);
    char buf[64];
    for (;;) {
      auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
      if (ec) break;
      co_await asio::async_write(s, asio::buffer(buf, n), asio::use_awaitable);
    }
  }, asio::detached);
  asio::co_spawn(rt, [&]() -> asio::awaitable<void> {
    tcp::resolver r(co_await asio::this_coro::executor);
    auto results = co_await r.async_resolve("127.0.0.1", std::to_string(port), asio::use_awaitable);
    tcp::socket c(co_await asio::this_coro::executor);
    co_await asio::async_connect(c, results, asio::use_awaitable);
    co_await asio::async_write(c, asio::buffer(std::string("hello")), asio::use_awaitable);
    char buf[5];
    co_await asio::async_read(c, asio::buffer(buf), asio::use_awaitable);
    got.assign(buf, 5);
    c.close();
  }, asio::detached);
  rt.run_for(std::chrono::seconds(5));
  BOOST_TEST(got == "hello");
}

BOOST_AUTO_TEST_SUITE_END()
