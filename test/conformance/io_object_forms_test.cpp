// Every constructor and accept form of Asio 1.26's socket, acceptor, resolver
// and timer, called on nanorun's types and on Asio's side by side (see
// io_sets.hpp), plus the trait facts (return types, completion signatures,
// rebinding) pinned with static_assert for both type sets.
#include "conformance/io_sets.hpp"

#include <boost/asio/deferred.hpp>
#include <boost/asio/ip/basic_resolver_results.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/system/system_error.hpp>

#include <future>
#include <string>
#include <type_traits>
#include <utility>

using namespace io_sets;

namespace {

// What Asio's I/O objects look like, asked of one type set.
template <class S>
struct traits_of
{
  using context = typename S::context;
  using ctx_ex = typename context::executor_type;
  using tcp = typename S::tcp;
  using socket = typename tcp::socket;
  using acceptor = typename tcp::acceptor;
  using resolver = typename tcp::resolver;
  using udp_socket = typename S::udp::socket;
  template <class Ex>
  using socket_on = typename socket::template rebind_executor<Ex>::other;
  using mb = asio::mutable_buffer;
  using cb = asio::const_buffer;
  using flags = asio::socket_base::message_flags;
  using ep = typename tcp::endpoint;

  static acceptor& acc();
  static socket& sock();
  static context& ctx();
  static ep& endpoint();
  static error_code& ec();

  // Synchronous accepts: a peer form returns what Asio's error_code forms
  // return; every other form returns a new socket on the executor asked for.
  static_assert(std::is_same_v<decltype(acc().accept()), socket>);
  static_assert(std::is_same_v<decltype(acc().accept(ec())), socket>);
  static_assert(std::is_same_v<decltype(acc().accept(endpoint())), socket>);
  static_assert(std::is_same_v<decltype(acc().accept(endpoint(), ec())), socket>);
  static_assert(std::is_same_v<decltype(acc().accept(ctx())), socket_on<ctx_ex>>);
  static_assert(std::is_same_v<decltype(acc().accept(ctx(), ec())), socket_on<ctx_ex>>);
  static_assert(std::is_same_v<decltype(acc().accept(ctx(), endpoint())), socket_on<ctx_ex>>);
  static_assert(std::is_same_v<decltype(acc().accept(ctx(), endpoint(), ec())), socket_on<ctx_ex>>);
  static_assert(std::is_same_v<decltype(acc().accept(std::declval<ctx_ex>())), socket_on<ctx_ex>>);
  static_assert(std::is_same_v<decltype(acc().accept(std::declval<ctx_ex>(), ec())), socket_on<ctx_ex>>);
  static_assert(std::is_same_v<decltype(acc().accept(std::declval<ctx_ex>(), endpoint())), socket_on<ctx_ex>>);
  static_assert(std::is_same_v<decltype(acc().accept(sock())), void>);
  static_assert(std::is_same_v<decltype(acc().accept(sock(), endpoint())), void>);
  static_assert(std::is_same_v<decltype(acc().accept(sock(), ec())), decltype(sock().close(ec()))>);

  // Asynchronous accepts: void(error_code) into a peer, void(error_code,
  // socket) for the move-accepts.
  static_assert(std::is_same_v<decltype(acc().async_accept(sock(), asio::use_future)), std::future<void>>);
  static_assert(
      std::is_same_v<decltype(acc().async_accept(sock(), endpoint(), asio::use_future)), std::future<void>>);
  static_assert(std::is_same_v<decltype(acc().async_accept(asio::use_future)), std::future<socket>>);
  static_assert(std::is_same_v<decltype(acc().async_accept(endpoint(), asio::use_future)), std::future<socket>>);
  static_assert(
      std::is_same_v<decltype(acc().async_accept(ctx(), asio::use_future)), std::future<socket_on<ctx_ex>>>);
  static_assert(std::is_same_v<decltype(acc().async_accept(ctx(), endpoint(), asio::use_future)),
                               std::future<socket_on<ctx_ex>>>);
  static_assert(std::is_same_v<decltype(acc().async_accept(std::declval<ctx_ex>(), asio::use_future)),
                               std::future<socket_on<ctx_ex>>>);
  static_assert(std::is_same_v<decltype(acc().async_accept(std::declval<ctx_ex>(), endpoint(), asio::use_future)),
                               std::future<socket_on<ctx_ex>>>);
  static_assert(asio::is_deferred<decltype(acc().async_accept(ctx(), asio::deferred))>::value);

