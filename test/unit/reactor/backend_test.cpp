// The readiness backends through the reactor_backend contract (reactor.hpp):
// epoll (native, edge-triggered) and poll(2) (portable, one-shot), on
// socketpairs and pipes. Timing is only ever checked from below.
#include "reactor/reactor.hpp"

#include "stress/watchdog.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <future>
#include <memory>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <tuple>
#include <unistd.h>
#include <vector>

namespace {

using nanorun::detail::make_reactor_backend;
using nanorun::detail::reactor_backend;
using nanorun::detail::reactor_kind;
using nanorun::sys::ready_error;
using nanorun::sys::ready_event;
using nanorun::sys::ready_read;
using nanorun::sys::ready_write;
using namespace std::chrono_literals;

// Named types, so that each case's name says which backend it ran on.
struct native_epoll
{
  static constexpr reactor_kind value = reactor_kind::native;
};
struct portable_poll
{
  static constexpr reactor_kind value = reactor_kind::portable;
};
using both = std::tuple<native_epoll, portable_poll>;

constexpr std::int64_t ms = 1'000'000;
constexpr std::int64_t forever = -1;

// Both ends non-blocking, closed on destruction unless closed before.
struct socket_pair
{
  socket_pair()
  {
    BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd) == 0);
  }
  ~socket_pair()
  {
    for (int f : fd)
      if (f >= 0)
        ::close(f);
  }
  void close_end(int i)
  {
    ::close(fd[i]);
    fd[i] = -1;
  }
  void send(int n = 1)
  {
    for (int i = 0; i < n; ++i)
    {
      const char c = 'x';
      BOOST_REQUIRE(::write(fd[1], &c, 1) == 1);
    }
  }
  int fd[2] = {-1, -1};
};

std::vector<ready_event> wait_for(reactor_backend& b, std::int64_t timeout_ns, std::size_t capacity = 16)
{
  std::vector<ready_event> ev(capacity);
  ev.resize(b.wait(ev.data(), ev.size(), timeout_ns));
  return ev;
}

// What was reported for key, or 0.
std::uint32_t ready_of(const std::vector<ready_event>& ev, const void* key)
{
  std::uint32_t r = 0;
  for (const ready_event& e : ev)
    if (e.key == key)
      r |= e.ready;
  return r;
}

// Waits up to a second for key to be reported (an edge or a one-shot report
// can come with a spurious empty return first).
std::uint32_t wait_ready(reactor_backend& b, const void* key)
{
  const auto until = std::chrono::steady_clock::now() + 1s;
  while (std::chrono::steady_clock::now() < until)
    if (const std::uint32_t r = ready_of(wait_for(b, 100 * ms), key))
      return r;
  return 0;
}

// Runs wait(forever) on another thread; `poke` is called once it is likely
// blocked. If the wait does not end within 10 s (a generous hang detector,
// not a latency bound), `rescue` unblocks it and the case fails.
std::vector<ready_event> blocked_wait(reactor_backend& b, auto poke, auto rescue)
{
  auto waiter = std::async(std::launch::async, [&b] { return wait_for(b, forever); });
  std::this_thread::sleep_for(20ms);
  poke();
  if (waiter.wait_for(10s) != std::future_status::ready)
  {
    BOOST_ERROR("a blocked wait() was not ended");
    rescue();
  }
  return waiter.get();
}

} // namespace

BOOST_AUTO_TEST_SUITE(reactor_backend)

