// echo_server: a coroutine TCP echo server on nanorun, written as with Asio.
//
//   - `using nanorun::ip::tcp;` instead of `using boost::asio::ip::tcp;`;
//   - a listener coroutine (co_spawn) accepts connections and co_spawns one
//     echo coroutine per connection;
//   - two threads run the runtime; each connection's coroutine touches only its
//     own socket, so no strand is needed;
//   - SIGINT/SIGTERM (boost::asio::signal_set on the runtime) stop the server,
//     which then prints what it served.
//
// Usage: echo_server [--address 127.0.0.1] [--port 0]
// Prints "echo_server: listening on ADDRESS:PORT" once it accepts connections
// (port 0 picks a free port). example/run_example_test.sh starts it and checks
// it with example_client, a plain boost::asio::io_context program.
#include <nanorun/io_context.hpp>
#include <nanorun/ip/tcp.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using nanorun::ip::tcp;

namespace {

std::atomic<long> connections{0};
std::atomic<long> bytes_echoed{0};

// Echoes until the peer closes its side, then closes ours.
awaitable<void> echo(tcp::socket socket)
{
  char data[16 * 1024];
  for (;;)
  {
    // as_tuple: end of file is the normal way out, not an exception.
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(data), asio::as_tuple(use_awaitable));
    if (ec)
    {
      if (ec != asio::error::eof && ec != asio::error::connection_reset)
        std::fprintf(stderr, "echo_server: read: %s\n", ec.message().c_str());
      break;
    }
    co_await asio::async_write(socket, asio::buffer(data, n), use_awaitable);
    bytes_echoed += static_cast<long>(n);
  }
}

awaitable<void> listener(tcp::acceptor acceptor)
{
  auto ex = co_await asio::this_coro::executor;
  for (;;)
  {
    tcp::socket socket = co_await acceptor.async_accept(use_awaitable);
    ++connections;
    asio::co_spawn(ex, echo(std::move(socket)), [](std::exception_ptr e) {
      try
      {
        if (e)
          std::rethrow_exception(e);
      }
      catch (const std::exception& ex2)
      {
        std::fprintf(stderr, "echo_server: connection: %s\n", ex2.what());
      }
    });
  }
}

} // namespace

int main(int argc, char* argv[])
{
  std::string address = "127.0.0.1";
  unsigned short port = 0;
  for (int i = 1; i + 1 < argc; i += 2)
  {
    const std::string_view opt = argv[i];
    if (opt == "--address")
      address = argv[i + 1];
    else if (opt == "--port")
      port = static_cast<unsigned short>(std::atoi(argv[i + 1]));
    else
    {
      std::fprintf(stderr, "usage: echo_server [--address A] [--port N]\n");
      return 2;
    }
  }

  try
  {
    nanorun::io_context ctx(2);

    tcp::acceptor acceptor(ctx, tcp::endpoint(asio::ip::make_address(address), port));
    const tcp::endpoint local = acceptor.local_endpoint();

    asio::signal_set signals(ctx, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code, int signo) {
      std::printf("echo_server: signal %d, stopping\n", signo);
      ctx.stop();
    });

    asio::co_spawn(ctx, listener(std::move(acceptor)), asio::detached);

    std::printf("echo_server: listening on %s:%u\n", local.address().to_string().c_str(), local.port());
    std::fflush(stdout);

    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i)
      threads.emplace_back([&ctx] { ctx.run(); });
    for (auto& t : threads)
      t.join();

    std::printf("echo_server: served %ld connections, echoed %ld bytes\n", connections.load(),
                bytes_echoed.load());
    return 0;
  }
  catch (const std::exception& e)
  {
    std::fprintf(stderr, "echo_server: %s\n", e.what());
    return 1;
  }
}
