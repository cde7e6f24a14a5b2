// An asynchronous HTTP server in the style of Boost.Beast's own example
// (http/server/async/http_server_async.cpp): a listener accepts onto a strand
// per connection, a session reads requests and writes responses over a
// beast::tcp_stream with timeouts, keep-alive. Written for boost::asio; see
// test/migration/migrate.cmake. Usage: beast_http_server --port N
#include <boost/asio/dispatch.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/version.hpp>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
// -- program --
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;

template <class Body, class Allocator>
http::response<http::string_body> handle_request(http::request<Body, http::basic_fields<Allocator>>&& req)
{
  auto respond = [&](http::status status, std::string body) {
    http::response<http::string_body> res{status, req.version()};
    res.set(http::field::server, BOOST_BEAST_VERSION_STRING);
    res.set(http::field::content_type, "text/plain");
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
  };
  if (req.method() != http::verb::get && req.method() != http::verb::head)
    return respond(http::status::bad_request, "Unknown HTTP-method");
  if (req.target() != "/")
    return respond(http::status::not_found, "The resource '" + std::string(req.target()) + "' was not found.");
  return respond(http::status::ok, "Hello, world!");
}

class session : public std::enable_shared_from_this<session>
{
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;

public:
  explicit session(tcp::socket&& socket) : stream_(std::move(socket)) {}

  void run()
  {
    net::dispatch(stream_.get_executor(), beast::bind_front_handler(&session::do_read, shared_from_this()));
  }

  void do_read()
  {
    req_ = {};
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buffer_, req_, beast::bind_front_handler(&session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t)
  {
    if (ec == http::error::end_of_stream)
      return do_close();
    if (ec)
      return;
    send_response(handle_request(std::move(req_)));
  }

  void send_response(http::response<http::string_body>&& msg)
  {
    auto sp = std::make_shared<http::response<http::string_body>>(std::move(msg));
    const bool keep_alive = sp->keep_alive();
    http::async_write(stream_, *sp, [self = shared_from_this(), sp, keep_alive](beast::error_code ec, std::size_t n) {
      self->on_write(keep_alive, ec, n);
    });
  }

  void on_write(bool keep_alive, beast::error_code ec, std::size_t)
  {
    if (ec)
      return;
    if (!keep_alive)
      return do_close();
    do_read();
  }

  void do_close()
  {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }
};

class listener : public std::enable_shared_from_this<listener>
{
  net::io_context& ioc_;
  tcp::acceptor acceptor_;

public:
  listener(net::io_context& ioc, tcp::endpoint endpoint) : ioc_(ioc), acceptor_(net::make_strand(ioc))
  {
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(net::socket_base::max_listen_connections);
    std::printf("listening on 127.0.0.1:%u\n", static_cast<unsigned>(acceptor_.local_endpoint().port()));
    std::fflush(stdout);
  }

  void run() { do_accept(); }

private:
  void do_accept()
  {
    acceptor_.async_accept(net::make_strand(ioc_), beast::bind_front_handler(&listener::on_accept, shared_from_this()));
  }

  void on_accept(beast::error_code ec, tcp::socket socket)
  {
    if (!ec)
      std::make_shared<session>(std::move(socket))->run();
    do_accept();
  }
};

int main(int argc, char* argv[])
{
  const auto port = static_cast<unsigned short>(argc == 3 ? std::atoi(argv[2]) : 0);
  const int threads = 2;
  net::io_context ioc{threads};
  std::make_shared<listener>(ioc, tcp::endpoint{net::ip::make_address("127.0.0.1"), port})->run();
  net::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](beast::error_code const&, int) { ioc.stop(); });
  std::thread other([&ioc] { ioc.run(); });
  ioc.run();
  other.join();
  return 0;
}
