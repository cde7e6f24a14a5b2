// nanorun_beast_async_server: Boost.Beast's asynchronous HTTP server, in the
// shape Beast ships it (http_server_async), on Asio's own sockets, with the
// execution context as the only thing that changes:
//
//   --context asio     boost::asio::io_context
//   --context nanorun  nanorun::io_context (Asio's sockets, acceptor, timers
//                      and signal_set run on it through the bridge)
//
// The shape, kept as user code writes it because that is what the bridge
// has to carry:
//   - a listener (enable_shared_from_this) accepts with async_accept, giving
//     every connection its own strand from make_strand(context);
//   - a session (enable_shared_from_this) owns a beast::tcp_stream, moves
//     onto its strand with dispatch, and loops: expires_after(30 s),
//     http::async_read into a flat_buffer and a request, build the response,
//     http::async_write, read again while the client keeps the connection
//     alive, then shut down the sending side;
//   - completion handlers are member functions bound with bind_front_handler
//     to shared_from_this(): no coroutines;
//   - main runs context.run() on N threads (N - 1 started, plus itself).
// Everything except listener's Context parameter and the two lines in main
// that pick it is the same code for both builds.
//
// Responses: GET and HEAD get 200 with a fixed 13-byte text/plain body
// (HEAD without the body); any other method gets 400, as Beast's example
// does, so wrk's default GET measures the 200 path.
//
// Usage: nanorun_beast_async_server --context asio|nanorun [--threads N] [--port P]
//   --threads N  threads calling run() (default 2)
//   --port P     port on 127.0.0.1 (default 0: the kernel picks one)
// Prints "listening on 127.0.0.1:PORT" on stdout (flushed) once it accepts.
// SIGINT or SIGTERM (a boost::asio::signal_set on the same context) stops the
// context; the program then prints how many requests it served and exits 0.
// Exit codes: 0 after a signal, 1 if the server could not start, 64 on a bad
// command line.
#include <nanorun/io_context.hpp>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/version.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = beast::error_code;

constexpr std::string_view body_text = "Hello, world\n";

// Relaxed: read once, after every run() has returned.
std::atomic<unsigned long> requests_served{0};
std::atomic<unsigned long> connections_accepted{0};

void report(std::string_view what, const error_code& ec)
{
  std::fprintf(stderr, "beast_async_server: %.*s: %s\n", static_cast<int>(what.size()), what.data(),
               ec.message().c_str());
}

// The handler: the response for one request.
http::response<http::string_body> make_response(const http::request<http::string_body>& req)
{
  const bool known = req.method() == http::verb::get || req.method() == http::verb::head;
  http::response<http::string_body> res{known ? http::status::ok : http::status::bad_request, req.version()};
  res.set(http::field::server, BOOST_BEAST_VERSION_STRING);
  res.set(http::field::content_type, "text/plain");
  res.keep_alive(req.keep_alive());
  if (!known)
    res.body() = "only GET and HEAD\n";
  else if (req.method() == http::verb::get)
    res.body() = body_text;
  res.prepare_payload();
  if (req.method() == http::verb::head)
    res.content_length(body_text.size());
  return res;
}

// One connection, every handler on the connection's strand.
class session : public std::enable_shared_from_this<session>
{
public:
  explicit session(tcp::socket&& socket) : stream_(std::move(socket)) {}

  void run()
  {
    // The accept handler ran on the listener's strand; the session's own
    // strand is its stream's executor.
    asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&session::do_read, shared_from_this()));
  }

private:
  void do_read()
  {
    // A fresh request each time: the parser appends to the message it is given.
    req_ = {};
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buffer_, req_, beast::bind_front_handler(&session::on_read, shared_from_this()));
  }

  void on_read(error_code ec, std::size_t)
  {
    if (ec == http::error::end_of_stream) // the client closed between requests
      return do_close();
    if (ec)
    {
      // Timeouts and resets end a connection quietly; wrk cuts its
      // connections mid-request when its time is up.
      if (ec != beast::error::timeout && ec != asio::error::connection_reset &&
          ec != asio::error::operation_aborted)
        report("read", ec);
      return;
    }
    requests_served.fetch_add(1, std::memory_order_relaxed);
    res_ = make_response(req_);
    http::async_write(stream_, res_,
                      beast::bind_front_handler(&session::on_write, shared_from_this(), res_.keep_alive()));
  }

  void on_write(bool keep_alive, error_code ec, std::size_t)
  {
    if (ec)
    {
      if (ec != asio::error::connection_reset && ec != asio::error::broken_pipe &&
          ec != asio::error::operation_aborted)
        report("write", ec);
      return;
    }
    if (!keep_alive)
      return do_close();
    do_read();
  }

  void do_close()
  {
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    // The session ends when the last handler holding shared_from_this() returns.
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  http::response<http::string_body> res_;
};

