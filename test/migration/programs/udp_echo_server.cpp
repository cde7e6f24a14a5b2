// An asynchronous UDP echo server in the style of Asio's own example
// (cpp11/echo/async_udp_echo_server.cpp). Written for boost::asio; see
// test/migration/migrate.cmake. Usage: udp_echo_server --port N
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <cstdlib>
// -- program --
using boost::asio::ip::udp;

class server
{
public:
  server(boost::asio::io_context& io_context, unsigned short port) : socket_(io_context, udp::endpoint(udp::v4(), port))
  {
    std::printf("listening on 127.0.0.1:%u\n", static_cast<unsigned>(socket_.local_endpoint().port()));
    std::fflush(stdout);
    do_receive();
  }

  void do_receive()
  {
    socket_.async_receive_from(boost::asio::buffer(data_, max_length), sender_endpoint_,
                               [this](boost::system::error_code ec, std::size_t bytes_recvd) {
                                 if (!ec && bytes_recvd > 0)
                                   do_send(bytes_recvd);
                                 else if (ec != boost::asio::error::operation_aborted)
                                   do_receive();
                               });
  }

  void do_send(std::size_t length)
  {
    socket_.async_send_to(boost::asio::buffer(data_, length), sender_endpoint_,
                          [this](boost::system::error_code /*ec*/, std::size_t /*bytes_sent*/) { do_receive(); });
  }

private:
  udp::socket socket_;
  udp::endpoint sender_endpoint_;
  enum
  {
    max_length = 1024
  };
  char data_[max_length];
};

int main(int argc, char* argv[])
{
  try
  {
    boost::asio::io_context io_context;
    server s(io_context, argc == 3 ? static_cast<unsigned short>(std::atoi(argv[2])) : 0);
    boost::asio::signal_set signals(io_context, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int) { io_context.stop(); });
    io_context.run();
  }
  catch (std::exception& e)
  {
    std::printf("Exception: %s\n", e.what());
    return 1;
  }
  return 0;
}
