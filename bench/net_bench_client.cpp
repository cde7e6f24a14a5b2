// nanorun_net_bench's client: one hand-written raw client for every peer, so
// that only the server differs between rows.
//
// Every message is 64 bytes whose content depends on the connection and on a
// sequence number, and every echo is compared byte for byte: a short echo, a
// wrong byte, a closed connection or no echo within 5 s ends the run with an
// error naming what went wrong. Both workloads close their connections only
// after the last echo has arrived, so the server sees a clean end of stream.
#include "net_bench.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace nbench {
namespace {

using clock = std::chrono::steady_clock;
constexpr int echo_timeout_s = 5;

[[noreturn]] void fail(const std::string& what)
{
  throw std::runtime_error(what);
}

std::string errno_text()
{
  return std::strerror(errno);
}

// Owns one socket.
class fd_guard
{
public:
  fd_guard() = default;
  explicit fd_guard(int fd) : fd_(fd) {}
  fd_guard(fd_guard&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  fd_guard& operator=(fd_guard&&) = delete;
  ~fd_guard()
  {
    if (fd_ >= 0)
      ::close(fd_);
  }
  int get() const { return fd_; }

private:
  int fd_ = -1;
};

fd_guard connect_to(unsigned short port)
{
  fd_guard fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0)
    fail("client: socket: " + errno_text());
  ::sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (::connect(fd.get(), reinterpret_cast<const ::sockaddr*>(&a), sizeof a) != 0)
    fail("client: connect to 127.0.0.1:" + std::to_string(port) + ": " + errno_text());
  const int yes = 1;
  if (::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes) != 0)
    fail("client: setsockopt(TCP_NODELAY): " + errno_text());
  return fd;
}

// The message a connection sends as its seq-th.
void fill(unsigned char* msg, std::uint64_t conn, std::uint64_t seq)
{
  for (std::size_t i = 0; i < message_size; ++i)
    msg[i] = static_cast<unsigned char>(conn * 31 + seq * 131 + i * 7 + 1);
}

void check_echo(const unsigned char* got, std::uint64_t conn, std::uint64_t seq)
{
  unsigned char want[message_size];
  fill(want, conn, seq);
  if (std::memcmp(got, want, message_size) == 0)
    return;
  std::size_t i = 0;
  while (got[i] == want[i])
    ++i;
  fail("wrong bytes in echo " + std::to_string(seq) + " on connection " + std::to_string(conn) + ": byte " +
       std::to_string(i) + " is " + std::to_string(got[i]) + ", sent " + std::to_string(want[i]));
}

void send_all(int fd, const unsigned char* msg, std::uint64_t conn)
{
  std::size_t off = 0;
  while (off < message_size)
  {
    const ssize_t w = ::send(fd, msg + off, message_size - off, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      fail("client: send on connection " + std::to_string(conn) + ": " + errno_text());
    off += static_cast<std::size_t>(w);
  }
}

// Nothing may arrive after the last echo.
void check_no_extra_bytes(int fd, std::uint64_t conn)
{
  unsigned char b;
  if (::recv(fd, &b, 1, MSG_DONTWAIT) > 0)
    fail("extra bytes after the last echo on connection " + std::to_string(conn));
}

double cpu_seconds()
{
  ::rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

double seconds_between(clock::time_point a, clock::time_point b)
{
  return std::chrono::duration<double>(b - a).count();
}

double percentile(std::vector<std::int64_t>& v, double p)
{
  if (v.empty())
    return 0;
  const auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return static_cast<double>(v[k]);
}

} // namespace

sample run_ping_pong(unsigned short port, double warmup_s, double seconds)
{
  sample s;
  try
  {
    fd_guard fd = connect_to(port);
    const ::timeval tv{echo_timeout_s, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);

    unsigned char msg[message_size];
    unsigned char got[message_size];
    std::uint64_t seq = 0;
    auto round_trip = [&] {
      fill(msg, 0, seq);
      send_all(fd.get(), msg, 0);
      std::size_t have = 0;
      while (have < message_size)
      {
        const ssize_t r = ::recv(fd.get(), got + have, message_size - have, 0);
        if (r > 0)
          have += static_cast<std::size_t>(r);
        else if (r == 0)
          fail("server closed the connection after " + std::to_string(seq) + " echoes (" + std::to_string(have) +
               " of 64 bytes of the next one)");
        else if (errno == EAGAIN || errno == EWOULDBLOCK)
          fail("no complete echo within " + std::to_string(echo_timeout_s) + " s (got " + std::to_string(have) +
               " of 64 bytes of echo " + std::to_string(seq) + ")");
        else if (errno != EINTR)
          fail("client: recv: " + errno_text());
      }
      check_echo(got, 0, seq);
      ++seq;
    };

    const auto t_warm = clock::now();
    while (seconds_between(t_warm, clock::now()) < warmup_s)
      round_trip();

    std::vector<std::int64_t> ns;
    ns.reserve(static_cast<std::size_t>(std::max(1.0, seconds)) * 400'000);
    const double cpu0 = cpu_seconds();
    const auto t0 = clock::now();
    auto prev = t0;
    for (;;)
    {
      round_trip();
      const auto t = clock::now();
      ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t - prev).count());
      prev = t;
      if (seconds_between(t0, t) >= seconds)
        break;
    }
    const double wall = seconds_between(t0, prev);
    const double cpu = cpu_seconds() - cpu0;
    check_no_extra_bytes(fd.get(), 0);
    const double rate = static_cast<double>(ns.size()) / wall;
    s.values = {rate, percentile(ns, 0.50) / 1e3, percentile(ns, 0.99) / 1e3, cpu / wall};
  }
  catch (const std::exception& e)
  {
    s.error = e.what();
  }
  return s;
}

