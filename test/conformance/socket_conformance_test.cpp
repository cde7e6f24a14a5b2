// Asio conformance of nanorun's sockets: the traits Asio's stream and
// datagram sockets have (AsyncReadStream/AsyncWriteStream, return types per
// completion token, executor rebinding, as_default_on), and the awaitable
// operators and parallel groups racing a socket read against a timer.
#include "conformance/common.hpp"

#include <nanorun/ip/tcp.hpp>
#include <nanorun/ip/udp.hpp>
#include <nanorun/steady_timer.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/basic_socket.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include <array>
#include <chrono>
#include <concepts>
#include <future>
#include <string>
#include <thread>
#include <type_traits>
#include <variant>

namespace asio = boost::asio;
using boost::system::error_code;
using nanorun::ip::tcp;
using nanorun::ip::udp;
using namespace std::chrono_literals;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

using conformance::ex_t;
using mb = asio::mutable_buffer;
using cb = asio::const_buffer;

struct rw_handler
{
  void operator()(error_code, std::size_t) const {}
};

// What Asio's composed operations (async_read, async_write, async_read_until,
// Beast) need of a stream.
template <class S>
concept async_read_write_stream = requires(S& s, mb m, cb c) {
  typename S::executor_type;
  { s.get_executor() } -> std::same_as<typename S::executor_type>;
  s.async_read_some(m, rw_handler{});
  s.async_write_some(c, rw_handler{});
};

template <class Op>
using read_result = decltype(std::declval<tcp::socket&>().async_read_some(std::declval<mb>(), std::declval<Op>()));
template <class Op>
using write_result = decltype(std::declval<tcp::socket&>().async_write_some(std::declval<cb>(), std::declval<Op>()));

tcp::endpoint loopback(unsigned short port = 0) { return {asio::ip::address_v4::loopback(), port}; }

} // namespace

// Endpoints and the socket base are Asio's own types.
static_assert(std::is_same_v<tcp::endpoint, asio::ip::tcp::endpoint>);
static_assert(std::is_same_v<udp::endpoint, asio::ip::udp::endpoint>);
static_assert(std::is_base_of_v<asio::basic_socket<tcp, asio::any_io_executor>, tcp::socket>);
static_assert(std::is_base_of_v<asio::basic_socket<udp, asio::any_io_executor>, udp::socket>);
static_assert(std::is_base_of_v<asio::socket_base, tcp::acceptor>);

// The member types of Asio's sockets.
static_assert(std::is_same_v<tcp::socket::executor_type, asio::any_io_executor>);
static_assert(std::is_same_v<tcp::socket::protocol_type, tcp>);
static_assert(std::is_same_v<tcp::socket::endpoint_type, asio::ip::tcp::endpoint>);
static_assert(std::is_same_v<decltype(std::declval<const tcp::socket&>().get_executor()), asio::any_io_executor>);
static_assert(std::is_same_v<tcp::acceptor::executor_type, asio::any_io_executor>);
static_assert(std::is_same_v<udp::socket::executor_type, asio::any_io_executor>);
static_assert(std::is_nothrow_move_constructible_v<tcp::socket>);
static_assert(!std::is_copy_constructible_v<tcp::socket>);

// AsyncReadStream and AsyncWriteStream.
static_assert(async_read_write_stream<tcp::socket>);
static_assert(async_read_write_stream<tcp::socket::rebind_executor<ex_t>::other>);
static_assert(async_read_write_stream<asio::use_awaitable_t<>::as_default_on_t<tcp::socket>>);

// What each completion token makes an initiating function return.
static_assert(std::is_same_v<read_result<asio::use_awaitable_t<>>, asio::awaitable<std::size_t>>);
static_assert(std::is_same_v<write_result<asio::use_awaitable_t<>>, asio::awaitable<std::size_t>>);
static_assert(std::is_same_v<read_result<asio::use_future_t<>>, std::future<std::size_t>>);
static_assert(std::is_same_v<write_result<asio::use_future_t<>>, std::future<std::size_t>>);
static_assert(asio::is_deferred<read_result<asio::deferred_t>>::value);
static_assert(asio::is_deferred<write_result<asio::deferred_t>>::value);
static_assert(std::is_same_v<decltype(std::declval<tcp::socket&>().async_connect(
                                 std::declval<tcp::endpoint>(), asio::use_awaitable)),
                             asio::awaitable<void>>);
