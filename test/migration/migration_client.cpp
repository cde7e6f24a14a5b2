// migration_client: checks the migrated UDP echo server from another process,
// with plain Boost.Asio (blocking calls, one thread).
//
//   migration_client udp PORT   sends 64 datagrams of 1 to 1000 distinct
//                               bytes, one at a time, and expects each back
//                               exactly within 5 s.
// Exits 0 when every check passes. run_migration_test.sh runs it.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace asio = boost::asio;
using asio::ip::udp;

int main(int argc, char* argv[])
{
  if (argc != 3 || std::string(argv[1]) != "udp")
  {
    std::fprintf(stderr, "usage: migration_client udp PORT\n");
    return 64;
  }
  asio::io_context ctx;
  const udp::endpoint server(asio::ip::address_v4::loopback(), static_cast<unsigned short>(std::atoi(argv[2])));
  udp::socket s(ctx, udp::endpoint(udp::v4(), 0));
  int failures = 0;
  for (int i = 0; i < 64; ++i)
  {
    const std::size_t size = 1 + static_cast<std::size_t>(i) * 997 % 1000;
    std::vector<unsigned char> out(size), in(2048);
    for (std::size_t k = 0; k < size; ++k)
      out[k] = static_cast<unsigned char>(i * 31 + k);
    s.send_to(asio::buffer(out), server);
    // Receive with a deadline: a lost datagram (or a dead server) must fail
    // the check, not hang it.
    udp::endpoint from;
    std::size_t got = 0;
    boost::system::error_code rec;
    asio::steady_timer t(ctx, std::chrono::seconds(5));
    s.async_receive_from(asio::buffer(in), from, [&](boost::system::error_code ec, std::size_t n) {
      rec = ec;
      got = n;
      t.cancel();
    });
    t.async_wait([&](boost::system::error_code ec) {
      if (!ec)
        s.cancel(); // the receive ends with operation_aborted
    });
    ctx.restart();
    ctx.run();
    const bool ok = !rec && got == size && std::equal(out.begin(), out.end(), in.begin()) && from == server;
    if (!ok)
    {
      std::printf("  FAILED: datagram %d (%zu bytes): %s, got %zu bytes\n", i, size, rec.message().c_str(), got);
      ++failures;
    }
  }
  std::printf("  %s: 64 datagrams echoed\n", failures ? "FAILED" : "ok");
  return failures ? 1 : 0;
}
