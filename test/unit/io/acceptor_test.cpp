// nanorun::ip::tcp::acceptor through its public API, on both reactor
// backends: accepting into new and existing sockets, errors, cancellation,
// and running out of descriptors (EMFILE).
#include "unit/io/io_test_support.hpp"

#include <nanorun/steady_timer.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/test/unit_test.hpp>

#include <optional>
#include <type_traits>
#if !defined(_WIN32)
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>
#endif

using namespace io_test;

#if !defined(_WIN32) // POSIX-only: RLIMIT_NOFILE (Windows has no descriptor limit to exhaust)
namespace {

// Lowers RLIMIT_NOFILE's soft limit; the original is restored on destruction
// (and by restore()), whatever happens in between.
class nofile_limit
{
public:
  nofile_limit() { BOOST_TEST_REQUIRE(::getrlimit(RLIMIT_NOFILE, &old_) == 0); }
  ~nofile_limit() { restore(); }
  nofile_limit(const nofile_limit&) = delete;
  nofile_limit& operator=(const nofile_limit&) = delete;

  // No descriptor can be created once the limit is the lowest free one.
  bool exhaust()
  {
    const int probe = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (probe < 0)
      return false;
    ::close(probe);
    rlimit l = old_;
    l.rlim_cur = static_cast<rlim_t>(probe);
    lowered_ = ::setrlimit(RLIMIT_NOFILE, &l) == 0;
    return lowered_;
  }
  void restore()
  {
    if (lowered_)
      ::setrlimit(RLIMIT_NOFILE, &old_);
    lowered_ = false;
  }

private:
  rlimit old_{};
  bool lowered_ = false;
};

} // namespace
#endif

BOOST_AUTO_TEST_SUITE(io_acceptor)

