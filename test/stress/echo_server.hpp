// The echo server side shared by the socket and fault stress suites: one
// coroutine session per accepted connection, on a strand of its own, that
// writes back whatever it reads until end of stream.
#pragma once

#include "unit/io/io_test_support.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <vector>

namespace nanorun::test {

using io_test::tcp;
namespace asio = boost::asio;

struct echo_stats
{
  std::atomic<long> bytes_checked{0};
  std::atomic<long> mismatches{0};
  std::atomic<long> errors{0};
  std::atomic<long> clients_done{0};
  std::atomic<long> servers_done{0};
};

inline asio::awaitable<void> echo_server(tcp::socket s, echo_stats& st)
{
  std::vector<char> buf(32768);
  for (;;)
  {
    auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
    if (ec)
    {
      if (ec != asio::error::eof)
        st.errors.fetch_add(1);
      break;
    }
    auto [wec, wn] = co_await asio::async_write(s, asio::buffer(buf.data(), n), asio::as_tuple(asio::use_awaitable));
    if (wec || wn != n)
    {
      st.errors.fetch_add(1);
      break;
    }
  }
  st.servers_done.fetch_add(1);
}

inline asio::awaitable<void> echo_acceptor(tcp::acceptor& acc, int connections, echo_stats& st)
{
  for (int i = 0; i < connections; ++i)
  {
    tcp::socket s = co_await acc.async_accept(asio::use_awaitable);
    // One strand per connection, as asio-interop.md recommends.
    asio::co_spawn(asio::make_strand(s.get_executor()), echo_server(std::move(s), st), asio::detached);
  }
}

} // namespace nanorun::test
