// nanorun's datagram socket, resolver, timer and io_context::service next to
// Asio's (see io_sets.hpp): every member form with its results and error
// codes.
#include "conformance/io_sets.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/execution_context.hpp>

#include <chrono>
#include <string>

using namespace io_sets;
using namespace std::chrono_literals;

namespace {

// One line per entry: address:port/host/service.
template <class Results>
std::string describe(const Results& results)
{
  std::string out;
  for (const auto& e : results)
    out += e.endpoint().address().to_string() + ":" + std::to_string(e.endpoint().port()) + "/" + e.host_name() +
           "/" + e.service_name() + ";";
  return out;
}

// A service written against io_context::service, compiled against either
// base: the only change is the context type.
template <class Context>
class counting_service : public Context::service
{
public:
  static inline typename Context::id id;
  static inline int created = 0;
  static inline int shut_down = 0;

  explicit counting_service(Context& ctx) : Context::service(ctx) { ++created; }
  Context& owner() { return this->get_io_context(); }

private:
  void shutdown() override { ++shut_down; }
};

// One that keeps the base's shutdown().
template <class Context>
class plain_service : public Context::service
{
public:
  static inline typename Context::id id;
  explicit plain_service(Context& ctx) : Context::service(ctx) {}
};

} // namespace

BOOST_AUTO_TEST_SUITE(conformance_io_object_udp_resolver_timer)

BOOST_AUTO_TEST_CASE(datagram_socket_members)
{
  same_on_both([](auto set, record& r) {
    using S = decltype(set);
    using udp = typename S::udp;
    using socket = typename udp::socket;
    typename S::context ctx;
    socket a(ctx, {udp::v4(), 0}), b(ctx, udp_loopback());
    const auto to_b = b.local_endpoint();
    char buf[16] = {};
    typename udp::endpoint from;
    error_code ec;

    r("send_to", a.send_to(asio::buffer("one", 3), to_b));
    r("receive_from(peek)", b.receive_from(asio::buffer(buf), from, socket::message_peek));
    r("receive_from(flags 0)", b.receive_from(asio::buffer(buf), from, 0));
    r.expect("sender", from.port() == a.local_endpoint().port(), true);
    r("send_to(flags, ec)", a.send_to(asio::buffer("two", 3), to_b, 0, ec));
    r("receive_from(flags, ec)", b.receive_from(asio::buffer(buf), from, 0, ec));
    r("empty datagram", a.send_to(asio::buffer(buf, 0), to_b));
    r("empty datagram received", b.receive_from(asio::buffer(buf), from));

    std::size_t sent = 0, peeked = 0, got = 0;
    error_code e1 = asio::error::fault, e2 = asio::error::fault, e3 = asio::error::fault;
    a.async_send_to(asio::buffer("three", 5), to_b, 0, [&](error_code e, std::size_t n) { e1 = e, sent = n; });
    b.async_receive_from(asio::buffer(buf), from, socket::message_peek, [&](error_code e, std::size_t n) {
      e2 = e, peeked = n;
      b.async_receive_from(asio::buffer(buf), from, 0, [&](error_code e0, std::size_t n0) { e3 = e0, got = n0; });
    });
    run(ctx);
    r("async_send_to(flags)", e1);
    r("async_send_to bytes", sent);
    r("async_receive_from(peek)", e2);
    r("async_receive_from(peek) bytes", peeked);
    r("async_receive_from", e3);
    r("async_receive_from data", std::string(buf, got));

    a.connect(to_b);
    b.connect(a.local_endpoint());
    r("send", a.send(asio::buffer("four", 4), 0));
    r("receive(peek)", b.receive(asio::buffer(buf), socket::message_peek));
    r("receive", b.receive(asio::buffer(buf), 0, ec));
    e1 = e2 = asio::error::fault;
    // The receive waits for the datagram.
    b.async_receive(asio::buffer(buf), 0, [&](error_code e, std::size_t n) { e2 = e, got = n; });
    a.async_send(asio::buffer("five", 4), 0, [&](error_code e, std::size_t) { e1 = e; });
    run(ctx);
    r("async_send(flags)", e1);
    r("async_receive(flags)", e2);
    r("async_receive data", std::string(buf, got));

    // A closed socket is not opened by send_to (only connect opens one).
    socket closed(ctx);
    closed.send_to(asio::buffer("x", 1), to_b, 0, ec);
    r.expect("send_to on closed", ec, asio::error::bad_descriptor);
    closed.receive_from(asio::buffer(buf), from, 0, ec);
    r.expect("receive_from on closed", ec, asio::error::bad_descriptor);
    e1 = e2 = asio::error::fault;
    closed.async_send_to(asio::buffer("x", 1), to_b, [&](error_code e, std::size_t) { e1 = e; });
    closed.async_receive_from(asio::buffer(buf), from, [&](error_code e, std::size_t) { e2 = e; });
    run(ctx);
    r.expect("async_send_to on closed", e1, asio::error::bad_descriptor);
    r.expect("async_receive_from on closed", e2, asio::error::bad_descriptor);
    r.expect("still closed", closed.is_open(), false);
  });
}