BOOST_AUTO_TEST_CASE_TEMPLATE(async_accept_returns_a_new_socket, Backend, backends)
{
  on_backend<Backend> f;
  tcp::acceptor acc(f.rt, loopback());
  std::optional<tcp::socket> accepted;
  outcome a;
  acc.async_accept([&, h = a.handler()](error_code ec, tcp::socket s) mutable {
    h(ec);
    accepted.emplace(std::move(s));
  });
  a.returned = true;
  tcp::socket c(f.rt);
  outcome cn;
  c.async_connect(acc.local_endpoint(), cn.handler());
  f.rt.run_for(limit);
  BOOST_TEST(a.calls == 1);
  BOOST_TEST(!a.inline_call);
  BOOST_TEST(!a.ec, a.ec.message());
  BOOST_TEST_REQUIRE(accepted.has_value());
  BOOST_TEST(accepted->is_open());
  BOOST_TEST(accepted->remote_endpoint() == c.local_endpoint());
  BOOST_TEST((accepted->get_executor() == acc.get_executor()));
  c.write_some(asio::buffer("hi", 2));
  char b[2];
  BOOST_TEST(accepted->read_some(asio::buffer(b)) == 2u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(async_accept_into_an_existing_socket, Backend, backends)
{
  on_backend<Backend> f;
  tcp::acceptor acc(f.rt, loopback());
  tcp::socket peer1(f.rt), peer2(f.rt), c1(f.rt), c2(f.rt);
  tcp::endpoint peer2_ep;
  outcome a1, a2;
  acc.async_accept(peer1, a1.handler());
  c1.connect(acc.local_endpoint());
  f.rt.run_for(limit);
  acc.async_accept(peer2, peer2_ep, a2.handler());
  c2.connect(acc.local_endpoint());
  f.rt.restart();
  f.rt.run_for(limit);
  BOOST_TEST(!a1.ec);
  BOOST_TEST(!a2.ec);
  BOOST_TEST(peer1.is_open());
  BOOST_TEST(peer1.remote_endpoint() == c1.local_endpoint());
  BOOST_TEST(peer2_ep == c2.local_endpoint());
  BOOST_TEST(peer2.remote_endpoint() == c2.local_endpoint());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(accepting_into_an_open_socket_fails_with_already_open, Backend, backends)
{
  on_backend<Backend> f;
  tcp::acceptor acc(f.rt, loopback());
  tcp::socket c(f.rt);
  c.connect(acc.local_endpoint());
  tcp::socket open_peer(f.rt, tcp::v4());
  outcome a;
  asio::post(f.rt, [&] {
    acc.async_accept(open_peer, a.handler());
    a.returned = true;
  });
  f.rt.run_for(limit);
  BOOST_TEST(a.calls == 1);
  BOOST_TEST(!a.inline_call);
  BOOST_TEST(a.ec == asio::error::already_open);
  error_code ec;
  acc.accept(open_peer, ec);
  BOOST_TEST(ec == asio::error::already_open);
  // The connection waiting in the queue was not consumed.
  tcp::socket fresh(f.rt);
  acc.accept(fresh);
  BOOST_TEST(fresh.remote_endpoint() == c.local_endpoint());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(accept_never_completes_inside_the_call, Backend, backends)
{
  on_backend<Backend> f;
  tcp::acceptor acc(f.rt, loopback());
  tcp::socket c(f.rt);
  c.connect(acc.local_endpoint()); // already waiting to be accepted
  outcome a;
  std::optional<tcp::socket> accepted;
  asio::post(f.rt, [&] {
    acc.async_accept([&, h = a.handler()](error_code ec, tcp::socket s) mutable {
      h(ec);
      accepted.emplace(std::move(s));
    });
    a.returned = true;
  });
  f.rt.run_for(limit);
  BOOST_TEST(a.calls == 1);
  BOOST_TEST(!a.inline_call);
  BOOST_TEST(!a.ec);
  BOOST_TEST((accepted && accepted->is_open()));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(closed_acceptor_errors_and_aborts, Backend, backends)
{
  on_backend<Backend> f;
  auto& rt = f.rt;
  // Never opened.
  {
    tcp::acceptor acc(rt);
    outcome a;
    acc.async_accept(a.handler());
    a.returned = true;
    tcp::socket s(rt);
    error_code ec;
    acc.accept(s, ec);
    BOOST_TEST(ec == asio::error::bad_descriptor);
    acc.listen(1, ec);
    BOOST_TEST(ec == asio::error::bad_descriptor);
    rt.run_for(limit);
    BOOST_TEST(a.calls == 1);
    BOOST_TEST(!a.inline_call);
    BOOST_TEST(a.ec == asio::error::bad_descriptor);
  }
  // Closed and cancelled while an accept waits.
  for (const bool use_close : {true, false})
  {
    BOOST_TEST_CONTEXT((use_close ? "close()" : "cancel()"))
    {
      tcp::acceptor acc(rt, loopback());
      outcome a, b;
      tcp::socket into(rt);
      acc.async_accept(a.handler());
      nanorun::steady_timer t(rt, 10ms);
      t.async_wait([&](error_code) {
        BOOST_TEST(!a.done());
        if (use_close)
          acc.close();
        else
          acc.cancel();
      });
      rt.restart();
      rt.run_for(limit);
      BOOST_TEST(a.calls == 1);
      BOOST_TEST(a.ec == asio::error::operation_aborted);
      BOOST_TEST(acc.is_open() == !use_close);
      if (use_close)
      {
        acc.async_accept(into, b.handler());
        rt.restart();
        rt.run_for(limit);
        BOOST_TEST(b.ec == asio::error::bad_descriptor);
      }
      else
      {
        // Still listening after cancel().
        acc.async_accept(into, b.handler());
        tcp::socket c(rt);
        c.connect(acc.local_endpoint());
        rt.restart();
        rt.run_for(limit);
        BOOST_TEST(!b.ec);
        BOOST_TEST(into.is_open());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(accept_onto_another_executor)
{
  nanorun::runtime rt(1);
  tcp::acceptor acc(rt, loopback());
  auto strand = asio::make_strand(rt.get_executor());
  using strand_socket = nanorun::basic_stream_socket<tcp, decltype(strand)>;
  std::optional<strand_socket> on_strand;
  std::optional<nanorun::basic_stream_socket<tcp, nanorun::runtime::executor_type>> on_runtime;
  acc.async_accept(strand, [&](error_code ec, strand_socket s) {
    BOOST_TEST(!ec);
    on_strand.emplace(std::move(s));
  });
  tcp::socket c1(rt), c2(rt);
  c1.connect(acc.local_endpoint());
  rt.run_for(limit);
  acc.async_accept(rt, [&](error_code ec, nanorun::basic_stream_socket<tcp, nanorun::runtime::executor_type> s) {
    BOOST_TEST(!ec);
    on_runtime.emplace(std::move(s));
  });
  c2.connect(acc.local_endpoint());
  rt.restart();
  rt.run_for(limit);
  BOOST_TEST_REQUIRE(on_strand.has_value());
  BOOST_TEST((on_strand->get_executor() == strand));
  BOOST_TEST(on_strand->remote_endpoint() == c1.local_endpoint());
  BOOST_TEST_REQUIRE(on_runtime.has_value());
  BOOST_TEST((on_runtime->get_executor() == rt.get_executor()));
  BOOST_TEST(on_runtime->remote_endpoint() == c2.local_endpoint());
}

BOOST_AUTO_TEST_CASE(sync_accept_and_non_blocking_accept)
{
  nanorun::runtime rt(1);
  tcp::acceptor acc(rt, loopback());
  tcp::socket c(rt);
  c.connect(acc.local_endpoint());
  tcp::socket s = acc.accept();
  BOOST_TEST(s.remote_endpoint() == c.local_endpoint());

  acc.non_blocking(true);
  BOOST_TEST(acc.non_blocking());
  tcp::socket none(rt);
  error_code ec;
  acc.accept(none, ec);
  BOOST_TEST(ec == asio::error::would_block);
  BOOST_TEST(!none.is_open());
}

BOOST_AUTO_TEST_CASE(accept_loop_in_a_coroutine)
{
  nanorun::runtime rt(1);
  tcp::acceptor acc(rt, loopback());
  auto server = asio::co_spawn(
      rt,
      [&]() -> asio::awaitable<int> {
        int n = 0;
        for (int i = 0; i < 3; ++i)
        {
          tcp::socket s = co_await acc.async_accept(asio::use_awaitable);
          char b;
          co_await s.async_read_some(asio::buffer(&b, 1), asio::use_awaitable);
          n += b;
        }
        co_return n;
      },
      asio::use_future);
  auto client = asio::co_spawn(
      rt,
      [&]() -> asio::awaitable<void> {
        for (char i = 1; i <= 3; ++i)
        {
          tcp::socket c(co_await asio::this_coro::executor);
          co_await c.async_connect(acc.local_endpoint(), asio::use_awaitable);
          co_await c.async_write_some(asio::buffer(&i, 1), asio::use_awaitable);
        }
      },
      asio::use_future);
  rt.run_for(limit);
  client.get();
  BOOST_TEST(server.get() == 6);
}

#if !defined(_WIN32) // POSIX-only: RLIMIT_NOFILE (Windows has no descriptor limit to exhaust)
// EMFILE: the accept completes once with the error (it does not retry in a
// loop), and a later accept, with descriptors available again, succeeds.
BOOST_AUTO_TEST_CASE_TEMPLATE(accept_out_of_descriptors, Backend, backends)
{
  on_backend<Backend> f;
  auto& rt = f.rt;
  tcp::acceptor acc(rt, loopback());
  tcp::socket c(rt);
  c.connect(acc.local_endpoint()); // waits in the accept queue
  int calls = 0;
  error_code first = unset;
  bool socket_open = true;
  {
    nofile_limit lim;
    BOOST_TEST_REQUIRE(lim.exhaust());
    acc.async_accept([&](error_code ec, tcp::socket s) {
      ++calls;
      first = ec;
      socket_open = s.is_open();
    });
    rt.run_for(limit);
    lim.restore();
  }
  BOOST_TEST(calls == 1);
  BOOST_TEST(first == boost::system::errc::too_many_files_open, first.message());
  BOOST_TEST(!socket_open);
  BOOST_TEST(rt.stopped()); // ran out of work: nothing kept retrying

  std::optional<tcp::socket> later;
  acc.async_accept([&](error_code ec, tcp::socket s) {
    BOOST_TEST(!ec, ec.message());
    later.emplace(std::move(s));
  });
  rt.restart();
  rt.run_for(limit);
  BOOST_TEST_REQUIRE(later.has_value());
  BOOST_TEST(later->is_open());
  BOOST_TEST(later->remote_endpoint() == c.local_endpoint());
}

#endif

BOOST_AUTO_TEST_SUITE_END()
