// The Asio bridge (src/runtime/asio_bridge.cpp): Asio's own I/O objects on a
// nanorun runtime are driven by the runtime's workers. No thread that the
// user did not create runs their handlers or waits in the kernel for them;
// work that reaches Asio's scheduler by any path (readiness, a timer, an
// operation failing at once, cancellation from another thread) gets done; a
// throwing handler leaves through run() and the bridge keeps going; and a
// forked child drives its own copy.
#include "conformance/common.hpp"

#include <nanorun/runtime.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using boost::system::error_code;
using namespace std::chrono_literals;

namespace {

// Threads of this process (Linux: the entries of /proc/self/task).
std::size_t thread_count()
{
  std::size_t n = 0;
  if (DIR* d = ::opendir("/proc/self/task"))
  {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.')
        ++n;
    ::closedir(d);
  }
  return n;
}

// Which threads ran the handlers that called note().
struct thread_log
{
  std::mutex m;
  std::set<std::thread::id> ids;
  std::atomic<int> outside_run{0};
  nanorun::runtime* rt;
  explicit thread_log(nanorun::runtime& r) : rt(&r) {}
  void note()
  {
    if (!rt->running_in_this_thread())
      ++outside_run;
    std::lock_guard lock(m);
    ids.insert(std::this_thread::get_id());
  }
};

const asio::ip::tcp::endpoint tcp_loopback{asio::ip::address_v4::loopback(), 0};
const asio::ip::udp::endpoint udp_loopback{asio::ip::address_v4::loopback(), 0};

} // namespace

BOOST_AUTO_TEST_SUITE(asio_bridge_driven)

BOOST_AUTO_TEST_CASE(every_asio_object_completes_on_the_workers_and_no_thread_is_started)
{
  const std::size_t before = thread_count();
  nanorun::runtime rt(2);
  thread_log log(rt);
  int done = 0;
  {
    // TCP: accept, connect, write, read.
    asio::ip::tcp::acceptor acc(rt, tcp_loopback);
    asio::ip::tcp::socket client(rt), server(rt);
    // UDP: receive, send.
    asio::ip::udp::socket u1(rt, udp_loopback), u2(rt, udp_loopback);
    // A timer, a signal set, a pipe behind a stream_descriptor.
    asio::steady_timer timer(rt, 5ms);
    asio::signal_set signals(rt, SIGUSR2);
    int fds[2];
    BOOST_REQUIRE(::pipe(fds) == 0);
    asio::posix::stream_descriptor rd(rt, fds[0]), wr(rt, fds[1]);
    // Asio made its reactor and nothing else: no thread of its own.
    BOOST_TEST(thread_count() == before);

    char tcp_in[3], udp_in[3], pipe_in[3];
    acc.async_accept(server, [&](error_code ec) {
      log.note();
      BOOST_TEST(!ec);
      asio::async_read(server, asio::buffer(tcp_in), [&](error_code ec2, std::size_t n) {
        log.note();
        BOOST_TEST((!ec2 && n == 3u));
        ++done;
      });
    });
    client.async_connect(acc.local_endpoint(), [&](error_code ec) {
      log.note();
      BOOST_TEST(!ec);
      asio::async_write(client, asio::buffer("abc", 3), [&](error_code ec2, std::size_t) {
        log.note();
        BOOST_TEST(!ec2);
        ++done;
      });
    });
    u1.async_receive(asio::buffer(udp_in), [&](error_code ec, std::size_t n) {
      log.note();
      BOOST_TEST((!ec && n == 3u));
      ++done;
    });
    u2.async_send_to(asio::buffer("xyz", 3), u1.local_endpoint(), [&](error_code ec, std::size_t) {
      log.note();
      BOOST_TEST(!ec);
      ++done;
    });
    timer.async_wait([&](error_code ec) {
      log.note();
      BOOST_TEST(!ec);
      ++done;
      std::raise(SIGUSR2); // after the signal set has started waiting
    });
    signals.async_wait([&](error_code ec, int sig) {
      log.note();
      BOOST_TEST((!ec && sig == SIGUSR2));
      ++done;
    });
    asio::async_read(rd, asio::buffer(pipe_in), [&](error_code ec, std::size_t n) {
      log.note();
      BOOST_TEST((!ec && n == 3u));
      ++done;
    });
    asio::async_write(wr, asio::buffer("123", 3), [&](error_code ec, std::size_t) {
      log.note();
      BOOST_TEST(!ec);
      ++done;
      BOOST_TEST(thread_count() == before + 1); // the one worker thread below
    });
    std::thread worker([&] { rt.run_for(10s); });
    rt.run_for(10s);
    worker.join();
  }
  BOOST_TEST(done == 8);
  BOOST_TEST(log.outside_run == 0);
  BOOST_TEST(thread_count() == before);
}