BOOST_AUTO_TEST_CASE(resolver_forms)
{
  same_on_both([](auto set, record& r) {
    using S = decltype(set);
    using tcp = typename S::tcp;
    using resolver = typename tcp::resolver;
    typename S::context ctx;
    resolver res(ctx);
    error_code ec;

    r("resolve(host, service)", describe(res.resolve("127.0.0.1", "80")));
    r("resolve(host, service, ec)", describe(res.resolve("localhost", "http", ec)));
    r("ec", ec);
    r("resolve(host, service, flags)", describe(res.resolve("localhost", "80", resolver::numeric_service)));
    r("resolve(host, service, flags, ec)",
      describe(res.resolve("127.0.0.1", "80", resolver::passive | resolver::numeric_host, ec)));
    r("resolve(protocol, host, service)", describe(res.resolve(tcp::v4(), "localhost", "80")));
    r("resolve(protocol, host, service, ec)", describe(res.resolve(tcp::v4(), "127.0.0.1", "ssh", ec)));
    r("resolve(protocol, host, service, flags)",
      describe(res.resolve(tcp::v4(), "localhost", "80", resolver::canonical_name)));
    r("resolve(protocol, host, service, flags, ec)",
      describe(res.resolve(tcp::v4(), "", "80", resolver::passive, ec)));
    r("resolve(endpoint)", describe(res.resolve(loopback(80))));
    r("resolve(endpoint, ec)", describe(res.resolve(loopback(65001), ec)));
    r("ec", ec);

    res.resolve("localhost", "80", resolver::numeric_host, ec);
    r.expect("a name with numeric_host", ec, asio::error::host_not_found);
    res.resolve("256.1.1.1", "80", resolver::numeric_host, ec);
    r.expect("an invalid address", ec, asio::error::host_not_found);
    res.resolve("127.0.0.1", "no-such-service-nanorun", ec);
    r.expect("an unknown service", ec, asio::error::service_not_found);
    res.resolve(tcp::v6(), "127.0.0.1", "80", resolver::numeric_host, ec);
    r("an IPv4 address as IPv6", ec);
    try
    {
      res.resolve("localhost", "80", resolver::numeric_host);
      r("resolve throws", false);
    }
    catch (const boost::system::system_error& e)
    {
      r.expect("resolve throws", e.code(), asio::error::host_not_found);
    }
    // Without a DNS server the answer is host_not_found_try_again.
    res.resolve("nanorun-no-such-host.invalid", "80", ec);
    r("an unknown host is not found",
      ec == asio::error::host_not_found || ec == asio::error::host_not_found_try_again);

    std::string got[6];
    error_code errs[6];
    auto into = [&](int i) {
      return [&, i](error_code e, typename resolver::results_type results) {
        errs[i] = e;
        got[i] = describe(results);
      };
    };
    res.async_resolve("127.0.0.1", "80", into(0));
    res.async_resolve("localhost", "80", resolver::numeric_service, into(1));
    res.async_resolve(tcp::v4(), "localhost", "http", into(2));
    res.async_resolve(tcp::v4(), "127.0.0.1", "80", resolver::numeric_host, into(3));
    res.async_resolve(loopback(80), into(4));
    res.async_resolve("localhost", "80", resolver::numeric_host, into(5));
    run(ctx);
    const char* forms[] = {"(host, service)", "(host, service, flags)", "(protocol, host, service)",
                           "(protocol, host, service, flags)", "(endpoint)", "(name, numeric_host)"};
    for (int i = 0; i < 6; ++i)
    {
      r(std::string("async_resolve") + forms[i], errs[i]);
      r(std::string("async_resolve") + forms[i] + " results", got[i]);
    }
    r.expect("async_resolve of a name with numeric_host", errs[5], asio::error::host_not_found);
    res.cancel();
  });
}