  // Socket operations with flags, and the rest of the signatures.
  static_assert(std::is_same_v<decltype(sock().async_send(std::declval<cb>(), flags(), asio::use_future)),
                               std::future<std::size_t>>);
  static_assert(std::is_same_v<decltype(sock().async_receive(std::declval<mb>(), flags(), asio::use_future)),
                               std::future<std::size_t>>);
  static_assert(std::is_same_v<decltype(std::declval<udp_socket&>().async_send_to(
                                   std::declval<cb>(), std::declval<typename S::udp::endpoint>(), flags(),
                                   asio::use_future)),
                               std::future<std::size_t>>);
  static_assert(std::is_same_v<decltype(std::declval<udp_socket&>().async_receive_from(
                                   std::declval<mb>(), std::declval<typename S::udp::endpoint&>(), flags(),
                                   asio::use_future)),
                               std::future<std::size_t>>);
  static_assert(std::is_same_v<decltype(sock().async_wait(socket::wait_read, asio::use_future)), std::future<void>>);
  static_assert(std::is_same_v<decltype(acc().async_wait(socket::wait_read, asio::use_future)), std::future<void>>);
  static_assert(std::is_same_v<decltype(std::declval<resolver&>().async_resolve(endpoint(), asio::use_future)),
                               std::future<typename resolver::results_type>>);
  static_assert(std::is_same_v<decltype(std::declval<resolver&>().async_resolve(tcp::v4(), "h", "s",
                                                                                 asio::use_future)),
                               std::future<typename resolver::results_type>>);

  // Types: the lowest layer is Asio's basic_socket; executors rebind.
  static_assert(std::is_same_v<typename socket::lowest_layer_type, asio::basic_socket<tcp, asio::any_io_executor>>);
  static_assert(std::is_same_v<std::decay_t<decltype(sock().lowest_layer())>, typename socket::lowest_layer_type>);
  static_assert(std::is_same_v<typename socket_on<ctx_ex>::executor_type, ctx_ex>);
  static_assert(std::is_same_v<typename acceptor::template rebind_executor<ctx_ex>::other::executor_type, ctx_ex>);
  static_assert(std::is_same_v<typename resolver::template rebind_executor<ctx_ex>::other::executor_type, ctx_ex>);
  static_assert(
      std::is_same_v<typename S::steady_timer::template rebind_executor<ctx_ex>::other::executor_type, ctx_ex>);
  static_assert(std::is_same_v<typename resolver::results_type,
                               asio::ip::basic_resolver_results<typename ep::protocol_type>>);

  // The error_code forms return what Asio's do (error_code unless
  // BOOST_ASIO_NO_DEPRECATED).
  static_assert(std::is_same_v<decltype(sock().close(ec())), decltype(std::declval<asio::ip::tcp::socket&>().close(ec()))>);
  static_assert(std::is_same_v<decltype(sock().connect(endpoint(), ec())), decltype(sock().close(ec()))>);
  static_assert(std::is_same_v<decltype(acc().listen(1, ec())), decltype(sock().close(ec()))>);
  static_assert(std::is_same_v<decltype(sock().native_non_blocking(true, ec())), decltype(sock().close(ec()))>);

  // Moves between executor types, as Asio's.
  static_assert(std::is_constructible_v<socket, socket_on<ctx_ex>&&>);
  static_assert(std::is_assignable_v<socket&, socket_on<ctx_ex>&&>);
  static_assert(!std::is_constructible_v<socket_on<ctx_ex>, socket&&>);
  static_assert(std::is_constructible_v<acceptor, typename acceptor::template rebind_executor<ctx_ex>::other&&>);
  static_assert(std::is_assignable_v<acceptor&, typename acceptor::template rebind_executor<ctx_ex>::other&&>);
  static_assert(std::is_constructible_v<resolver, typename resolver::template rebind_executor<ctx_ex>::other&&>);
  static_assert(std::is_constructible_v<typename S::steady_timer,
                                        typename S::steady_timer::template rebind_executor<ctx_ex>::other&&>);
  static_assert(std::is_assignable_v<typename S::steady_timer&,
                                     typename S::steady_timer::template rebind_executor<ctx_ex>::other&&>);