static_assert(std::is_same_v<decltype(std::declval<tcp::socket&>().async_wait(tcp::socket::wait_read,
                                                                               asio::use_future)),
                             std::future<void>>);
static_assert(std::is_same_v<decltype(std::declval<tcp::acceptor&>().async_accept(asio::use_awaitable)),
                             asio::awaitable<tcp::socket>>);
static_assert(std::is_same_v<decltype(std::declval<tcp::resolver&>().async_resolve("h", "s", asio::use_awaitable)),
                             asio::awaitable<tcp::resolver::results_type>>);
static_assert(std::is_same_v<decltype(std::declval<udp::socket&>().async_receive_from(
                                 std::declval<mb>(), std::declval<udp::endpoint&>(), asio::use_awaitable)),
                             asio::awaitable<std::size_t>>);

// Rebinding the executor, as Asio's I/O objects do.
static_assert(std::is_same_v<tcp::socket::rebind_executor<ex_t>::other, nanorun::basic_stream_socket<tcp, ex_t>>);
static_assert(std::is_same_v<tcp::acceptor::rebind_executor<ex_t>::other, nanorun::basic_socket_acceptor<tcp, ex_t>>);
static_assert(std::is_same_v<tcp::resolver::rebind_executor<ex_t>::other, nanorun::ip::basic_resolver<tcp, ex_t>>);
static_assert(std::is_same_v<udp::socket::rebind_executor<ex_t>::other, nanorun::basic_datagram_socket<udp, ex_t>>);
static_assert(std::is_same_v<tcp::socket::rebind_executor<ex_t>::other::executor_type, ex_t>);
static_assert(std::is_same_v<asio::use_awaitable_t<>::as_default_on_t<tcp::socket>::executor_type,
                             asio::use_awaitable_t<>::executor_with_default<asio::any_io_executor>>);
// The socket an acceptor on ex_t hands out is on ex_t too.
static_assert(std::is_same_v<decltype(std::declval<tcp::acceptor::rebind_executor<ex_t>::other&>().async_accept(
                                 conformance::n_use_awaitable)),
                             conformance::n_awaitable<tcp::socket::rebind_executor<ex_t>::other>>);

BOOST_AUTO_TEST_SUITE(conformance_socket)

BOOST_AUTO_TEST_CASE(socket_rebound_to_the_runtimes_executor)
{
  nanorun::runtime rt(1);
  using n_socket = tcp::socket::rebind_executor<nanorun::runtime::executor_type>::other;
  using n_acceptor = tcp::acceptor::rebind_executor<nanorun::runtime::executor_type>::other;
  auto f = asio::co_spawn(
      rt,
      []() -> conformance::n_awaitable<std::string> {
        const auto ex = co_await asio::this_coro::executor;
        n_acceptor acc(ex, loopback());
        n_socket c(ex);
        co_await c.async_connect(acc.local_endpoint(), conformance::n_use_awaitable);
        n_socket s = co_await acc.async_accept(conformance::n_use_awaitable);
        co_await asio::async_write(c, asio::buffer("rebound", 7), conformance::n_use_awaitable);
        char b[7];
        co_await asio::async_read(s, asio::buffer(b), conformance::n_use_awaitable);
        co_return std::string(b, 7);
      },
      asio::use_future);
  rt.run();
  BOOST_TEST(f.get() == "rebound");
}

BOOST_AUTO_TEST_CASE(as_default_on_awaits_without_a_token)
{
  nanorun::runtime rt(1);
  using d_socket = asio::use_awaitable_t<>::as_default_on_t<tcp::socket>;
  using d_acceptor = asio::use_awaitable_t<>::as_default_on_t<tcp::acceptor>;
  auto f = asio::co_spawn(
      rt,
      []() -> asio::awaitable<std::string> {
        d_acceptor acc(co_await asio::this_coro::executor, loopback());
        d_socket c(co_await asio::this_coro::executor);
        co_await c.async_connect(acc.local_endpoint());
        auto s = co_await acc.async_accept();
        co_await c.async_write_some(asio::buffer("dflt", 4));
        char b[4];
        const std::size_t n = co_await s.async_read_some(asio::buffer(b));
        co_return std::string(b, n);
      },
      asio::use_future);
  rt.run();
  BOOST_TEST(f.get() == "dflt");
}

