// timeout_client: a request with a deadline, using Asio's awaitable operators.
//
// request() resolves the server's name (tcp::resolver), connects with
// boost::asio::async_connect over the results, sends one line and waits for a
// one-line reply, racing the read against a timer:
//
//   co_await (async_read_until(socket, ...) || timer.async_wait(use_awaitable))
//
// Whichever finishes first wins and the other is cancelled. The program shows
// both outcomes against a tiny line server it runs itself, on the same runtime:
//   1. "ping":   the server echoes it at once; the reply beats the deadline;
//   2. "silent": the server never answers; the timer wins, the read is
//      cancelled, the client closes, and the server sees it hang up.
// With --port (and --host) it instead sends "ping" to an external line echo
// server (e.g. echo_server) and expects it back in time.
//
// `||` races two operations of one coroutine: on a runtime run by two threads
// the coroutine needs a serial executor, so it is spawned on a strand.
#include <nanorun/io_context.hpp>
#include <nanorun/ip/tcp.hpp>
#include <nanorun/steady_timer.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using namespace std::chrono_literals;
using asio::awaitable;
using asio::use_awaitable;
using nanorun::ip::tcp;
using std::chrono::steady_clock;

namespace {

// Sends `line` and returns the reply line, or nothing if none came in `deadline`.
awaitable<std::optional<std::string>> request(std::string host, std::string port, std::string line,
                                              steady_clock::duration deadline)
{
  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  tcp::socket socket(ex);
  const auto endpoints = co_await resolver.async_resolve(host, port, use_awaitable);
  co_await asio::async_connect(socket, endpoints, use_awaitable);
  co_await asio::async_write(socket, asio::buffer(line + "\n"), use_awaitable);

  std::string reply;
  nanorun::steady_timer timer(ex, deadline);
  std::variant<std::size_t, std::monostate> winner =
      co_await (asio::async_read_until(socket, asio::dynamic_buffer(reply), '\n', use_awaitable) ||
                timer.async_wait(use_awaitable));
  if (winner.index() == 1)
    co_return std::nullopt; // the timer won; the read has been cancelled
  co_return reply.substr(0, std::get<0>(winner) - 1);
} // the socket closes here

// The tiny server: echoes each line, except that it never answers "silent".
std::atomic<int> hangups{0};

awaitable<void> tiny_session(tcp::socket socket)
{
  std::string buf;
  for (;;)
  {
    auto [ec, n] = co_await asio::async_read_until(socket, asio::dynamic_buffer(buf), '\n', asio::as_tuple(use_awaitable));
    if (ec)
    {
      ++hangups;
      co_return;
    }
    const std::string line = buf.substr(0, n);
    buf.erase(0, n);
    if (line != "silent\n")
      co_await asio::async_write(socket, asio::buffer(line), use_awaitable);
  }
}

awaitable<void> tiny_server(tcp::acceptor acceptor)
{
  for (;;)
    asio::co_spawn(acceptor.get_executor(), tiny_session(co_await acceptor.async_accept(use_awaitable)),
                   asio::detached);
}

std::atomic<int> failures{0};

void check(bool ok, const std::string& what)
{
  std::printf("  %s: %s\n", ok ? "ok" : "FAILED", what.c_str());
  std::fflush(stdout);
  failures += ok ? 0 : 1;
}

double ms_since(steady_clock::time_point t0)
{
  return std::chrono::duration<double, std::milli>(steady_clock::now() - t0).count();
}

awaitable<void> demo(std::string host, std::string port, bool with_silent_server)
{
  auto t0 = steady_clock::now();
  auto reply = co_await request(host, port, "ping", 5s);
  check(reply == "ping", "'ping' with a 5 s deadline: reply " + (reply ? "'" + *reply + "'" : "none") +
                             " after " + std::to_string(ms_since(t0)) + " ms");
  if (!with_silent_server)
    co_return;

  constexpr auto deadline = 200ms;
  t0 = steady_clock::now();
  reply = co_await request(host, port, "silent", deadline);
  const double waited = ms_since(t0);
  check(!reply, "'silent' with a 200 ms deadline: " +
                    (reply ? "unexpected reply '" + *reply + "'" : std::string("timer won, read cancelled")));
  check(waited >= 200.0 && waited < 3200.0, "gave up after " + std::to_string(waited) + " ms");

  // The client closed its socket: the server's pending read sees end of file.
  nanorun::steady_timer poll(co_await asio::this_coro::executor);
  for (int i = 0; i < 500 && hangups < 2; ++i)
  {
    poll.expires_after(10ms);
    co_await poll.async_wait(use_awaitable);
  }
  check(hangups == 2, "server saw both clients hang up (" + std::to_string(hangups.load()) + ")");
}

} // namespace

int main(int argc, char* argv[])
{
  std::string host = "127.0.0.1";
  std::string port;
  for (int i = 1; i + 1 < argc; i += 2)
  {
    const std::string_view opt = argv[i];
    if (opt == "--host")
      host = argv[i + 1];
    else if (opt == "--port")
      port = argv[i + 1];
    else
    {
      std::fprintf(stderr, "usage: timeout_client [--host H --port P]\n");
      return 2;
    }
  }

  nanorun::io_context ctx(2);
  const bool in_process = port.empty();
  if (in_process)
  {
    tcp::acceptor acceptor(ctx, tcp::endpoint(asio::ip::make_address(host), 0));
    port = std::to_string(acceptor.local_endpoint().port());
    asio::co_spawn(ctx, tiny_server(std::move(acceptor)), asio::detached);
  }
  std::printf("timeout_client: requests to %s:%s (%s)\n", host.c_str(), port.c_str(),
              in_process ? "in-process server" : "external server");

  // On a strand: the two branches of || must not complete on two threads at once.
  asio::co_spawn(asio::make_strand(ctx), demo(host, port, in_process), [&](std::exception_ptr e) {
    try
    {
      if (e)
        std::rethrow_exception(e);
    }
    catch (const std::exception& ex)
    {
      check(false, std::string("exception: ") + ex.what());
    }
    ctx.stop(); // the tiny server would otherwise accept forever
  });

  // A watchdog, so that a lost completion fails the run instead of hanging it.
  nanorun::steady_timer watchdog(ctx, 30s);
  watchdog.async_wait([&](boost::system::error_code ec) {
    if (ec)
      return;
    check(false, "the demo did not finish within 30 s");
    ctx.stop();
  });

  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i)
    threads.emplace_back([&ctx] { ctx.run(); });
  for (auto& t : threads)
    t.join();

  std::printf("timeout_client: %s\n", failures == 0 ? "all checks passed" : "FAILED");
  return failures == 0 ? 0 : 1;
}