  static constexpr bool checked = true;
};

static_assert(traits_of<asio_set>::checked);
static_assert(traits_of<nanorun_set>::checked);
static_assert(std::is_same_v<nanorun::ip::tcp::iostream, asio::ip::tcp::iostream>);

// A descriptor to hand to a native-handle constructor.
// (On Windows, Asio's from a nanorun socket: see io_sets::release_source.)
template <class Socket, class Protocol, class Context>
typename Socket::native_handle_type released(Context& ctx, const Protocol& p)
{
#if defined(_WIN32)
  if constexpr (!std::is_same_v<Context, nanorun::io_context>)
  {
    nanorun::io_context n;
    if constexpr (std::is_same_v<Protocol, asio::ip::udp>)
      return nanorun::ip::udp::socket(n, p).release();
    else
      return nanorun::ip::tcp::socket(n, p).release();
  }
  else
#endif
  {
    Socket s(ctx, p);
    return s.release();
  }
}

} // namespace

BOOST_AUTO_TEST_SUITE(conformance_io_object_forms)

BOOST_AUTO_TEST_CASE(acceptor_constructors)
{
  same_on_both([](auto set, record& r) {
    using S = decltype(set);
    using tcp = typename S::tcp;
    typename S::context ctx;
    const auto ex = ctx.get_executor();

    typename tcp::acceptor a1(ctx), a2(ex);
    r.expect("(ctx) closed", a1.is_open(), false);
    r.expect("(ex) closed", a2.is_open(), false);
    typename tcp::acceptor a3(ctx, tcp::v4()), a4(ex, tcp::v6());
    r.expect("(ctx, protocol) open", a3.is_open(), true);
    r.expect("(ex, protocol) open", a4.is_open(), true);

    // Braced endpoints: open, bound and listening, reuse_address by default.
    typename tcp::acceptor a5(ctx, {tcp::v4(), 0});
    typename tcp::acceptor a6(ex, {tcp::v4(), 0});
    r.expect("(ctx, {v4, 0}) bound", a5.local_endpoint().port() != 0, true);
    r.expect("(ex, {v4, 0}) bound", a6.local_endpoint().port() != 0, true);
    typename tcp::acceptor::reuse_address reuse;
    a5.get_option(reuse);
    r.expect("reuse_address by default", reuse.value(), true);
    typename tcp::acceptor a7(ctx, loopback(), false), a8(ex, loopback(), true);
    a7.get_option(reuse);
    r.expect("(ctx, endpoint, false): no reuse_address", reuse.value(), false);
    a8.get_option(reuse);
    r.expect("(ex, endpoint, true): reuse_address", reuse.value(), true);
    typename tcp::socket c(ctx);
    error_code ec;
    c.connect(a7.local_endpoint(), ec);
    r.expect("(ctx, endpoint, false) listens", ec, {});

    // Protocol and native handle.
    typename tcp::acceptor a9(ctx, tcp::v4(), released<typename tcp::acceptor>(ctx, tcp::v4()));
    typename tcp::acceptor a10(ex, tcp::v4(), released<typename tcp::acceptor>(ctx, tcp::v4()));
    r.expect("(ctx, protocol, fd) open", a9.is_open(), true);
    r.expect("(ex, protocol, fd) open", a10.is_open(), true);

    // Moves, also from another executor type.
    using ctx_acceptor = typename tcp::acceptor::template rebind_executor<typename S::context::executor_type>::other;
    ctx_acceptor typed(ctx, loopback());
    const auto port = typed.local_endpoint().port();
    typename tcp::acceptor moved(std::move(typed));
    r.expect("converting move keeps the descriptor", moved.local_endpoint().port() == port, true);
    r.expect("moved-from is closed", typed.is_open(), false);
    ctx_acceptor typed2(ctx, loopback());
    moved = std::move(typed2);
    r.expect("converting assignment", moved.is_open() && !typed2.is_open(), true);
  });
}