BOOST_AUTO_TEST_CASE_TEMPLATE(readable_after_a_write_with_its_key, K, both)
{
  auto b = make_reactor_backend(K::value);
  BOOST_TEST(b->edge_triggered() == (K::value == reactor_kind::native));
  socket_pair p;
  int key = 0;
  BOOST_REQUIRE(!b->add(p.fd[0], &key, ready_read));
  BOOST_TEST(wait_for(*b, 0).empty()); // nothing to read yet
  p.send();
  const auto ev = wait_for(*b, 1000 * ms);
  BOOST_REQUIRE(ev.size() == 1u);
  BOOST_TEST(ev[0].key == &key);
  BOOST_TEST((ev[0].ready & ready_read) != 0u);
  b->remove(p.fd[0]);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(writable, K, both)
{
  auto b = make_reactor_backend(K::value);
  socket_pair p;
  int key = 0;
  BOOST_REQUIRE(!b->add(p.fd[0], &key, ready_write));
  BOOST_TEST((wait_ready(*b, &key) & ready_write) != 0u);
  b->remove(p.fd[0]);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(nothing_reported_before_readiness, K, both)
{
  auto b = make_reactor_backend(K::value);
  socket_pair p;
  int key = 0;
  BOOST_REQUIRE(!b->add(p.fd[0], &key, ready_read));
  for (int i = 0; i < 3; ++i)
    BOOST_TEST(wait_for(*b, 0).empty());
  b->remove(p.fd[0]);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(timeout_is_honoured, K, both)
{
  auto b = make_reactor_backend(K::value);
  socket_pair p;
  int key = 0;
  BOOST_REQUIRE(!b->add(p.fd[0], &key, ready_read));
  // Nothing is ready and nobody wakes the backend: no early return. Not a
  // whole millisecond either (poll(2) rounds up, epoll_pwait2 takes ns).
  for (const std::int64_t t : {20 * ms, 3 * ms / 2})
  {
    const auto start = std::chrono::steady_clock::now();
    BOOST_TEST(wait_for(*b, t).empty());
    const auto took = std::chrono::steady_clock::now() - start;
    BOOST_TEST(std::chrono::duration_cast<std::chrono::nanoseconds>(took).count() >= t);
  }
  b->remove(p.fd[0]);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(wake_ends_a_blocked_wait, K, both)
{
  auto b = make_reactor_backend(K::value);
  socket_pair p;
  int key = 0;
  BOOST_REQUIRE(!b->add(p.fd[0], &key, ready_read));
  const auto ev = blocked_wait(*b, [&] { b->wake(); }, [&] { p.send(); });
  BOOST_TEST(ev.empty()); // the wake-up itself is never reported
  b->remove(p.fd[0]);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(wake_before_wait_is_not_lost, K, both)
{
  auto b = make_reactor_backend(K::value);
  socket_pair p;
  int key = 0;
  BOOST_REQUIRE(!b->add(p.fd[0], &key, ready_read));
  b->wake();
  const auto ev = blocked_wait(*b, [] {}, [&] { p.send(); });
  BOOST_TEST(ev.empty());
  b->remove(p.fd[0]);
}

// A busy thread's wait(0) next to the blocked one must not eat its wake-up
// (the scheduler's busy workers poll while the driver blocks).
void wake_reaches_blocked_wait_past_non_blocking_ones(reactor_kind kind)
{
  auto b = make_reactor_backend(kind);
  socket_pair p;
  int key = 0;
  BOOST_REQUIRE(!b->add(p.fd[0], &key, ready_read));
  for (int round = 0; round < 50; ++round)
  {
    const auto ev = blocked_wait(
        *b,
        [&] {
          b->wake();
          for (int i = 0; i < 100; ++i)
            wait_for(*b, 0);
        },
        [&] { p.send(); });
    BOOST_TEST(ev.empty(), "round " << round);
    if (!ev.empty())
      break;
  }
  b->remove(p.fd[0]);
}

// The same when the wake-up comes before the blocking wait begins: the
// scheduler's driver marks itself as in the reactor, and a stop's wake-up may
// come before it calls wait(), while busy workers look (seen as a run() that
// never returned, once in about 800 perturbed runs of the socket
// cancellation race on the poll backend).
void wake_before_a_blocking_wait_survives_non_blocking_ones(reactor_kind kind)
{
  auto b = make_reactor_backend(kind);
  socket_pair p;
  int key = 0;
  BOOST_REQUIRE(!b->add(p.fd[0], &key, ready_read));
  // Nobody waits when it comes.
  b->wake();
  for (int i = 0; i < 10; ++i)
    wait_for(*b, 0);
  auto ev = blocked_wait(*b, [] {}, [&] { p.send(); });
  BOOST_TEST(ev.empty());
  if (!ev.empty())
    (void)wait_for(*b, 0); // the rescue's byte
  // A busy thread is looking when it comes.
  std::atomic<bool> looking{true};
  std::thread busy([&] {
    while (looking.load())
      wait_for(*b, 0);
  });
  for (int round = 0; round < 20; ++round)
  {
    std::this_thread::sleep_for(1ms);
    b->wake();
    ev = blocked_wait(*b, [] {}, [&] { p.send(); });
    BOOST_TEST(ev.empty(), "round " << round);
    if (!ev.empty())
      break;
  }
  looking = false;
  busy.join();
  b->remove(p.fd[0]);
}

BOOST_AUTO_TEST_CASE(poll_wake_before_a_blocking_wait_survives_non_blocking_ones)
{
  wake_before_a_blocking_wait_survives_non_blocking_ones(reactor_kind::portable);
}

BOOST_AUTO_TEST_CASE(epoll_wake_before_a_blocking_wait_survives_non_blocking_ones)
{
  wake_before_a_blocking_wait_survives_non_blocking_ones(reactor_kind::native);
}

BOOST_AUTO_TEST_CASE(poll_wake_reaches_a_blocked_wait_past_non_blocking_ones)
{
  wake_reaches_blocked_wait_past_non_blocking_ones(reactor_kind::portable);
}

BOOST_AUTO_TEST_CASE(epoll_wake_reaches_a_blocked_wait_past_non_blocking_ones)
{
  wake_reaches_blocked_wait_past_non_blocking_ones(reactor_kind::native);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(peer_close_is_readable, K, both)
{
  auto b = make_reactor_backend(K::value);
  socket_pair p;
  int key = 0;
  BOOST_REQUIRE(!b->add(p.fd[0], &key, ready_read));
  p.close_end(1);
  const std::uint32_t r = wait_ready(*b, &key);
  BOOST_TEST((r & ready_read) != 0u);
  if (K::value == reactor_kind::portable)
    BOOST_TEST(r == (ready_error | ready_read | ready_write)); // POLLHUP
  b->remove(p.fd[0]);
}

BOOST_AUTO_TEST_CASE(epoll_transient_udp_error_is_not_final)
{
  // A connected UDP socket that sends to a closed port gets an ICMP error:
  // EPOLLERR without a hang-up. It must wake every direction but must not be
  // final (the reactor would keep the socket "ready" for good).
  using nanorun::sys::ready_final;
  auto b = make_reactor_backend(reactor_kind::native);
  const int closed = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  BOOST_REQUIRE(closed >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(::bind(closed, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  BOOST_REQUIRE(::getsockname(closed, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(closed); // nobody listens on that port now
  const int u = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  BOOST_REQUIRE(u >= 0);
  BOOST_REQUIRE(::connect(u, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  int key = 0;
  BOOST_REQUIRE(!b->add(u, &key, ready_read | ready_write));
  wait_for(*b, 0); // the initial "writable" edge
  const char c = 'x';
  BOOST_REQUIRE(::send(u, &c, 1, 0) == 1);
  std::uint32_t r = 0;
  const auto until = std::chrono::steady_clock::now() + 1s;
  while (!(r & ready_error) && std::chrono::steady_clock::now() < until)
    r |= ready_of(wait_for(*b, 100 * ms), &key);
  BOOST_TEST((r & ready_error) != 0u);
  BOOST_TEST((r & ready_read) != 0u);
  BOOST_TEST((r & ready_final) == 0u);
  // The error is collected once; the socket works on.
  char in;
  BOOST_TEST(::recv(u, &in, 1, 0) == -1);
  BOOST_TEST(errno == ECONNREFUSED);
  BOOST_TEST(::recv(u, &in, 1, 0) == -1);
  BOOST_TEST(errno == EAGAIN);
  b->remove(u);
  ::close(u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(pipe_hang_up_is_readable, K, both)
{
  auto b = make_reactor_backend(K::value);
  int fds[2];
  BOOST_REQUIRE(::pipe(fds) == 0);
  int key = 0;
  BOOST_REQUIRE(!b->add(fds[0], &key, ready_read));
  BOOST_TEST(wait_for(*b, 0).empty());
  ::close(fds[1]);
  const std::uint32_t r = wait_ready(*b, &key);
  BOOST_TEST((r & ready_read) != 0u);
  BOOST_TEST((r & ready_error) != 0u); // POLLHUP / EPOLLHUP
  b->remove(fds[0]);
  ::close(fds[0]);
}

BOOST_AUTO_TEST_CASE(epoll_reports_each_edge_once)
{
  auto b = make_reactor_backend(reactor_kind::native);
  socket_pair p;
  int key = 0;
  // As the reactor registers with an edge-triggered backend: both directions.
  BOOST_REQUIRE(!b->add(p.fd[0], &key, ready_read | ready_write));
  BOOST_TEST((wait_ready(*b, &key) & ready_write) != 0u); // the initial edge
  BOOST_TEST(wait_for(*b, 0).empty());                    // still writable, no new edge
  p.send();
  BOOST_TEST((wait_ready(*b, &key) & ready_read) != 0u);
  BOOST_TEST(wait_for(*b, 0).empty()); // still readable (unread), no new edge
  p.send();
  BOOST_TEST((wait_ready(*b, &key) & ready_read) != 0u); // a new edge
  b->remove(p.fd[0]);
}

BOOST_AUTO_TEST_CASE(poll_is_one_shot_until_modify)
{
  auto b = make_reactor_backend(reactor_kind::portable);
  socket_pair p;
  int key = 0;
  BOOST_REQUIRE(!b->add(p.fd[0], &key, ready_read | ready_write));
  p.send();
  BOOST_TEST(ready_of(wait_for(*b, 1000 * ms), &key) == (ready_read | ready_write));
  // Still readable and writable, but both directions were disarmed.
  BOOST_TEST(wait_for(*b, 0).empty());
  BOOST_TEST(wait_for(*b, 0).empty());
  BOOST_REQUIRE(!b->modify(p.fd[0], &key, ready_read));
  BOOST_TEST(ready_of(wait_for(*b, 0), &key) == ready_read); // only what was re-armed
  BOOST_TEST(wait_for(*b, 0).empty());
  int other = 0;
  BOOST_REQUIRE(!b->modify(p.fd[0], &other, ready_write)); // a new key goes with it
  BOOST_TEST(ready_of(wait_for(*b, 0), &other) == ready_write);
  b->remove(p.fd[0]);
}

BOOST_AUTO_TEST_CASE(poll_ignores_empty_and_error_only_interest)
{
  auto b = make_reactor_backend(reactor_kind::portable);
  socket_pair p, q;
  int pk = 0, qk = 0;
  BOOST_REQUIRE(!b->add(p.fd[0], &pk, 0));
  BOOST_REQUIRE(!b->add(q.fd[0], &qk, ready_error)); // POLLPRI: no out-of-band data here
  p.send();
  q.send();
  BOOST_TEST(wait_for(*b, 0).empty());
  BOOST_TEST(wait_for(*b, 5 * ms).empty());
  b->remove(p.fd[0]);
  b->remove(q.fd[0]);
}

BOOST_AUTO_TEST_CASE(poll_hang_up_disarms_everything)
{
  auto b = make_reactor_backend(reactor_kind::portable);
  socket_pair p;
  int key = 0;
  BOOST_REQUIRE(!b->add(p.fd[0], &key, ready_read));
  p.close_end(1);
  BOOST_TEST(wait_ready(*b, &key) == (ready_error | ready_read | ready_write));
  BOOST_TEST(wait_for(*b, 0).empty());
  BOOST_REQUIRE(!b->modify(p.fd[0], &key, ready_write));
  BOOST_TEST(ready_of(wait_for(*b, 0), &key) == (ready_error | ready_read | ready_write));
  b->remove(p.fd[0]);
}

BOOST_AUTO_TEST_CASE(poll_remove_stops_reporting)
{
  auto b = make_reactor_backend(reactor_kind::portable);
  socket_pair p, q;
  int pk = 0, qk = 0;
  BOOST_REQUIRE(!b->add(p.fd[0], &pk, ready_read));
  BOOST_REQUIRE(!b->add(q.fd[0], &qk, ready_read));
  p.send();
  q.send();
  b->remove(p.fd[0]);
  const auto ev = wait_for(*b, 1000 * ms);
  BOOST_TEST(ready_of(ev, &pk) == 0u);
  BOOST_TEST(ready_of(ev, &qk) == ready_read);
  BOOST_TEST(b->modify(p.fd[0], &pk, ready_read).value() != 0); // no longer registered
  BOOST_TEST(b->add(q.fd[0], &qk, ready_read).value() != 0);    // already registered
  b->remove(q.fd[0]);
}

BOOST_AUTO_TEST_CASE(poll_keeps_what_did_not_fit_armed)
{
  auto b = make_reactor_backend(reactor_kind::portable);
  socket_pair p, q;
  int pk = 0, qk = 0;
  BOOST_REQUIRE(!b->add(p.fd[0], &pk, ready_read));
  BOOST_REQUIRE(!b->add(q.fd[0], &qk, ready_read));
  p.send();
  q.send();
  const auto first = wait_for(*b, 1000 * ms, 1);
  BOOST_REQUIRE(first.size() == 1u);
  const auto second = wait_for(*b, 1000 * ms, 1);
  BOOST_REQUIRE(second.size() == 1u);
  BOOST_TEST(first[0].key != second[0].key);
  BOOST_TEST(wait_for(*b, 0).empty());
  b->remove(p.fd[0]);
  b->remove(q.fd[0]);
}

BOOST_AUTO_TEST_CASE(poll_add_while_blocked_is_picked_up)
{
  auto b = make_reactor_backend(reactor_kind::portable);
  socket_pair p;
  int key = 0;
  p.send(); // readable before it is watched: only a fresh snapshot can see it
  const auto ev = blocked_wait(*b, [&] { BOOST_REQUIRE(!b->add(p.fd[0], &key, ready_read)); }, [&] { b->wake(); });
  BOOST_TEST(ready_of(ev, &key) == ready_read);
  b->remove(p.fd[0]);
}

BOOST_AUTO_TEST_CASE(poll_modify_while_blocked_is_picked_up)
{
  auto b = make_reactor_backend(reactor_kind::portable);
  socket_pair p;
  int key = 0;
  BOOST_REQUIRE(!b->add(p.fd[0], &key, 0));
  p.send();
  const auto ev = blocked_wait(*b, [&] { BOOST_REQUIRE(!b->modify(p.fd[0], &key, ready_read)); }, [&] { b->wake(); });
  BOOST_TEST(ready_of(ev, &key) == ready_read);
  b->remove(p.fd[0]);
}

BOOST_AUTO_TEST_CASE(poll_add_reaches_one_of_two_blocked_waiters)
{
  // Each waiter stops after its first report, as a scheduler's worker goes
  // off to run what it found. If the waiter that drained the change signal
  // also took q's readiness and left, the other one must still learn of p.
  auto b = make_reactor_backend(reactor_kind::portable);
  for (int round = 0; round < 20; ++round)
  {
    socket_pair p, q;
    int pk = 0, qk = 0;
    BOOST_REQUIRE(!b->add(q.fd[0], &qk, ready_read));
    std::atomic<int> reported{0}, exited{0};
    auto waiter = [&] {
      bool ours = false;
      while (!ours && reported.load() < 2)
        for (const ready_event& e : wait_for(*b, forever))
        {
          ours = true;
          reported.fetch_add(1);
          char c;
          [[maybe_unused]] const ssize_t r = ::read(e.key == &pk ? p.fd[0] : q.fd[0], &c, 1);
        }
      exited.fetch_add(1);
    };
    std::thread w1(waiter), w2(waiter);
    std::this_thread::sleep_for(10ms);
    p.send();
    BOOST_REQUIRE(!b->add(p.fd[0], &pk, ready_read));
    q.send();
    const auto until = std::chrono::steady_clock::now() + 5s;
    while (reported.load() < 2 && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(1ms);
    BOOST_TEST(reported.load() == 2, "round " << round);
    // One waiter may have taken both and left the other blocked (and after
    // a failure, wake-ups make the stale one look again).
    while (exited.load() < 2)
    {
      b->wake();
      std::this_thread::sleep_for(1ms);
    }
    w1.join();
    w2.join();
    b->remove(p.fd[0]);
    b->remove(q.fd[0]);
  }
}

BOOST_AUTO_TEST_SUITE_END()

// Two threads wait at once while a third writes single bytes to M socketpairs.
// Each waiter reads what is there and (one-shot) re-arms; every byte must be
// read, and a one-shot readiness must never go to two waiters at once.
BOOST_AUTO_TEST_SUITE(reactor_backend_stress)

BOOST_AUTO_TEST_CASE_TEMPLATE(two_waiters_one_writer, K, both)
{
  constexpr int pairs = 8;
  constexpr int bytes_each = 2000;
  nanorun::test::watchdog dog("reactor_backend_stress", 60s);
  auto b = make_reactor_backend(K::value);
  const bool edge = b->edge_triggered();
  std::vector<std::unique_ptr<socket_pair>> p;
  struct slot
  {
    std::atomic<bool> busy{false};
    std::atomic<int> read{0};
  };
  std::vector<slot> slots(pairs);
  for (int i = 0; i < pairs; ++i)
  {
    p.push_back(std::make_unique<socket_pair>());
    BOOST_REQUIRE(!b->add(p[i]->fd[0], &slots[i], edge ? ready_read | ready_write : ready_read));
  }
  std::atomic<int> total{0};
  std::atomic<int> doubles{0}, reports{0}, failures{0}, exited{0};
  std::atomic<bool> stop{false};
  // Boost.Test's macros are for the main thread only: the others count.
  auto waiter = [&] {
    while (!stop.load())
      for (const ready_event& e : wait_for(*b, forever))
      {
        slot& s = *static_cast<slot*>(e.key);
        const int i = static_cast<int>(&s - slots.data());
        if (!(e.ready & ready_read))
          continue;
        reports.fetch_add(1);
        // One-shot: nobody else may have this readiness until we re-arm.
        // Edge-triggered: a newer edge may legitimately go to the other
        // waiter, so there the flag only serialises the reads.
        if (s.busy.exchange(true))
        {
          if (!edge)
            doubles.fetch_add(1);
          continue; // the holder reads until EAGAIN after clearing
        }
        for (;;)
        {
          char buf[64];
          ssize_t r;
          while ((r = ::read(p[i]->fd[0], buf, sizeof buf)) > 0)
          {
            s.read.fetch_add(static_cast<int>(r));
            total.fetch_add(static_cast<int>(r));
          }
          s.busy.store(false);
          // An edge that went to the other waiter while we held the flag
          // was dropped there: read again (ET only; one-shot re-arms).
          if (!edge || !(::recv(p[i]->fd[0], buf, 1, MSG_PEEK) > 0) || s.busy.exchange(true))
            break;
        }
        if (!edge && b->modify(p[i]->fd[0], &s, ready_read))
          failures.fetch_add(1);
      }
    exited.fetch_add(1);
  };
  std::thread w1(waiter), w2(waiter);
  std::thread writer([&] {
    for (int n = 0; n < bytes_each; ++n)
    {
      for (auto& sp : p)
      {
        const char c = 'x';
        ssize_t r;
        // Each byte costs a whole buffer in a unix socket: wait for room.
        while ((r = ::write(sp->fd[1], &c, 1)) < 0 && errno == EAGAIN)
          std::this_thread::yield();
        if (r != 1)
          failures.fetch_add(1);
      }
      if (n % 64 == 0)
        std::this_thread::yield();
    }
  });
  writer.join();
  while (total.load() < pairs * bytes_each && failures.load() == 0)
    std::this_thread::sleep_for(1ms);
  // Wake-ups may coalesce: keep waking until both waiters have left.
  stop.store(true);
  while (exited.load() < 2)
  {
    b->wake();
    std::this_thread::sleep_for(1ms);
  }
  w1.join();
  w2.join();
  BOOST_TEST(total.load() == pairs * bytes_each);
  for (const slot& s : slots)
    BOOST_TEST(s.read.load() == bytes_each);
  BOOST_TEST(doubles.load() == 0);
  BOOST_TEST(failures.load() == 0);
  BOOST_TEST_MESSAGE(b->name() << ": " << reports.load() << " read reports");
  for (auto& sp : p)
    b->remove(sp->fd[0]);
}

BOOST_AUTO_TEST_SUITE_END()
