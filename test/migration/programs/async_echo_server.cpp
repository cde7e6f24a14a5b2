// A callback TCP echo server in the style of Asio's own example
// (cpp11/echo/async_tcp_echo_server.cpp): a session object per connection
// keeps itself alive with shared_from_this; two threads run the context.
// Written for boost::asio; see test/migration/migrate.cmake.
// Usage: async_echo_server --port N
#include <boost/asio.hpp>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>
#include <utility>
// -- program --
using boost::asio::ip::tcp;

class session : public std::enable_shared_from_this<session>
{
public:
  session(tcp::socket socket) : socket_(std::move(socket)) {}

  void start() { do_read(); }

private:
  void do_read()
  {
    auto self(shared_from_this());
    socket_.async_read_some(boost::asio::buffer(data_, max_length),
                            [this, self](boost::system::error_code ec, std::size_t length) {
                              if (!ec)
                                do_write(length);
                            });
  }

  void do_write(std::size_t length)
  {
    auto self(shared_from_this());
    boost::asio::async_write(socket_, boost::asio::buffer(data_, length),
                             [this, self](boost::system::error_code ec, std::size_t /*length*/) {
                               if (!ec)
                                 do_read();
                             });
  }

  tcp::socket socket_;
  enum
  {
    max_length = 1024
  };
  char data_[max_length];
};

class server
{
public:
  server(boost::asio::io_context& io_context, unsigned short port)
      : acceptor_(io_context, tcp::endpoint(tcp::v4(), port))
  {
    std::printf("listening on 127.0.0.1:%u\n", static_cast<unsigned>(acceptor_.local_endpoint().port()));
    std::fflush(stdout);
    do_accept();
  }

private:
  void do_accept()
  {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (!ec)
        std::make_shared<session>(std::move(socket))->start();
      do_accept();
    });
  }

  tcp::acceptor acceptor_;
};

int main(int argc, char* argv[])
{
  try
  {
    boost::asio::io_context io_context;
    server s(io_context, argc == 3 ? static_cast<unsigned short>(std::atoi(argv[2])) : 0);
    boost::asio::signal_set signals(io_context, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int) { io_context.stop(); });
    std::thread second([&] { io_context.run(); });
    io_context.run();
    second.join();
  }
  catch (std::exception& e)
  {
    std::printf("Exception: %s\n", e.what());
    return 1;
  }
  return 0;
}