BOOST_AUTO_TEST_CASE(timer_members)
{
  same_on_both([](auto set, record& r) {
    using S = decltype(set);
    using timer = typename S::steady_timer;
    typename S::context ctx;
    timer t(ctx, 1h);
    error_code ec = asio::error::fault;
    r("cancel(ec)", t.cancel(ec));
    r("cancel(ec) ec", ec);
    r("cancel_one(ec)", t.cancel_one(ec));
    r.expect("expires_at() is expiry()", t.expires_at() == t.expiry(), true);
    r.expect("expires_from_now() is at most the duration", t.expires_from_now() <= 1h, true);
    r.expect("expires_from_now() is positive", t.expires_from_now() > timer::duration::zero(), true);

    error_code w[5];
    auto waiter = [&](int i) {
      w[i] = asio::error::fault;
      t.async_wait([&w, i](error_code e) { w[i] = e; });
    };
    waiter(0);
    r("expires_at(time, ec) cancels", t.expires_at(timer::clock_type::now() + 1h, ec));
    waiter(1);
    r("expires_from_now(duration) cancels", t.expires_from_now(2h));
    waiter(2);
    r("expires_from_now(duration, ec) cancels", t.expires_from_now(5min, ec));
    waiter(3);
    r("expires_after(duration) cancels", t.expires_after(1h));
    waiter(4);
    r("cancel()", t.cancel());
    run(ctx);
    for (const error_code& e : w)
      r.expect("aborted", e, asio::error::operation_aborted);

    timer expired(ctx, typename timer::time_point());
    expired.wait();
    expired.wait(ec);
    r.expect("wait(ec) on an expired timer", ec, {});
    error_code done = asio::error::fault;
    expired.async_wait([&](error_code e) { done = e; });
    run(ctx);
    r.expect("async_wait on an expired timer", done, {});
    r("expires_after with nothing pending", expired.expires_after(timer::duration::zero()));
  });
}

// A service written against io_context::service works once its base is
// nanorun::io_context::service: use_service creates it once, with the
// context; shutdown() runs when the context goes away.
BOOST_AUTO_TEST_CASE(io_context_service_base)
{
  same_on_both([](auto set, record& r) {
    using S = decltype(set);
    using context = typename S::context;
    using svc = counting_service<context>;
    svc::created = svc::shut_down = 0;
    {
      context ctx;
      r.expect("has_service before", asio::has_service<svc>(ctx), false);
      svc& a = asio::use_service<svc>(ctx);
      svc& b = asio::use_service<svc>(ctx);
      r.expect("one instance", &a == &b, true);
      r.expect("get_io_context()", &a.owner() == &ctx, true);
      r.expect("has_service after", asio::has_service<svc>(ctx), true);
      r("created", svc::created);
      asio::use_service<plain_service<context>>(ctx);
      r.expect("the default shutdown() is there", asio::has_service<plain_service<context>>(ctx), true);
      r("shut down while the context lives", svc::shut_down);
    }
    r("shut down with the context", svc::shut_down);
  });
}

BOOST_AUTO_TEST_SUITE_END()