BOOST_AUTO_TEST_CASE(an_operation_that_fails_at_once_on_a_foreign_thread_still_completes)
{
  // Such a completion goes straight to Asio's scheduler queue, with no
  // readiness event behind it: the bridge must be told through Asio's
  // interrupter, or it would sit there while the workers sleep.
  nanorun::runtime rt(1);
  auto guard = asio::make_work_guard(rt);
  std::thread worker([&] { rt.run(); });
  asio::ip::tcp::socket s(rt); // never opened
  for (int i = 0; i < 50; ++i)
  {
    std::promise<error_code> p;
    char buf[1];
    s.async_read_some(asio::buffer(buf), [&](error_code ec, std::size_t) {
      BOOST_TEST(rt.running_in_this_thread());
      p.set_value(ec);
    });
    auto f = p.get_future();
    BOOST_REQUIRE(f.wait_for(10s) == std::future_status::ready);
    BOOST_TEST(f.get() == asio::error::bad_descriptor);
    std::this_thread::sleep_for(1ms); // let the worker park in the reactor again
  }
  guard.reset();
  worker.join();
}

BOOST_AUTO_TEST_CASE(cancelling_from_a_foreign_thread_completes_on_a_worker)
{
  nanorun::runtime rt(1);
  std::promise<error_code> p;
  asio::steady_timer t(rt, 1h);
  t.async_wait([&](error_code ec) {
    BOOST_TEST(rt.running_in_this_thread());
    p.set_value(ec);
  });
  std::thread worker([&] { rt.run_for(10s); });
  std::this_thread::sleep_for(20ms); // the worker is parked by now
  t.cancel();
  auto f = p.get_future();
  BOOST_REQUIRE(f.wait_for(10s) == std::future_status::ready);
  BOOST_TEST(f.get() == asio::error::operation_aborted);
  worker.join();
}

BOOST_AUTO_TEST_CASE(a_throwing_asio_handler_leaves_run_and_the_bridge_keeps_going)
{
  nanorun::runtime rt(1);
  asio::steady_timer first(rt, 1ms), second(rt, 30ms);
  int second_ran = 0;
  first.async_wait([](error_code) { throw std::runtime_error("from an Asio handler"); });
  second.async_wait([&](error_code ec) {
    BOOST_TEST(!ec);
    ++second_ran;
  });
  BOOST_CHECK_THROW(rt.run_for(10s), std::runtime_error);
  // As with io_context, run() may be called again without restart().
  rt.run_for(10s);
  BOOST_TEST(second_ran == 1);
}

BOOST_AUTO_TEST_CASE(a_forked_child_drives_its_own_asio_reactor)
{
  nanorun::runtime rt(1);
  asio::ip::tcp::acceptor acc(rt, tcp_loopback);
  asio::ip::tcp::socket a(rt), b(rt);
  a.connect(acc.local_endpoint());
  acc.accept(b);
  // Both processes wait on readiness of their own copy of the pair: a read
  // first, the data 2 ms later from an Asio timer.
  auto exchange = [&](char tag) {
    bool ok = false;
    char in = 0;
    asio::steady_timer t(rt, 2ms);
    rt.restart();
    b.async_read_some(asio::buffer(&in, 1), [&](error_code ec, std::size_t n) { ok = !ec && n == 1 && in == tag; });
    t.async_wait([&](error_code) { asio::write(a, asio::buffer(&tag, 1)); });
    rt.run_for(10s);
    return ok;
  };
  rt.notify_fork(asio::execution_context::fork_prepare);
  const pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0)
  {
    int status = 1;
    try
    {
      rt.notify_fork(asio::execution_context::fork_child);
      status = exchange('c') ? 0 : 2;
    }
    catch (...)
    {
      status = 3;
    }
    std::_Exit(status);
  }
  rt.notify_fork(asio::execution_context::fork_parent);
  int status = 0;
  BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0);
  BOOST_TEST(exchange('p'));
}

BOOST_AUTO_TEST_SUITE_END()
