// A blocking TCP client in the style of Asio's own example
// (cpp11/echo/blocking_tcp_echo_client.cpp): resolve, connect, write, read,
// all synchronous. Written for boost::asio; see test/migration/migrate.cmake.
// Usage: sync_echo_client --port N   (against an echo server on 127.0.0.1)
#include <boost/asio.hpp>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
// -- program --
using boost::asio::ip::tcp;

int main(int argc, char* argv[])
{
  try
  {
    if (argc != 3)
    {
      std::cerr << "Usage: sync_echo_client --port <port>\n";
      return 1;
    }
    boost::asio::io_context io_context;
    tcp::socket s(io_context);
    tcp::resolver resolver(io_context);
    boost::asio::connect(s, resolver.resolve("127.0.0.1", argv[2]));
    for (const char* request : {"hello", "a longer line of text", "x"})
    {
      const std::size_t request_length = std::strlen(request);
      boost::asio::write(s, boost::asio::buffer(request, request_length));
      char reply[64] = {};
      const std::size_t reply_length = boost::asio::read(s, boost::asio::buffer(reply, request_length));
      std::cout << "Reply is: " << std::string(reply, reply_length) << "\n";
    }
    s.shutdown(tcp::socket::shutdown_send);
    char extra;
    boost::system::error_code ec;
    s.read_some(boost::asio::buffer(&extra, 1), ec);
    std::cout << "then: " << (ec == boost::asio::error::eof ? "end of file" : ec.message()) << std::endl;
  }
  catch (std::exception& e)
  {
    std::cerr << "Exception: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
