// notify_fork: after fork(), parent and child each have a reactor of their
// own, as with io_context. Without it the child would share the parent's
// epoll instance, and each process would take the other's readiness events
// (whose keys point into the other address space).
#include "unit/io/io_test_support.hpp"

#include <nanorun/nanorun.hpp>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <memory>
#include <string>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// One pair's loop: start a read on one end, write 4 bytes to the other 1 ms
// later, check them, again, `rounds` times.
struct echo_loop : std::enable_shared_from_this<echo_loop>
{
  echo_loop(nanorun::runtime& r, io_test::tcp_pair& pair, char t, int n, bool& ok_flag, int& done_count)
      : rt(r), p(pair), tag(t), rounds(n), ok(ok_flag), done(done_count)
  {
  }

  void step(int i)
  {
    if (i == rounds)
    {
      ++done;
      return;
    }
    out = {tag, static_cast<char>('0' + i % 10), '-', '!'};
    // The read starts first and must wait for readiness: the data comes 1 ms
    // later, so it is the reactor's event that completes it.
    asio::async_read(p.server, asio::buffer(in), [self = shared_from_this(), i](boost::system::error_code ec, std::size_t) {
      self->ok = self->ok && !ec && self->in == self->out;
      self->step(i + 1);
    });
    timer.expires_after(1ms);
    timer.async_wait([self = shared_from_this()](boost::system::error_code) {
      asio::async_write(self->p.client, asio::buffer(self->out),
                        [self](boost::system::error_code ec, std::size_t) { self->ok = self->ok && !ec; });
    });
  }

  nanorun::runtime& rt;
  io_test::tcp_pair& p;
  char tag;
  int rounds;
  bool& ok;
  int& done;
  std::array<char, 4> out{};
  std::array<char, 4> in{};
  nanorun::steady_timer timer{rt};
};

// Echoes `rounds` messages over a fresh connected pair and over `old` (a pair
// made before the fork), at once. True if every byte came back.
bool exchange(nanorun::runtime& rt, io_test::tcp_pair* old, int rounds)
{
  auto fresh = io_test::connected_pair(rt);
  bool ok = true;
  int done = 0;
  std::make_shared<echo_loop>(rt, fresh, 'f', rounds, ok, done)->step(0);
  if (old)
    std::make_shared<echo_loop>(rt, *old, 'o', rounds, ok, done)->step(0);
  rt.restart();
  rt.run_for(20s);
  return ok && done == (old ? 2 : 1);
}

} // namespace

BOOST_AUTO_TEST_SUITE(runtime_fork)

template <class Backend>
void fork_case()
{
  auto rt = io_test::runtime_on(Backend::name);
  auto before = io_test::connected_pair(*rt); // registered with the parent's reactor
  rt->notify_fork(asio::execution_context::fork_prepare);
  const pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0)
  {
    // The child: no Boost.Test from here, only an exit status.
    int status = 1;
    try
    {
      rt->notify_fork(asio::execution_context::fork_child);
      status = exchange(*rt, &before, 50) ? 0 : 2;
    }
    catch (...)
    {
      status = 3;
    }
    std::_Exit(status);
  }
  rt->notify_fork(asio::execution_context::fork_parent);
  // Both processes run their reactors at the same time.
  const bool parent_ok = exchange(*rt, nullptr, 50);
  int status = 0;
  BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
  BOOST_TEST(parent_ok);
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0);
  // The pair made before the fork still works in the parent.
  BOOST_TEST(exchange(*rt, &before, 5));
}

BOOST_AUTO_TEST_CASE(child_and_parent_each_get_a_reactor_epoll) { fork_case<io_test::epoll_backend>(); }
BOOST_AUTO_TEST_CASE(child_and_parent_each_get_a_reactor_poll) { fork_case<io_test::poll_backend>(); }

BOOST_AUTO_TEST_SUITE_END()
