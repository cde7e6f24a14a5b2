// nanorun::ip::tcp::resolver (and udp's) through the public API, and Asio's
// connect/async_connect over resolver results on nanorun sockets.
#include "unit/io/io_test_support.hpp"

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/test/unit_test.hpp>

#include <future>
#include <memory>
#include <string>
#include <vector>

using namespace io_test;

namespace {

const char* const bogus_host = "nanorun-no-such-host.invalid";

bool is_not_found(const error_code& ec)
{
  // host_not_found_try_again when no DNS server answers.
  return ec == asio::error::host_not_found || ec == asio::error::host_not_found_try_again;
}

template <class Results>
bool all_loopback(const Results& r)
{
  for (const auto& e : r)
    if (!e.endpoint().address().is_loopback())
      return false;
  return !r.empty();
}

} // namespace

BOOST_AUTO_TEST_SUITE(io_resolver)

BOOST_AUTO_TEST_CASE(sync_resolve)
{
  nanorun::runtime rt(1);
  tcp::resolver r(rt);
  const auto numeric = r.resolve("127.0.0.1", "80");
  BOOST_TEST_REQUIRE(!numeric.empty());
  for (const auto& e : numeric)
  {
    BOOST_TEST(e.endpoint() == loopback(80));
    BOOST_TEST(e.host_name() == "127.0.0.1");
    BOOST_TEST(e.service_name() == "80");
  }
  const auto local = r.resolve("localhost", "8080");
  BOOST_TEST(all_loopback(local));
  for (const auto& e : local)
    BOOST_TEST(e.endpoint().port() == 8080);
  const auto v4 = r.resolve(tcp::v4(), "localhost", "7");
  BOOST_TEST(!v4.empty());
  for (const auto& e : v4)
    BOOST_TEST(e.endpoint().address().is_v4());

  error_code ec;
  const auto none = r.resolve(bogus_host, "80", ec);
  BOOST_TEST(is_not_found(ec), ec.message());
  BOOST_TEST(none.empty());
  BOOST_CHECK_THROW(r.resolve(bogus_host, "80"), boost::system::system_error);

  udp::resolver ur(rt);
  const auto u = ur.resolve("127.0.0.1", "53");
  BOOST_TEST_REQUIRE(!u.empty());
  BOOST_TEST((u.begin()->endpoint().protocol() == asio::ip::udp::v4()));
}

BOOST_AUTO_TEST_CASE(async_resolve)
{
  nanorun::runtime rt(1);
  tcp::resolver r(rt);
  error_code e1 = unset, e2 = unset, e3 = unset;
  bool returned = false, inline_call = false;
  tcp::resolver::results_type numeric, local;
  r.async_resolve("127.0.0.1", "443", [&](error_code ec, tcp::resolver::results_type res) {
    inline_call = inline_call || !returned;
    e1 = ec;
    numeric = std::move(res);
  });
  r.async_resolve("localhost", "443", [&](error_code ec, tcp::resolver::results_type res) {
    inline_call = inline_call || !returned;
    e2 = ec;
    local = std::move(res);
  });
  std::size_t bogus_size = 99;
  r.async_resolve(bogus_host, "443", [&](error_code ec, tcp::resolver::results_type res) {
    inline_call = inline_call || !returned;
    e3 = ec;
    bogus_size = res.size();
  });
  returned = true;
  rt.run_for(limit);
  BOOST_TEST(!inline_call);
  BOOST_TEST(!e1, e1.message());
  BOOST_TEST_REQUIRE(!numeric.empty());
  BOOST_TEST(numeric.begin()->endpoint() == loopback(443));
  BOOST_TEST(!e2, e2.message());
  BOOST_TEST(all_loopback(local));
  BOOST_TEST(is_not_found(e3), e3.message());
  BOOST_TEST(bogus_size == 0u);

  auto f = asio::co_spawn(
      rt,
      []() -> asio::awaitable<std::size_t> {
        tcp::resolver cr(co_await asio::this_coro::executor);
        auto res = co_await cr.async_resolve("localhost", "1", asio::use_awaitable);
        co_return res.size();
      },
      asio::use_future);
  rt.restart();
  rt.run_for(limit);
  BOOST_TEST(f.get() >= 1u);
}