BOOST_AUTO_TEST_CASE(socket_constructors)
{
  same_on_both([](auto set, record& r) {
    using S = decltype(set);
    using tcp = typename S::tcp;
    using udp = typename S::udp;
    typename S::context ctx;
    const auto ex = ctx.get_executor();

    typename tcp::socket s1(ctx), s2(ex);
    r.expect("(ctx) closed", s1.is_open(), false);
    r.expect("(ex) closed", s2.is_open(), false);
    typename tcp::socket s3(ctx, tcp::v4()), s4(ex, tcp::v6());
    r.expect("(ctx, protocol) open", s3.is_open(), true);
    r.expect("(ex, protocol) open", s4.is_open(), true);
    typename tcp::socket s5(ctx, {tcp::v4(), 0}), s6(ex, loopback());
    r.expect("(ctx, {v4, 0}) bound", s5.local_endpoint().port() != 0, true);
    r.expect("(ex, endpoint) bound", s6.local_endpoint().address().is_loopback(), true);
    typename tcp::socket s7(ctx, tcp::v4(), released<typename tcp::socket>(ctx, tcp::v4()));
    typename tcp::socket s8(ex, tcp::v4(), released<typename tcp::socket>(ctx, tcp::v4()));
    r.expect("(ctx, protocol, fd) open", s7.is_open(), true);
    r.expect("(ex, protocol, fd) open", s8.is_open(), true);

    typename udp::socket u1(ctx, {udp::v4(), 0}), u2(ex, udp::v4());
    typename udp::socket u3(ctx, udp::v4(), released<typename udp::socket>(ctx, udp::v4()));
    r.expect("udp (ctx, {v4, 0}) bound", u1.local_endpoint().port() != 0, true);
    r.expect("udp (ex, protocol) open", u2.is_open(), true);
    r.expect("udp (ctx, protocol, fd) open", u3.is_open(), true);

    using ctx_socket = typename tcp::socket::template rebind_executor<typename S::context::executor_type>::other;
    ctx_socket typed(ctx, {tcp::v4(), 0});
    const auto port = typed.local_endpoint().port();
    typename tcp::socket moved(std::move(typed));
    r.expect("converting move keeps the descriptor", moved.local_endpoint().port() == port, true);
    ctx_socket typed2(ctx, tcp::v4());
    moved = std::move(typed2);
    r.expect("converting assignment", moved.is_open() && !typed2.is_open(), true);
    using ctx_udp = typename udp::socket::template rebind_executor<typename S::context::executor_type>::other;
    ctx_udp typed_udp(ctx, udp::v4());
    typename udp::socket moved_udp(std::move(typed_udp));
    r.expect("udp converting move", moved_udp.is_open(), true);
    r.expect("lowest_layer is the socket", &s3.lowest_layer() == &s3, true);
    r.expect("get_executor", s2.get_executor() == asio::any_io_executor(ex), true);
  });
}

BOOST_AUTO_TEST_CASE(resolver_and_timer_constructors)
{
  same_on_both([](auto set, record& r) {
    using S = decltype(set);
    using timer = typename S::steady_timer;
    typename S::context ctx;
    const auto ex = ctx.get_executor();
    typename S::tcp::resolver r1(ctx), r2(ex);
    r1.cancel();
    using ctx_resolver = typename S::tcp::resolver::template rebind_executor<typename S::context::executor_type>::other;
    ctx_resolver typed(ctx);
    typename S::tcp::resolver moved(std::move(typed));
    r.expect("resolver moved", moved.resolve("127.0.0.1", "80").size() == 1u, true);

    const auto tp = timer::clock_type::now() + std::chrono::hours(1);
    timer t1(ctx), t2(ctx, tp), t3(ctx, std::chrono::hours(1)), t4(ex), t5(ex, tp), t6(ex, std::chrono::hours(1));
    r.expect("(ctx) expiry is the epoch", t1.expiry() == typename timer::time_point(), true);
    r.expect("(ctx, time_point)", t2.expiry() == tp, true);
    r.expect("(ctx, duration)", t3.expiry() > timer::clock_type::now(), true);
    r.expect("(ex)", t4.expiry() == typename timer::time_point(), true);
    r.expect("(ex, time_point)", t5.expiry() == tp, true);
    r.expect("(ex, duration)", t6.expiry() > timer::clock_type::now(), true);
    using ctx_timer = typename timer::template rebind_executor<typename S::context::executor_type>::other;
    ctx_timer typed_timer(ctx, tp);
    timer moved_timer(std::move(typed_timer));
    r.expect("timer converting move", moved_timer.expiry() == tp, true);
    ctx_timer typed_timer2(ctx, tp + std::chrono::hours(1));
    moved_timer = std::move(typed_timer2);
    r.expect("timer converting assignment", moved_timer.expiry() == tp + std::chrono::hours(1), true);
  });
}