// A few hundred races on two threads, the coroutine on a strand: with no data
// the timer wins (and the cancelled read consumes nothing); with data already
// there the read wins.
BOOST_AUTO_TEST_CASE(or_of_a_read_and_a_timer)
{
  nanorun::runtime rt(2);
  tcp::acceptor acc(rt, loopback());
  tcp::socket c(rt), s(rt);
  c.connect(acc.local_endpoint());
  acc.accept(s);
  constexpr int races = 300;
  struct result
  {
    int read_wins = 0, timer_wins = 0, wrong = 0;
  };
  auto f = asio::co_spawn(
      asio::make_strand(rt.get_executor()),
      [&]() -> asio::awaitable<result> {
        result r;
        const auto ex = co_await asio::this_coro::executor;
        char buf[8];
        for (int i = 0; i < races; ++i)
        {
          const bool with_data = i % 2 == 1;
          const char byte = static_cast<char>('a' + i % 26);
          if (with_data)
          {
            c.write_some(asio::buffer(&byte, 1));
            s.wait(tcp::socket::wait_read);
          }
          nanorun::steady_timer t(ex, with_data ? std::chrono::steady_clock::duration(1h)
                                                : std::chrono::microseconds(50 + i % 100));
          auto v = co_await (s.async_read_some(asio::buffer(buf), asio::use_awaitable) ||
                             t.async_wait(asio::use_awaitable));
          if (v.index() == 0)
          {
            ++r.read_wins;
            r.wrong += !with_data || std::get<0>(v) != 1 || buf[0] != byte;
          }
          else
          {
            ++r.timer_wins;
            r.wrong += with_data || s.available() != 0;
          }
        }
        co_return r;
      },
      asio::use_future);
  std::thread second([&] { rt.run(); });
  rt.run();
  second.join();
  const result r = f.get();
  BOOST_TEST(r.read_wins == races / 2);
  BOOST_TEST(r.timer_wins == races / 2);
  BOOST_TEST(r.wrong == 0);
}

BOOST_AUTO_TEST_CASE(parallel_group_of_a_read_and_a_timer)
{
  nanorun::runtime rt(1);
  tcp::acceptor acc(rt, loopback());
  tcp::socket c(rt), s(rt);
  c.connect(acc.local_endpoint());
  acc.accept(s);
  char buf[8];
  for (const bool with_data : {false, true})
  {
    BOOST_TEST_CONTEXT("with data: " << with_data)
    {
      if (with_data)
      {
        c.write_some(asio::buffer("pg", 2));
        s.wait(tcp::socket::wait_read);
      }
      nanorun::steady_timer t(rt, with_data ? std::chrono::steady_clock::duration(1h) : 1ms);
      std::size_t first = 9, n = 0;
      error_code read_ec = asio::error::fault, timer_ec = asio::error::fault;
      asio::experimental::make_parallel_group(s.async_read_some(asio::buffer(buf), asio::deferred),
                                              t.async_wait(asio::deferred))
          .async_wait(asio::experimental::wait_for_one(),
                      [&](std::array<std::size_t, 2> order, error_code rec, std::size_t bytes, error_code tec) {
                        first = order[0];
                        read_ec = rec;
                        n = bytes;
                        timer_ec = tec;
                      });
      rt.restart();
      rt.run();
      if (with_data)
      {
        BOOST_TEST(first == 0u);
        BOOST_TEST(!read_ec);
        BOOST_TEST(n == 2u);
        BOOST_TEST(timer_ec == asio::error::operation_aborted);
      }
      else
      {
        BOOST_TEST(first == 1u);
        BOOST_TEST(read_ec == asio::error::operation_aborted);
        BOOST_TEST(!timer_ec);
        BOOST_TEST(s.available() == 0u);
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