BOOST_AUTO_TEST_CASE(cancel_and_destruction_abort_pending_resolves)
{
  nanorun::runtime rt(1);
  error_code cancelled = unset, destroyed = unset, after = unset;
  {
    tcp::resolver r(rt);
    r.async_resolve("localhost", "80", [&](error_code ec, tcp::resolver::results_type) { cancelled = ec; });
    r.cancel();
    // Resolves started after cancel() are not affected by it.
    r.async_resolve("127.0.0.1", "80", [&](error_code ec, tcp::resolver::results_type) { after = ec; });
    auto doomed = std::make_unique<tcp::resolver>(rt);
    doomed->async_resolve("localhost", "80", [&](error_code ec, tcp::resolver::results_type) { destroyed = ec; });
    doomed.reset();
    rt.run_for(limit);
  }
  BOOST_TEST(cancelled == asio::error::operation_aborted);
  BOOST_TEST(destroyed == asio::error::operation_aborted);
  BOOST_TEST(!after, after.message());
}

BOOST_AUTO_TEST_CASE(resolve_uses_the_associated_executor_and_allocator)
{
  nanorun::runtime rt(2);
  auto strand = asio::make_strand(rt.get_executor());
  alloc_counts counts;
  tcp::resolver r(rt);
  std::promise<bool> in_strand;
  std::promise<std::size_t> allocated;
  r.async_resolve("127.0.0.1", "80", asio::bind_executor(strand, [&](error_code ec, tcp::resolver::results_type) {
                    in_strand.set_value(!ec && strand.running_in_this_thread());
                  }));
  r.async_resolve("127.0.0.1", "80",
                  asio::bind_allocator(counting_allocator<void>(counts),
                                       [&](error_code ec, tcp::resolver::results_type res) {
                                         allocated.set_value(ec ? 0 : res.size());
                                       }));
  BOOST_TEST(counts.allocations.load() >= 1);
  background bg(rt, 2);
  BOOST_TEST(in_strand.get_future().get());
  BOOST_TEST(allocated.get_future().get() >= 1u);
  bg.finish();
  BOOST_TEST(counts.deallocations.load() == counts.allocations.load());
}

BOOST_AUTO_TEST_CASE(asio_connect_over_resolver_results)
{
  nanorun::runtime rt(1);
  tcp::acceptor acc(rt, loopback());
  tcp::resolver r(rt);
  const auto results = r.resolve("127.0.0.1", std::to_string(acc.local_endpoint().port()));

  // Synchronous range connect.
  tcp::socket c1(rt);
  const tcp::endpoint got = asio::connect(c1, results);
  BOOST_TEST(got == acc.local_endpoint());
  BOOST_TEST(c1.remote_endpoint() == acc.local_endpoint());

  // Asynchronous range connect, resolving first.
  tcp::socket c2(rt);
  error_code ec = unset;
  tcp::endpoint connected_to;
  r.async_resolve("localhost", std::to_string(acc.local_endpoint().port()),
                  [&](error_code rec, tcp::resolver::results_type res) {
                    BOOST_TEST(!rec);
                    asio::async_connect(c2, res, [&](error_code cec, const tcp::endpoint& ep) {
                      ec = cec;
                      connected_to = ep;
                    });
                  });
  rt.run_for(limit);
  BOOST_TEST(!ec, ec.message());
  BOOST_TEST(connected_to.port() == acc.local_endpoint().port());
  BOOST_TEST(c2.remote_endpoint().port() == acc.local_endpoint().port());

  // A refused endpoint first: the socket is closed and the next one tried.
  refusing_port refusing(rt);
  const std::vector<tcp::endpoint> eps{refusing.endpoint(), acc.local_endpoint()};
  const auto mixed = tcp::resolver::results_type::create(eps.begin(), eps.end(), "h", "s");
  tcp::socket c3(rt), c4(rt);
  BOOST_TEST(asio::connect(c3, mixed) == acc.local_endpoint());
  ec = unset;
  asio::async_connect(c4, mixed, [&](error_code cec, const tcp::endpoint& ep) {
    ec = cec;
    connected_to = ep;
  });
  rt.restart();
  rt.run_for(limit);
  BOOST_TEST(!ec, ec.message());
  BOOST_TEST(connected_to == acc.local_endpoint());

  // Every endpoint refused: the last error is reported.
  const std::vector<tcp::endpoint> refused_only{refusing.endpoint()};
  const auto bad = tcp::resolver::results_type::create(refused_only.begin(), refused_only.end(), "h", "s");
  tcp::socket c5(rt);
  ec = unset;
  asio::async_connect(c5, bad, [&](error_code cec, const tcp::endpoint&) { ec = cec; });
  rt.restart();
  rt.run_for(limit);
  BOOST_TEST(ec == asio::error::connection_refused, ec.message());
}

BOOST_AUTO_TEST_SUITE_END()