// Each synchronous accept form, after a client has connected.
BOOST_AUTO_TEST_CASE(synchronous_accept_forms)
{
  same_on_both([](auto set, record& r) {
    using S = decltype(set);
    using tcp = typename S::tcp;
    typename S::context ctx;
    const auto ex = ctx.get_executor();
    typename tcp::acceptor acc(ctx, loopback());
    std::vector<typename tcp::socket> clients;
    auto connect = [&] {
      clients.emplace_back(ctx);
      clients.back().connect(acc.local_endpoint());
      return clients.back().local_endpoint();
    };
    // The accepted socket's peer is the client just connected.
    auto check = [&](const std::string& form, const auto& s, const typename tcp::endpoint& client,
                     const error_code& ec = {}) {
      r.expect(form + ": ec", ec, {});
      r.expect(form + ": peer", s.is_open() && s.remote_endpoint() == client, true);
    };
    typename tcp::endpoint ep;
    error_code ec;
    {
      typename tcp::socket p(ctx);
      auto c = connect();
      acc.accept(p);
      check("accept(peer)", p, c);
    }
    {
      typename tcp::socket p(ctx);
      auto c = connect();
      acc.accept(p, ec);
      check("accept(peer, ec)", p, c, ec);
    }
    {
      typename tcp::socket p(ex);
      auto c = connect();
      acc.accept(p, ep);
      check("accept(peer, endpoint)", p, c);
      r.expect("accept(peer, endpoint): endpoint", ep == c, true);
    }
    {
      typename tcp::socket p(ex);
      auto c = connect();
      acc.accept(p, ep, ec);
      check("accept(peer, endpoint, ec)", p, c, ec);
      r.expect("accept(peer, endpoint, ec): endpoint", ep == c, true);
    }
    auto c = connect();
    check("accept()", acc.accept(), c);
    c = connect();
    check("accept(ec)", acc.accept(ec), c, ec);
    c = connect();
    check("accept(ex)", acc.accept(ex), c);
    c = connect();
    check("accept(ex, ec)", acc.accept(ex, ec), c, ec);
    c = connect();
    check("accept(ctx)", acc.accept(ctx), c);
    c = connect();
    check("accept(ctx, ec)", acc.accept(ctx, ec), c, ec);
    c = connect();
    check("accept(endpoint)", acc.accept(ep), c);
    r.expect("accept(endpoint): endpoint", ep == c, true);
    c = connect();
    check("accept(endpoint, ec)", acc.accept(ep, ec), c, ec);
    c = connect();
    check("accept(ex, endpoint)", acc.accept(ex, ep), c);
    r.expect("accept(ex, endpoint): endpoint", ep == c, true);
    c = connect();
    check("accept(ctx, endpoint)", acc.accept(ctx, ep), c);
    c = connect();
    check("accept(ctx, endpoint, ec)", acc.accept(ctx, ep, ec), c, ec);
    r.expect("accept(ctx, endpoint, ec): endpoint", ep == c, true);
    // accept(ex, endpoint, ec) does not compile with Asio 1.26 (its executor
    // type cannot be deduced); nanorun's works, tested below.
  });
}

BOOST_AUTO_TEST_CASE(accept_ex_endpoint_ec_works_on_nanorun)
{
  nanorun::io_context ctx;
  nanorun::ip::tcp::acceptor acc(ctx, loopback());
  nanorun::ip::tcp::socket c(ctx);
  c.connect(acc.local_endpoint());
  nanorun::ip::tcp::endpoint ep;
  error_code ec = asio::error::fault;
  auto s = acc.accept(ctx.get_executor(), ep, ec);
  static_assert(std::is_same_v<decltype(s), nanorun::basic_stream_socket<nanorun::ip::tcp, nanorun::io_context::executor_type>>);
  BOOST_TEST(!ec);
  BOOST_TEST(ep == c.local_endpoint());
  BOOST_TEST(s.remote_endpoint() == c.local_endpoint());
}

