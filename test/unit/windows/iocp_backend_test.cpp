// The IOCP + AFD poll backend (src/sys/windows/iocp_poller.hpp) through the
// reactor_backend contract (reactor.hpp), on loopback TCP and UDP sockets:
// one-shot readiness and re-arming, the connect error carried by the event,
// wake-ups that non-blocking waits never swallow, timed waits, and the
// deregistration protocol (a removed socket's pending poll is cancelled and
// its registration freed on the completion packet). Windows only; timing is
// checked from below, with generous upper bounds (Wine is slow).
#include "reactor/reactor.hpp"
#include "sys/windows/iocp_poller.hpp"

#include <boost/test/unit_test.hpp>

#include <winsock2.h>
#include <ws2tcpip.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <thread>
#include <vector>

namespace {

using nanorun::detail::make_reactor_backend;
using nanorun::detail::reactor_backend;
using nanorun::detail::reactor_kind;
using nanorun::sys::iocp_poller;
using nanorun::sys::native_handle;
using nanorun::sys::ready_error;
using nanorun::sys::ready_event;
using nanorun::sys::ready_final;
using nanorun::sys::ready_read;
using nanorun::sys::ready_write;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

constexpr std::int64_t ms = 1'000'000;
constexpr std::int64_t forever = -1;
constexpr std::uint32_t all_directions = ready_read | ready_write | ready_error;

struct winsock
{
  winsock()
  {
    WSADATA d;
    BOOST_REQUIRE(::WSAStartup(MAKEWORD(2, 2), &d) == 0);
  }
  ~winsock() { ::WSACleanup(); }
};

// A socket closed on destruction unless released or closed before.
struct sock
{
  SOCKET s = INVALID_SOCKET;
  sock() = default;
  explicit sock(SOCKET x) : s(x) {}
  sock(sock&& o) noexcept : s(o.s) { o.s = INVALID_SOCKET; }
  ~sock() { close(); }
  void close()
  {
    if (s != INVALID_SOCKET)
      ::closesocket(s);
    s = INVALID_SOCKET;
  }
  native_handle h() const { return static_cast<native_handle>(s); }
};

void non_blocking(SOCKET s)
{
  u_long on = 1;
  BOOST_REQUIRE(::ioctlsocket(s, FIONBIO, &on) == 0);
}

sock open_tcp()
{
  sock s(::WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, WSA_FLAG_OVERLAPPED));
  BOOST_REQUIRE(s.s != INVALID_SOCKET);
  non_blocking(s.s);
  return s;
}

sockaddr_in loopback(unsigned short port = 0)
{
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  return a;
}

