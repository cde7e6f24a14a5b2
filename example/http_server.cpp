// http_server: an HTTP/1.1 server with Boost.Beast, on nanorun or on Asio.
//
// Beast's http::async_read and http::async_write run unchanged on a nanorun
// tcp::socket. The server is one template over the TCP protocol and the
// execution context, instantiated twice:
//   serve<nanorun::ip::tcp, nanorun::io_context>      (default)
//   serve<boost::asio::ip::tcp, boost::asio::io_context>  (--asio)
// so the two can be compared with the same code (e.g. with wrk).
//   GET /        200, a small text/plain body naming the backend
//   GET /other   404
//   POST ...     405
// Connections are kept alive as long as the client asks. One coroutine per
// connection; SIGINT/SIGTERM stop the server, which prints what it served.
//
// Usage: http_server [--asio] [--address 127.0.0.1] [--port 0] [--threads 2]
// Prints "http_server: listening on ADDRESS:PORT (BACKEND)".
#include <nanorun/io_context.hpp>
#include <nanorun/ip/tcp.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
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
namespace beast = boost::beast;
namespace http = beast::http;
using asio::awaitable;
using asio::use_awaitable;

namespace {

std::atomic<long> connections{0};
std::atomic<long> requests{0};

http::response<http::string_body> handle(const http::request<http::string_body>& req, std::string_view backend)
{
  auto respond = [&](http::status status, std::string body) {
    http::response<http::string_body> res{status, req.version()};
    res.set(http::field::server, backend);
    res.set(http::field::content_type, "text/plain");
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
  };
  if (req.method() != http::verb::get)
    return respond(http::status::method_not_allowed, "only GET\n");
  if (req.target() != "/")
    return respond(http::status::not_found, "not found: " + std::string(req.target()) + "\n");
  return respond(http::status::ok, "Hello from " + std::string(backend) + "\n");
}

// One connection: read a request, answer it, until either side closes.
template <class Tcp>
awaitable<void> session(typename Tcp::socket socket, std::string_view backend)
{
  ++connections;
  beast::flat_buffer buffer;
  for (;;)
  {
    http::request<http::string_body> req;
    auto [ec, n] = co_await http::async_read(socket, buffer, req, asio::as_tuple(use_awaitable));
    if (ec) // end_of_stream: the client closed between requests
      break;
    ++requests;
    http::response<http::string_body> res = handle(req, backend);
    const bool keep_alive = res.keep_alive();
    auto [wec, written] = co_await http::async_write(socket, res, asio::as_tuple(use_awaitable));
    if (wec || !keep_alive)
      break;
  }
  boost::system::error_code ignored;
  socket.shutdown(Tcp::socket::shutdown_send, ignored);
}

template <class Tcp>
awaitable<void> listener(typename Tcp::acceptor acceptor, std::string_view backend)
{
  for (;;)
  {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(use_awaitable));
    if (ec)
    {
      std::fprintf(stderr, "http_server: accept: %s\n", ec.message().c_str());
      if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor)
        break;
      continue; // e.g. out of descriptors under load: carry on
    }
    asio::co_spawn(acceptor.get_executor(), session<Tcp>(std::move(socket), backend), asio::detached);
  }
}

// The whole server, for one TCP implementation and one execution context.
template <class Tcp, class Context>
int serve(const std::string& address, unsigned short port, int threads, std::string_view backend)
{
  Context ctx(threads);
  typename Tcp::acceptor acceptor(ctx, typename Tcp::endpoint(asio::ip::make_address(address), port));
  const auto local = acceptor.local_endpoint();

  asio::signal_set signals(ctx, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int signo) {
    std::printf("http_server: signal %d, stopping\n", signo);
    ctx.stop();
  });

  asio::co_spawn(ctx, listener<Tcp>(std::move(acceptor), backend), asio::detached);

  std::printf("http_server: listening on %s:%u (%.*s, %d threads)\n", local.address().to_string().c_str(),
              local.port(), static_cast<int>(backend.size()), backend.data(), threads);
  std::fflush(stdout);

  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i)
    pool.emplace_back([&ctx] { ctx.run(); });
  for (auto& t : pool)
    t.join();

  std::printf("http_server: served %ld requests on %ld connections\n", requests.load(), connections.load());
  return 0;
}

} // namespace

int main(int argc, char* argv[])
{
  bool use_asio = false;
  std::string address = "127.0.0.1";
  unsigned short port = 0;
  int threads = 2;
  for (int i = 1; i < argc; ++i)
  {
    const std::string_view opt = argv[i];
    if (opt == "--asio")
      use_asio = true;
    else if (opt == "--address" && i + 1 < argc)
      address = argv[++i];
    else if (opt == "--port" && i + 1 < argc)
      port = static_cast<unsigned short>(std::atoi(argv[++i]));
    else if (opt == "--threads" && i + 1 < argc)
      threads = std::max(1, std::atoi(argv[++i]));
    else
    {
      std::fprintf(stderr, "usage: http_server [--asio] [--address A] [--port N] [--threads T]\n");
      return 2;
    }
  }

  try
  {
    if (use_asio)
      return serve<asio::ip::tcp, asio::io_context>(address, port, threads, "boost::asio");
    return serve<nanorun::ip::tcp, nanorun::io_context>(address, port, threads, "nanorun");
  }
  catch (const std::exception& e)
  {
    std::fprintf(stderr, "http_server: %s\n", e.what());
    return 1;
  }
}