// Each asynchronous accept form; the handlers' parameter types are those of
// the completion signature.
BOOST_AUTO_TEST_CASE(asynchronous_accept_forms)
{
  same_on_both([](auto set, record& r) {
    using S = decltype(set);
    using tcp = typename S::tcp;
    using ctx_ex = typename S::context::executor_type;
    using socket = typename tcp::socket;
    using ctx_socket = typename socket::template rebind_executor<ctx_ex>::other;
    typename S::context ctx;
    const ctx_ex ex = ctx.get_executor();
    typename tcp::acceptor acc(ctx, loopback());
    std::vector<socket> clients;
    typename tcp::endpoint c, ep;
    error_code ec;
    bool peer_ok = false;
    auto connect = [&] {
      clients.emplace_back(ctx);
      clients.back().connect(acc.local_endpoint());
      c = clients.back().local_endpoint();
      ec = asio::error::fault;
      peer_ok = false;
    };
    auto done = [&](const std::string& form) {
      run(ctx);
      r.expect(form + ": ec", ec, {});
      r.expect(form + ": peer", peer_ok, true);
    };
    auto moved = [&](error_code e, auto s) {
      ec = e;
      peer_ok = s.is_open() && s.remote_endpoint() == c;
      return s;
    };

    socket p1(ctx), p2(ctx);
    connect();
    acc.async_accept(p1, [&](error_code e) { ec = e, peer_ok = p1.remote_endpoint() == c; });
    done("async_accept(peer)");
    connect();
    acc.async_accept(p2, ep, [&](error_code e) { ec = e, peer_ok = p2.remote_endpoint() == c && ep == c; });
    done("async_accept(peer, endpoint)");
    connect();
    acc.async_accept([&](error_code e, socket s) { moved(e, std::move(s)); });
    done("async_accept()");
    connect();
    acc.async_accept(ex, [&](error_code e, ctx_socket s) { moved(e, std::move(s)); });
    done("async_accept(ex)");
    connect();
    acc.async_accept(ctx, [&](error_code e, ctx_socket s) { moved(e, std::move(s)); });
    done("async_accept(ctx)");
    connect();
    acc.async_accept(ep, [&](error_code e, socket s) { moved(e, std::move(s)), peer_ok = peer_ok && ep == c; });
    done("async_accept(endpoint)");
    connect();
    acc.async_accept(ex, ep, [&](error_code e, ctx_socket s) { moved(e, std::move(s)), peer_ok = peer_ok && ep == c; });
    done("async_accept(ex, endpoint)");
    connect();
    acc.async_accept(ctx, ep, [&](error_code e, ctx_socket s) { moved(e, std::move(s)), peer_ok = peer_ok && ep == c; });
    done("async_accept(ctx, endpoint)");
  });
}

// The errors of every accept form, in Asio's order: an open peer is
// already_open before a closed acceptor is bad_descriptor.
BOOST_AUTO_TEST_CASE(accept_errors)
{
  same_on_both([](auto set, record& r) {
    using S = decltype(set);
    using tcp = typename S::tcp;
    typename S::context ctx;
    const auto ex = ctx.get_executor();
    typename tcp::acceptor closed(ctx);
    typename tcp::socket peer(ctx), open_peer(ctx, tcp::v4());
    typename tcp::endpoint ep;
    error_code ec;
    closed.accept(peer, ec);
    r.expect("accept(peer, ec), closed acceptor", ec, asio::error::bad_descriptor);
    closed.accept(open_peer, ec);
    r.expect("accept(open peer, ec), closed acceptor", ec, asio::error::already_open);
    closed.accept(peer, ep, ec);
    r.expect("accept(peer, endpoint, ec)", ec, asio::error::bad_descriptor);
    r.expect("accept(ec) returns a closed socket", closed.accept(ec).is_open(), false);
    r.expect("accept(ec)", ec, asio::error::bad_descriptor);
    closed.accept(ex, ec);
    r.expect("accept(ex, ec)", ec, asio::error::bad_descriptor);
    closed.accept(ctx, ec);
    r.expect("accept(ctx, ec)", ec, asio::error::bad_descriptor);
    closed.accept(ep, ec);
    r.expect("accept(endpoint, ec)", ec, asio::error::bad_descriptor);
    closed.accept(ctx, ep, ec);
    r.expect("accept(ctx, endpoint, ec)", ec, asio::error::bad_descriptor);
    try
    {
      closed.accept(ctx);
      r("accept(ctx) throws", false);
    }
    catch (const boost::system::system_error& e)
    {
      r.expect("accept(ctx) throws", e.code(), asio::error::bad_descriptor);
    }
    error_code e1 = asio::error::fault, e2 = asio::error::fault, e3 = asio::error::fault;
    bool s3_open = true;
    closed.async_accept(peer, [&](error_code e) { e1 = e; });
    typename tcp::acceptor listening(ctx, loopback());
    listening.async_accept(open_peer, [&](error_code e) { e2 = e; });
    closed.async_accept(ctx, [&](error_code e, auto s) { e3 = e, s3_open = s.is_open(); });
    run(ctx);
    r.expect("async_accept(peer), closed acceptor", e1, asio::error::bad_descriptor);
    r.expect_unless_iocp("async_accept(open peer)", e2, asio::error::already_open);
    r.expect("async_accept(ctx), closed acceptor", e3, asio::error::bad_descriptor);
    r.expect("async_accept(ctx) hands out a closed socket", s3_open, false);
  });
}

BOOST_AUTO_TEST_SUITE_END()