struct listener
{
  sock s = open_tcp();
  sockaddr_in addr{};
  listener()
  {
    sockaddr_in a = loopback();
    BOOST_REQUIRE(::bind(s.s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    BOOST_REQUIRE(::listen(s.s, 16) == 0);
    int len = sizeof addr;
    BOOST_REQUIRE(::getsockname(s.s, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  }
};

// A connected pair: client and accepted server, both non-blocking.
struct tcp_pair
{
  listener l;
  sock client = open_tcp();
  sock server;
  tcp_pair()
  {
    const int r = ::connect(client.s, reinterpret_cast<const sockaddr*>(&l.addr), sizeof l.addr);
    BOOST_REQUIRE(r == 0 || ::WSAGetLastError() == WSAEWOULDBLOCK);
    for (int i = 0; i < 500 && server.s == INVALID_SOCKET; ++i)
    {
      server.s = ::accept(l.s.s, nullptr, nullptr);
      if (server.s == INVALID_SOCKET)
        std::this_thread::sleep_for(2ms);
    }
    BOOST_REQUIRE(server.s != INVALID_SOCKET);
    non_blocking(server.s);
    // Until the client sees its connect complete, it is not writable.
    fd_set w;
    FD_ZERO(&w);
    FD_SET(client.s, &w);
    timeval tv{5, 0};
    BOOST_REQUIRE(::select(0, nullptr, &w, nullptr, &tv) == 1);
  }
};

std::vector<ready_event> wait_for(reactor_backend& b, std::int64_t timeout_ns)
{
  ready_event ev[16];
  const std::size_t n = b.wait(ev, 16, timeout_ns);
  return {ev, ev + n};
}

// Waits (up to 5 s) until an event for key is reported; returns its bits.
template <class Backend>
ready_event wait_key(Backend& b, void* key)
{
  const auto until = clock_type::now() + 5s;
  while (clock_type::now() < until)
  {
    ready_event ev[16];
    const std::size_t n = b.wait(ev, 16, 100 * ms);
    for (std::size_t i = 0; i < n; ++i)
      if (ev[i].key == key)
        return ev[i];
  }
  BOOST_FAIL("no event for the key within 5 s");
  return {};
}

std::unique_ptr<reactor_backend> iocp() { return make_reactor_backend(reactor_kind::native); }

} // namespace

BOOST_AUTO_TEST_SUITE(iocp_backend)

BOOST_AUTO_TEST_CASE(is_the_native_one_shot_backend)
{
  auto b = iocp();
  BOOST_TEST(std::string(b->name()) == "iocp");
  BOOST_TEST(!b->edge_triggered());
  BOOST_CHECK_THROW(make_reactor_backend(reactor_kind::portable), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(readable_after_a_send_with_its_key)
{
  winsock ws;
  tcp_pair p;
  auto b = iocp();
  int key;
  BOOST_REQUIRE(!b->add(p.server.h(), &key, ready_read));
  BOOST_TEST(wait_for(*b, 50 * ms).empty());
  BOOST_REQUIRE(::send(p.client.s, "x", 1, 0) == 1);
  const ready_event ev = wait_key(*b, &key);
  BOOST_TEST((ev.ready & ready_read) != 0u);
  BOOST_TEST((ev.ready & ready_final) == 0u);
  BOOST_TEST(ev.error == 0);
}

BOOST_AUTO_TEST_CASE(accept_readiness_is_read)
{
  winsock ws;
  listener l;
  auto b = iocp();
  int key;
  BOOST_REQUIRE(!b->add(l.s.h(), &key, ready_read));
  BOOST_TEST(wait_for(*b, 30 * ms).empty());
  sock c = open_tcp();
  ::connect(c.s, reinterpret_cast<const sockaddr*>(&l.addr), sizeof l.addr);
  BOOST_TEST((wait_key(*b, &key).ready & ready_read) != 0u);
  sock a(::accept(l.s.s, nullptr, nullptr));
  BOOST_TEST(a.s != INVALID_SOCKET);
}

BOOST_AUTO_TEST_CASE(one_shot_until_modify)
{
  winsock ws;
  tcp_pair p;
  auto b = iocp();
  int key;
  BOOST_REQUIRE(!b->add(p.server.h(), &key, ready_read | ready_write));
  BOOST_REQUIRE(::send(p.client.s, "xy", 2, 0) == 2);
  // Both directions hold; each is reported, then disarmed.
  std::uint32_t seen = 0;
  const auto until = clock_type::now() + 5s;
  while ((seen & (ready_read | ready_write)) != (ready_read | ready_write) && clock_type::now() < until)
    for (const ready_event& ev : wait_for(*b, 100 * ms))
      if (ev.key == &key)
        seen |= ev.ready;
  BOOST_TEST((seen & (ready_read | ready_write)) == (ready_read | ready_write));
  // Still readable and writable, but nothing is armed.
  BOOST_TEST(wait_for(*b, 50 * ms).empty());
  // Re-armed: reported again at once, as it is still readable.
  BOOST_REQUIRE(!b->modify(p.server.h(), &key, ready_read));
  const ready_event ev = wait_key(*b, &key);
  BOOST_TEST(ev.ready == ready_read);
}

BOOST_AUTO_TEST_CASE(widening_a_pending_poll_cancels_and_resubmits_it)
{
  winsock ws;
  tcp_pair p;
  auto b = iocp();
  int key;
  // A read poll pends on the idle socket; asking for writing too must
  // replace it (one poll per socket), and the socket is writable.
  BOOST_REQUIRE(!b->add(p.server.h(), &key, ready_read));
  BOOST_TEST(wait_for(*b, 30 * ms).empty());
  BOOST_REQUIRE(!b->modify(p.server.h(), &key, ready_read | ready_write));
  const ready_event ev = wait_key(*b, &key);
  BOOST_TEST(ev.ready == ready_write);
  // Read is still armed, and only it.
  BOOST_REQUIRE(::send(p.client.s, "x", 1, 0) == 1);
  BOOST_TEST(wait_key(*b, &key).ready == ready_read);
}

BOOST_AUTO_TEST_CASE(peer_shutdown_is_final_readability)
{
  winsock ws;
  tcp_pair p;
  auto b = iocp();
  int key;
  BOOST_REQUIRE(!b->add(p.server.h(), &key, ready_read));
  BOOST_REQUIRE(::shutdown(p.client.s, SD_SEND) == 0);
  const ready_event ev = wait_key(*b, &key);
  BOOST_TEST((ev.ready & (ready_read | ready_final)) == (ready_read | ready_final));
  char c;
  BOOST_TEST(::recv(p.server.s, &c, 1, 0) == 0);
}

BOOST_AUTO_TEST_CASE(peer_reset_wakes_every_direction_for_good)
{
  winsock ws;
  tcp_pair p;
  auto b = iocp();
  int key;
  BOOST_REQUIRE(!b->add(p.server.h(), &key, ready_read));
  linger l{1, 0};
  BOOST_REQUIRE(::setsockopt(p.client.s, SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&l), sizeof l) == 0);
  p.client.close();
  // (What recv() says next differs: WSAECONNRESET on Windows, 0 under Wine.)
  const ready_event ev = wait_key(*b, &key);
  BOOST_TEST(ev.ready == (all_directions | ready_final));
}

// Asio's wait_error on a socket that is reset: only the exceptional
// condition is asked for, and the reset must still be reported.
BOOST_AUTO_TEST_CASE(peer_reset_reaches_an_error_only_interest)
{
  winsock ws;
  tcp_pair p;
  auto b = iocp();
  int key;
  BOOST_REQUIRE(!b->add(p.server.h(), &key, ready_error));
  linger l{1, 0};
  BOOST_REQUIRE(::setsockopt(p.client.s, SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&l), sizeof l) == 0);
  p.client.close();
  const ready_event ev = wait_key(*b, &key);
  BOOST_TEST((ev.ready & ready_error) != 0u);
  BOOST_TEST(ev.error == WSAECONNRESET); // what an error wait completes on (socket_ops::wait_ready)
}

BOOST_AUTO_TEST_CASE(refused_connect_carries_its_error)
{
  winsock ws;
  // A port nobody listens on: bound, not listening.
  sock holder = open_tcp();
  sockaddr_in a = loopback();
  BOOST_REQUIRE(::bind(holder.s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  int len = sizeof a;
  BOOST_REQUIRE(::getsockname(holder.s, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  sock c = open_tcp();
  auto b = iocp();
  int key;
  BOOST_REQUIRE(!b->add(c.h(), &key, ready_write));
  const int r = ::connect(c.s, reinterpret_cast<const sockaddr*>(&a), sizeof a);
  BOOST_REQUIRE(r == SOCKET_ERROR);
  BOOST_REQUIRE(::WSAGetLastError() == WSAEWOULDBLOCK);
  const ready_event ev = wait_key(*b, &key);
  BOOST_TEST(ev.ready == (all_directions | ready_final));
  BOOST_TEST(ev.error == WSAECONNREFUSED);
}

BOOST_AUTO_TEST_CASE(connect_success_is_writability)
{
  winsock ws;
  listener l;
  sock c = open_tcp();
  auto b = iocp();
  int key;
  const int r = ::connect(c.s, reinterpret_cast<const sockaddr*>(&l.addr), sizeof l.addr);
  BOOST_REQUIRE((r == 0 || ::WSAGetLastError() == WSAEWOULDBLOCK));
  BOOST_REQUIRE(!b->add(c.h(), &key, ready_write));
  const ready_event ev = wait_key(*b, &key);
  BOOST_TEST(ev.ready == ready_write);
  BOOST_TEST(ev.error == 0);
}

BOOST_AUTO_TEST_CASE(udp_receive_readiness)
{
  winsock ws;
  sock u(::WSASocketW(AF_INET, SOCK_DGRAM, IPPROTO_UDP, nullptr, 0, WSA_FLAG_OVERLAPPED));
  BOOST_REQUIRE(u.s != INVALID_SOCKET);
  non_blocking(u.s);
  sockaddr_in a = loopback();
  BOOST_REQUIRE(::bind(u.s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  int len = sizeof a;
  BOOST_REQUIRE(::getsockname(u.s, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  auto b = iocp();
  int key;
  BOOST_REQUIRE(!b->add(u.h(), &key, ready_read));
  BOOST_TEST(wait_for(*b, 30 * ms).empty());
  BOOST_REQUIRE(::sendto(u.s, "d", 1, 0, reinterpret_cast<sockaddr*>(&a), sizeof a) == 1);
  BOOST_TEST(wait_key(*b, &key).ready == ready_read);
}

BOOST_AUTO_TEST_CASE(registration_errors)
{
  winsock ws;
  tcp_pair p;
  auto b = iocp();
  int key;
  BOOST_REQUIRE(!b->add(p.server.h(), &key, 0));
  BOOST_TEST((b->add(p.server.h(), &key, 0) == std::errc::file_exists));
  BOOST_TEST((b->modify(p.client.h(), &key, ready_read) == std::errc::no_such_file_or_directory));
  // Not a socket: AFD cannot poll it, and add says so.
  BOOST_TEST(static_cast<bool>(b->add(static_cast<native_handle>(0x7ff0), &key, ready_read)));
  b->remove(p.client.h()); // not registered: nothing happens
}

BOOST_AUTO_TEST_CASE(remove_with_a_poll_pending_frees_it_on_its_completion)
{
  winsock ws;
  tcp_pair p;
  iocp_poller poller;
  int key;
  BOOST_REQUIRE(!poller.add(p.server.h(), &key, ready_read));
  BOOST_TEST(poller.orphans() == 0u);
  poller.remove(p.server.h());
  // The poll was cancelled, but the kernel owns its memory until the packet.
  BOOST_TEST(poller.orphans() == 1u);
  // Data arriving now must not be reported for the removed socket.
  ::send(p.client.s, "x", 1, 0);
  const auto until = clock_type::now() + 5s;
  while (poller.orphans() != 0 && clock_type::now() < until)
  {
    ready_event ev[8];
    const std::size_t n = poller.wait(ev, 8, 50 * ms);
    for (std::size_t i = 0; i < n; ++i)
      BOOST_TEST(ev[i].key != static_cast<void*>(&key));
  }
  BOOST_TEST(poller.orphans() == 0u);
  // The socket can be registered again, with the same key.
  BOOST_REQUIRE(!poller.add(p.server.h(), &key, ready_read));
  ready_event ev = wait_key(poller, &key);
  BOOST_TEST(ev.ready == ready_read);
}

BOOST_AUTO_TEST_CASE(closing_a_socket_with_a_poll_pending_reports_it)
{
  winsock ws;
  tcp_pair p;
  auto b = iocp();
  int key;
  BOOST_REQUIRE(!b->add(p.server.h(), &key, ready_read));
  BOOST_TEST(wait_for(*b, 20 * ms).empty());
  const native_handle h = p.server.h();
  p.server.close();
  // AFD's LOCAL_CLOSE: every direction, so waiting operations fail.
  const ready_event ev = wait_key(*b, &key);
  BOOST_TEST((ev.ready & all_directions) == all_directions);
  b->remove(h);
}

BOOST_AUTO_TEST_CASE(destroying_the_backend_with_polls_pending)
{
  winsock ws;
  tcp_pair p;
  listener l;
  {
    auto b = iocp();
    int k1, k2;
    BOOST_REQUIRE(!b->add(p.server.h(), &k1, ready_read));
    BOOST_REQUIRE(!b->add(l.s.h(), &k2, ready_read));
    b->remove(l.s.h()); // one orphan, one still registered
  }
  // The sockets outlive it and still work.
  BOOST_REQUIRE(::send(p.client.s, "x", 1, 0) == 1);
}

BOOST_AUTO_TEST_CASE(timeout_is_honoured_from_below)
{
  auto b = iocp();
  for (const std::int64_t t : {1 * ms, 3 * ms, 20 * ms})
  {
    const auto t0 = clock_type::now();
    BOOST_TEST(wait_for(*b, t).empty());
    const auto took = std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - t0).count();
    BOOST_TEST(took >= t);
    BOOST_TEST(took < t + 2000 * ms); // not an infinite wait
  }
}

BOOST_AUTO_TEST_CASE(wake_ends_a_blocked_wait)
{
  auto b = iocp();
  auto f = std::async(std::launch::async, [&] { return wait_for(*b, forever).size(); });
  std::this_thread::sleep_for(20ms);
  b->wake();
  BOOST_REQUIRE(f.wait_for(10s) == std::future_status::ready);
  BOOST_TEST(f.get() == 0u); // the wake-up itself is never reported
}

BOOST_AUTO_TEST_CASE(wake_before_wait_is_not_lost)
{
  auto b = iocp();
  b->wake();
  b->wake(); // coalesced with the first
  auto f = std::async(std::launch::async, [&] { return wait_for(*b, forever).size(); });
  BOOST_REQUIRE(f.wait_for(10s) == std::future_status::ready);
  // Consumed: the next blocking wait sleeps until its timeout.
  const auto t0 = clock_type::now();
  BOOST_TEST(wait_for(*b, 30 * ms).empty());
  BOOST_TEST((clock_type::now() - t0 >= 30ms));
}

BOOST_AUTO_TEST_CASE(non_blocking_waits_never_swallow_a_wake_up)
{
  auto b = iocp();
  for (int round = 0; round < 20; ++round)
  {
    // A wake-up posted while nobody is blocked; a busy worker's look (a
    // zero-timeout wait) may dequeue its packet, and must hand it on.
    b->wake();
    for (int i = 0; i < 5; ++i)
      BOOST_TEST(wait_for(*b, 0).empty());
    auto f = std::async(std::launch::async, [&] { return wait_for(*b, forever).size(); });
    BOOST_REQUIRE(f.wait_for(10s) == std::future_status::ready);
  }
}

BOOST_AUTO_TEST_CASE(wake_reaches_a_blocked_waiter_past_busy_lookers)
{
  auto b = iocp();
  std::atomic<bool> stop{false};
  std::thread looker([&] {
    while (!stop.load(std::memory_order_relaxed))
      wait_for(*b, 0);
  });
  for (int round = 0; round < 20; ++round)
  {
    auto f = std::async(std::launch::async, [&] { return wait_for(*b, forever).size(); });
    std::this_thread::sleep_for(1ms);
    b->wake();
    BOOST_REQUIRE(f.wait_for(10s) == std::future_status::ready);
  }
  stop = true;
  looker.join();
}

BOOST_AUTO_TEST_SUITE_END()