namespace {

struct client_conn
{
  explicit client_conn(fd_guard f) : fd(std::move(f)) {}

  fd_guard fd;
  std::uint64_t seq = 0;
  std::size_t have = 0;
  bool in_flight = false;
  std::uint64_t counted = 0; // echoes completed inside the measured window
  unsigned char got[message_size] = {};
};

} // namespace

sample run_many_connections(unsigned short port, int connections, double warmup_s, double seconds)
{
  sample s;
  try
  {
    fd_guard ep(::epoll_create1(EPOLL_CLOEXEC));
    if (ep.get() < 0)
      fail("client: epoll_create1: " + errno_text());
    std::vector<client_conn> conns;
    conns.reserve(static_cast<std::size_t>(connections));
    for (int i = 0; i < connections; ++i)
    {
      conns.emplace_back(connect_to(port));
      const int fd = conns.back().fd.get();
      if (::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
        fail("client: fcntl(O_NONBLOCK): " + errno_text());
      ::epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = static_cast<std::uint64_t>(i);
      if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
        fail("client: epoll_ctl: " + errno_text());
    }

    unsigned char msg[message_size];
    auto send_next = [&](std::uint64_t i) {
      client_conn& c = conns[i];
      fill(msg, i, c.seq);
      // One message in flight: the socket's send buffer is empty, so the
      // whole message always fits; a short send would be a kernel surprise.
      const ssize_t w = ::send(c.fd.get(), msg, message_size, MSG_NOSIGNAL);
      if (w != static_cast<ssize_t>(message_size))
        fail("client: send on connection " + std::to_string(i) + " wrote " + std::to_string(w) + " of 64 bytes: " +
             (w < 0 ? errno_text() : std::string("short write")));
      c.in_flight = true;
    };

    const auto t_start = clock::now();
    const auto t0 = t_start + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(warmup_s));
    const auto t1 = t0 + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(seconds));
    for (std::size_t i = 0; i < conns.size(); ++i)
      send_next(i);

    std::uint64_t counted = 0;
    std::size_t in_flight = conns.size();
    bool draining = false;
    double cpu0 = 0, cpu1 = 0;
    clock::time_point m0{}, m1{}; // when the window actually opened and closed
    bool measuring = false;
    auto last_progress = t_start;
    ::epoll_event events[256];
    while (in_flight > 0)
    {
      const int n = ::epoll_wait(ep.get(), events, 256, 100);
      if (n < 0 && errno != EINTR)
        fail("client: epoll_wait: " + errno_text());
      const auto now = clock::now();
      if (!measuring && !draining && now >= t0)
        measuring = true, m0 = now, cpu0 = cpu_seconds();
      if (!draining && now >= t1)
        draining = true, measuring = false, m1 = now, cpu1 = cpu_seconds();
      if (n <= 0)
      {
        if (seconds_between(last_progress, now) > echo_timeout_s)
        {
          std::string partial;
          for (std::size_t i = 0; i < conns.size() && partial.empty(); ++i)
            if (conns[i].have > 0)
              partial = " (connection " + std::to_string(i) + " has " + std::to_string(conns[i].have) +
                        " of 64 bytes of echo " + std::to_string(conns[i].seq) + ")";
          fail("no bytes on any of the " + std::to_string(in_flight) + " connections waiting for an echo within " +
               std::to_string(echo_timeout_s) + " s" + partial);
        }
        continue;
      }
      last_progress = now;
      for (int e = 0; e < n; ++e)
      {
        const std::uint64_t i = events[e].data.u64;
        client_conn& c = conns[i];
        const ssize_t r = ::recv(c.fd.get(), c.got + c.have, message_size - c.have, 0);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
          continue;
        if (r == 0)
          fail("server closed connection " + std::to_string(i) + " after " + std::to_string(c.seq) + " echoes");
        if (r < 0)
          fail("client: recv on connection " + std::to_string(i) + ": " + errno_text());
        if (!c.in_flight)
          fail("unsolicited bytes on connection " + std::to_string(i));
        c.have += static_cast<std::size_t>(r);
        if (c.have < message_size)
          continue;
        check_echo(c.got, i, c.seq);
        c.have = 0;
        c.in_flight = false;
        ++c.seq;
        if (measuring)
          ++counted, ++c.counted;
        if (draining)
          --in_flight;
        else
          send_next(i);
      }
    }
    for (std::size_t i = 0; i < conns.size(); ++i)
      check_no_extra_bytes(conns[i].fd.get(), i);

    const double wall = seconds_between(m0, m1);
    if (wall < seconds / 2)
      fail("the measured window lasted " + std::to_string(wall) + " s instead of " + std::to_string(seconds));
    s.values = {static_cast<double>(counted) / wall, (cpu1 - cpu0) / wall};
    const auto starved = std::count_if(conns.begin(), conns.end(), [](const client_conn& c) { return c.counted == 0; });
    if (starved > 0)
      s.warning = std::to_string(starved) + " of " + std::to_string(conns.size()) +
                  " connections got no echo in the measured window";
  }
  catch (const std::exception& e)
  {
    s.error = e.what();
  }
  return s;
}

} // namespace nbench
