// A C++20 coroutine TCP echo server in the style of Asio's own example
// (cpp20/coroutines/echo_server.cpp): a listener coroutine accepts, one
// coroutine per connection echoes. Written for boost::asio; the migration
// tests build it as written and after search-and-replace (see
// test/migration/migrate.cmake). Usage: coro_echo_server --port N
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/write.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>
// -- program --
using boost::asio::awaitable;
using boost::asio::co_spawn;
using boost::asio::detached;
using boost::asio::use_awaitable;
using boost::asio::ip::tcp;
namespace this_coro = boost::asio::this_coro;

awaitable<void> echo(tcp::socket socket)
{
  try
  {
    char data[1024];
    for (;;)
    {
      std::size_t n = co_await socket.async_read_some(boost::asio::buffer(data), use_awaitable);
      co_await async_write(socket, boost::asio::buffer(data, n), use_awaitable);
    }
  }
  catch (std::exception&)
  {
  }
}

// As in Asio's chat_server example: the acceptor is made by main, from the
// context and a braced endpoint (the line the issue found not to compile).
awaitable<void> listener(tcp::acceptor acceptor)
{
  auto executor = co_await this_coro::executor;
  std::printf("listening on 127.0.0.1:%u\n", static_cast<unsigned>(acceptor.local_endpoint().port()));
  std::fflush(stdout);
  for (;;)
  {
    tcp::socket socket = co_await acceptor.async_accept(use_awaitable);
    co_spawn(executor, echo(std::move(socket)), detached);
  }
}

int main(int argc, char* argv[])
{
  try
  {
    const unsigned short port = argc == 3 ? static_cast<unsigned short>(std::atoi(argv[2])) : 0;
    boost::asio::io_context io_context(1);
    boost::asio::signal_set signals(io_context, SIGINT, SIGTERM);
    signals.async_wait([&](auto, auto) { io_context.stop(); });
    co_spawn(io_context, listener(tcp::acceptor(io_context, {tcp::v4(), port})), detached);
    io_context.run();
  }
  catch (std::exception& e)
  {
    std::printf("Exception: %s\n", e.what());
    return 1;
  }
  return 0;
}
