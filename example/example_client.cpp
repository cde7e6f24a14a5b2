// example_client: checks echo_server and chat_server from another process,
// with plain Boost.Asio (boost::asio::io_context, one thread): a different
// implementation than the servers under test.
//
//   example_client echo PORT   8 concurrent connections each send 1 B, 100 B,
//                              64 KiB and 1 MiB of distinct bytes (writing
//                              and reading at once), expect them back exactly,
//                              then half-close and expect end of file.
//   example_client chat PORT   3 clients join (each waits for its welcome
//                              line); each in turn sends a line, which must
//                              reach the two others and never the sender;
//                              one leaves and the room carries on.
// Exits 0 when every check passes. run_example_test.sh runs it.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using namespace std::chrono_literals;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;

namespace {

int failures = 0; // one thread

void check(bool ok, const std::string& what)
{
  std::printf("  %s: %s\n", ok ? "ok" : "FAILED", what.c_str());
  std::fflush(stdout);
  failures += ok ? 0 : 1;
}

const tcp::endpoint* server = nullptr;

// --- echo ---------------------------------------------------------------

awaitable<void> echo_connection(int id)
{
  tcp::socket s(co_await asio::this_coro::executor);
  co_await s.async_connect(*server, use_awaitable);
  std::size_t total = 0;
  bool exact = true;
  for (const std::size_t size : {std::size_t{1}, std::size_t{100}, std::size_t{64} << 10, std::size_t{1} << 20})
  {
    std::string out(size, '\0'), in(size, '\0');
    for (std::size_t i = 0; i < size; ++i)
      out[i] = static_cast<char>((i * 131 + static_cast<std::size_t>(id) * 7 + size) & 0xff);
    // Both at once: 1 MiB does not fit in the socket buffers both ways.
    co_await (asio::async_write(s, asio::buffer(out), use_awaitable) &&
              asio::async_read(s, asio::buffer(in), use_awaitable));
    exact = exact && in == out;
    total += size;
  }
  s.shutdown(tcp::socket::shutdown_send);
  char extra[16];
  auto [ec, n] = co_await s.async_read_some(asio::buffer(extra), asio::as_tuple(use_awaitable));
  check(exact && ec == asio::error::eof && n == 0,
        "connection " + std::to_string(id) + ": " + std::to_string(total) + " bytes echoed exactly" +
            (exact ? "" : " (MISMATCH)") + ", then end of file (" + ec.message() + ")");
}

awaitable<void> echo_test()
{
  constexpr int connections = 8;
  auto ex = co_await asio::this_coro::executor;
  int done = 0;
  for (int i = 0; i < connections; ++i)
    asio::co_spawn(ex, echo_connection(i), [&](std::exception_ptr e) {
      ++done;
      if (!e)
        return;
      try
      {
        std::rethrow_exception(e);
      }
      catch (const std::exception& err)
      {
        check(false, std::string("echo connection: ") + err.what());
      }
    });
  asio::steady_timer poll(ex);
  while (done < connections)
  {
    poll.expires_after(5ms);
    co_await poll.async_wait(use_awaitable);
  }
}

// --- chat ---------------------------------------------------------------

struct chat_client
{
  const char* name;
  tcp::socket socket;
  std::string buf;
};

// The next line, or an exception if none comes within 10 s.
awaitable<std::string> read_line(chat_client& c)
{
  asio::steady_timer t(c.socket.get_executor(), 10s);
  auto r = co_await (asio::async_read_until(c.socket, asio::dynamic_buffer(c.buf), '\n', use_awaitable) ||
                     t.async_wait(use_awaitable));
  if (r.index() == 1)
    throw std::runtime_error(std::string(c.name) + ": no line within 10 s");
  const std::size_t n = std::get<0>(r);
  std::string line = c.buf.substr(0, n - 1);
  c.buf.erase(0, n);
  co_return line;
}

awaitable<void> expect_line(chat_client& c, const std::string& want)
{
  const std::string got = co_await read_line(c);
  check(got == want, std::string(c.name) + " received '" + got + "'" + (got == want ? "" : ", want '" + want + "'"));
}

awaitable<void> say(chat_client& c, const std::string& line)
{
  std::printf("  %s says '%s'\n", c.name, line.c_str());
  co_await asio::async_write(c.socket, asio::buffer(line + "\n"), use_awaitable);
}

// Nothing more arrives for a while.
awaitable<void> expect_quiet(chat_client& c)
{
  asio::steady_timer t(c.socket.get_executor(), 300ms);
  auto r = co_await (asio::async_read_until(c.socket, asio::dynamic_buffer(c.buf), '\n', use_awaitable) ||
                     t.async_wait(use_awaitable));
  check(r.index() == 1, std::string(c.name) + " received nothing more" + (r.index() == 0 ? " (got '" + c.buf + "')" : ""));
}

awaitable<void> chat_test()
{
  auto ex = co_await asio::this_coro::executor;
  chat_client a{"A", tcp::socket(ex), {}}, b{"B", tcp::socket(ex), {}}, c{"C", tcp::socket(ex), {}};
  // One at a time, each in the room (welcomed) before the next joins.
  for (chat_client* p : {&a, &b, &c})
  {
    co_await p->socket.async_connect(*server, use_awaitable);
    const std::string welcome = co_await read_line(*p);
    check(welcome.starts_with("welcome"), std::string(p->name) + " joined: '" + welcome + "'");
  }
  // A's own line would reach A before B's: A's next line must be B's.
  co_await say(a, "hello from A");
  co_await expect_line(b, "hello from A");
  co_await expect_line(c, "hello from A");
  co_await say(b, "hello from B");
  co_await expect_line(a, "hello from B");
  co_await expect_line(c, "hello from B");
  co_await say(c, "hello from C");
  co_await expect_line(a, "hello from C");
  co_await expect_line(b, "hello from C");
  std::printf("  A leaves\n");
  a.socket.close();
  co_await say(b, "bye from B");
  co_await expect_line(c, "bye from B");
  co_await expect_quiet(b);
  co_await expect_quiet(c);
}

} // namespace

int main(int argc, char* argv[])
{
  if (argc != 3 || (std::string(argv[1]) != "echo" && std::string(argv[1]) != "chat"))
  {
    std::fprintf(stderr, "usage: example_client echo|chat PORT\n");
    return 2;
  }
  const std::string mode = argv[1];
  const tcp::endpoint ep(asio::ip::address_v4::loopback(), static_cast<unsigned short>(std::atoi(argv[2])));
  server = &ep;
  std::printf("example_client: %s test against %s:%u\n", mode.c_str(), ep.address().to_string().c_str(), ep.port());

  asio::io_context ctx;
  bool finished = false;
  asio::co_spawn(ctx, mode == "echo" ? echo_test() : chat_test(), [&](std::exception_ptr e) {
    finished = true;
    try
    {
      if (e)
        std::rethrow_exception(e);
    }
    catch (const std::exception& err)
    {
      check(false, std::string("exception: ") + err.what());
    }
  });
  ctx.run_for(60s);
  if (!finished)
    check(false, "test did not finish within 60 s");
  std::printf("example_client: %s\n", failures == 0 ? "all checks passed" : "FAILED");
  return failures == 0 ? 0 : 1;
}