// Accepts connections and starts a session for each. The only class that
// names the context type: make_strand(context) needs it.
template <class Context>
class listener : public std::enable_shared_from_this<listener<Context>>
{
public:
  listener(Context& context, const tcp::endpoint& endpoint) : context_(context), acceptor_(asio::make_strand(context))
  {
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(asio::socket_base::max_listen_connections);
  }

  unsigned short port() const { return acceptor_.local_endpoint().port(); }

  void run() { do_accept(); }

private:
  void do_accept()
  {
    // Each new connection gets a strand of its own.
    acceptor_.async_accept(asio::make_strand(context_),
                           beast::bind_front_handler(&listener::on_accept, this->shared_from_this()));
  }

  void on_accept(error_code ec, tcp::socket socket)
  {
    if (ec)
    {
      report("accept", ec);
      // A closed acceptor will not accept again; anything else (e.g. out of
      // descriptors under load) may pass.
      if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor)
        return;
    }
    else
    {
      connections_accepted.fetch_add(1, std::memory_order_relaxed);
      std::make_shared<session>(std::move(socket))->run();
    }
    do_accept();
  }

  Context& context_;
  tcp::acceptor acceptor_;
};

// The whole program for one context type.
template <class Context>
int serve(const char* context_name, int threads, unsigned short port)
{
  Context context{threads};

  auto server = std::make_shared<listener<Context>>(context, tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  server->run();

  // Stop on SIGINT/SIGTERM. stop() makes every run() return; the sessions
  // still waiting are destroyed with the context.
  asio::signal_set signals(context, SIGINT, SIGTERM);
  signals.async_wait([&context](const error_code& ec, int) {
    if (!ec)
      context.stop();
  });

  std::printf("listening on 127.0.0.1:%u\n", static_cast<unsigned>(server->port()));
  std::fflush(stdout);
  server.reset(); // its pending accept owns it from now on

  std::vector<std::thread> extra;
  extra.reserve(static_cast<std::size_t>(threads - 1));
  for (int i = 1; i < threads; ++i)
    extra.emplace_back([&context] { context.run(); });
  context.run();
  for (auto& t : extra)
    t.join();

  std::printf("stopped: %s, %d threads, %lu requests on %lu connections\n", context_name, threads,
              requests_served.load(), connections_accepted.load());
  return 0;
}

[[noreturn]] void usage(int code)
{
  std::fprintf(code ? stderr : stdout,
               "usage: nanorun_beast_async_server --context asio|nanorun [--threads N] [--port P]\n"
               "  --context C  asio: boost::asio::io_context; nanorun: nanorun::io_context\n"
               "  --threads N  threads calling run() (default 2)\n"
               "  --port P     port on 127.0.0.1; 0 (the default) lets the kernel pick one\n");
  std::exit(code);
}

} // namespace

int main(int argc, char* argv[])
{
  std::string context;
  int threads = 2;
  long port = 0;
  for (int i = 1; i < argc; ++i)
  {
    const std::string_view a = argv[i];
    if (a == "--context" && i + 1 < argc)
      context = argv[++i];
    else if (a == "--threads" && i + 1 < argc)
      threads = std::atoi(argv[++i]);
    else if (a == "--port" && i + 1 < argc)
      port = std::atol(argv[++i]);
    else if (a == "--help" || a == "-h")
      usage(0);
    else
      usage(64);
  }
  if ((context != "asio" && context != "nanorun") || threads < 1 || port < 0 || port > 65535)
    usage(64);

  try
  {
    if (context == "asio")
      return serve<asio::io_context>("boost::asio::io_context", threads, static_cast<unsigned short>(port));
    return serve<nanorun::io_context>("nanorun::io_context", threads, static_cast<unsigned short>(port));
  }
  catch (const std::exception& e)
  {
    std::fprintf(stderr, "beast_async_server: %s\n", e.what());
    return 1;
  }
}
