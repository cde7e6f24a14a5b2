// What nanorun's sockets and acceptors do, next to what Asio's do (see
// io_sets.hpp): the members with their flags, the error codes of the error
// paths, socket options as Asio reports them, io_control, and the two
// non-blocking modes.
#include "conformance/io_sets.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/read.hpp>
#include <boost/system/system_error.hpp>

#include <cstring>
#include <string>
#if defined(_WIN32)
#include <winsock2.h> // FIONBIO
#else
#include <sys/ioctl.h>
#endif

using namespace io_sets;

namespace {

// A user-defined io_control command: FIONBIO, which both libraries must
// treat as setting the non-blocking mode.
struct set_fionbio
{
#if defined(_WIN32)
  using value_type = u_long; // what ioctlsocket takes, and Asio there
#else
  using value_type = int;
#endif
  value_type value;
  int name() const { return static_cast<int>(FIONBIO); }
  value_type* data() { return &value; }
};

// A bound TCP socket that does not listen: connecting to it is refused.
template <class S>
struct refusing_port
{
  explicit refusing_port(typename S::context& ctx) : sock(ctx, loopback()) {}
  typename S::tcp::endpoint endpoint() const { return sock.local_endpoint(); }
  typename S::tcp::socket sock;
};

} // namespace

BOOST_AUTO_TEST_SUITE(conformance_io_object_semantics)

BOOST_AUTO_TEST_CASE(socket_members_with_flags)
{
  same_on_both([](auto set, record& r) {
    using S = decltype(set);
    using socket = typename S::tcp::socket;
    typename S::context ctx;
    tcp_pair<S> p(ctx);
    char buf[16] = {};
    error_code ec;

    r("send", p.client.send(asio::buffer("0123456789", 10)));
    p.server.wait(socket::wait_read);
    typename socket::bytes_readable readable(true);
    p.server.io_control(readable);
    r.expect("bytes_readable after 10 bytes", readable.get() == 10u, true);
    r("available", p.server.available());
    // Winsock's SIOCATMARK is true while no urgent byte is pending, the
    // reverse of BSD's; both libraries pass on what it says.
    r.expect_os("at_mark", p.server.at_mark(), false, true);
    r("receive(peek)", p.server.receive(asio::buffer(buf), socket::message_peek));
    r("available after a peek", p.server.available());
    r("receive(4, flags 0)", p.server.receive(asio::buffer(buf, 4), 0));
    r("read_some", p.server.read_some(asio::buffer(buf)));
    r("read bytes", std::string(buf, 6));

    r("send(flags, ec)", p.client.send(asio::buffer("ab", 2), 0, ec));
    r("write_some", p.client.write_some(asio::buffer("cd", 2)));
    r("empty receive", p.server.receive(asio::buffer(buf, 0), 0, ec));
    r("empty receive ec", ec);
    r("read 4", asio::read(p.server, asio::buffer(buf, 4)));
    r("read bytes", std::string(buf, 4));

    // Asynchronous, with flags: a peek leaves the bytes for the next read.
    std::size_t n1 = 99, n2 = 99, n3 = 99;
    error_code e1 = asio::error::fault, e2 = asio::error::fault, e3 = asio::error::fault;
    p.client.async_send(asio::buffer("xyz", 3), 0, [&](error_code e, std::size_t n) { e1 = e, n1 = n; });
    run(ctx);
    p.server.wait(socket::wait_read);
    p.server.async_receive(asio::buffer(buf), socket::message_peek, [&](error_code e, std::size_t n) {
      e2 = e, n2 = n;
      p.server.async_receive(asio::buffer(buf), 0, [&](error_code e0, std::size_t m) { e3 = e0, n3 = m; });
    });
    run(ctx);
    r("async_send(flags)", e1);
    r("async_send bytes", n1);
    r("async_receive(peek)", e2);
    r("async_receive(peek) bytes", n2);
    r("async_receive(flags 0)", e3);
    r("async_receive bytes", n3);

    // A receive that has to wait for its data.
    n1 = 99;
    e1 = asio::error::fault;
    p.server.async_receive(asio::buffer(buf), 0, [&](error_code e, std::size_t n) { e1 = e, n1 = n; });
    p.client.async_send(asio::buffer("later", 5), [](error_code, std::size_t) {});
    run(ctx);
    r("a receive that waited", e1);
    r("a receive that waited: data", std::string(buf, n1 == 5 ? 5 : 0));

    // Out-of-band: waited for, and read apart from the stream.
    n1 = 99;
    e1 = asio::error::fault;
    p.server.async_receive(asio::buffer(buf), socket::message_out_of_band,
                           [&](error_code e, std::size_t n) { e1 = e, n1 = n; });
    p.client.send(asio::buffer("u", 1), socket::message_out_of_band);
    run(ctx);
    r("async_receive(out of band)", e1);
    r("out-of-band bytes", n1);
    r("out-of-band byte", std::string(buf, n1 == 1 ? 1 : 0));
    r("at_mark after the urgent byte", p.server.at_mark());

    p.client.shutdown(socket::shutdown_send);
    p.server.read_some(asio::buffer(buf), ec);
    r.expect("read after the peer's shutdown", ec, asio::error::eof);
    p.server.shutdown(socket::shutdown_both, ec);
    r.expect("shutdown(both)", ec, {});
  });
}

BOOST_AUTO_TEST_CASE(socket_error_codes)
{
  same_on_both([](auto set, record& r) {
    using S = decltype(set);
    using tcp = typename S::tcp;
    using socket = typename tcp::socket;
    typename S::context ctx;
    socket closed(ctx);
    char buf[4];
    error_code ec;
    closed.send(asio::buffer("x", 1), 0, ec);
    r.expect("send on closed", ec, asio::error::bad_descriptor);
    closed.receive(asio::buffer(buf), 0, ec);
    r.expect("receive on closed", ec, asio::error::bad_descriptor);
    closed.available(ec);
    r.expect("available on closed", ec, asio::error::bad_descriptor);
    closed.at_mark(ec);
    r.expect("at_mark on closed", ec, asio::error::bad_descriptor);
    closed.shutdown(socket::shutdown_both, ec);
    r.expect("shutdown on closed", ec, asio::error::bad_descriptor);
    closed.remote_endpoint(ec);
    r.expect("remote_endpoint on closed", ec, asio::error::bad_descriptor);
    closed.local_endpoint(ec);
    r.expect("local_endpoint on closed", ec, asio::error::bad_descriptor);
    typename socket::bytes_readable br;
    closed.io_control(br, ec);
    r.expect("io_control on closed", ec, asio::error::bad_descriptor);
    closed.cancel(ec);
    r.expect("cancel on closed", ec, asio::error::bad_descriptor);
    closed.release(ec);
    r.expect("release on closed", ec, asio::error::bad_descriptor);
    closed.wait(socket::wait_read, ec);
    r.expect("wait on closed", ec, asio::error::bad_descriptor);
    closed.bind(loopback(), ec);
    r.expect("bind on closed", ec, asio::error::bad_descriptor);
    r.expect("close on closed", closed.close(ec), {});
    socket open(ctx, tcp::v4());
    open.open(tcp::v4(), ec);
    r.expect("open twice", ec, asio::error::already_open);
    open.assign(tcp::v4(), 0, ec);
    r.expect("assign to an open socket", ec, asio::error::already_open);
    try
    {
      closed.available();
      r("available() throws", false);
    }
    catch (const boost::system::system_error& e)
    {
      r.expect("available() throws", e.code(), asio::error::bad_descriptor);
    }

    refusing_port<S> refusing(ctx);
    socket c(ctx);
    c.connect(refusing.endpoint(), ec);
    r.expect("connect refused", ec, asio::error::connection_refused);
    socket c2(ctx);
    error_code e1 = asio::error::fault, e2 = asio::error::fault, e3 = asio::error::fault, e4 = asio::error::fault;
    std::size_t n4 = 99;
    c2.async_connect(refusing.endpoint(), [&](error_code e) { e1 = e; });
    closed.async_receive(asio::buffer(buf), 0, [&](error_code e, std::size_t) { e2 = e; });
    closed.async_wait(socket::wait_read, [&](error_code e) { e3 = e; });
    tcp_pair<S> p(ctx);
    p.server.async_receive(asio::buffer(buf, 0), [&](error_code e, std::size_t n) { e4 = e, n4 = n; });
    run(ctx);
    r.expect("async_connect refused", e1, asio::error::connection_refused);
    r.expect("async_receive on closed", e2, asio::error::bad_descriptor);
    r.expect("async_wait on closed", e3, asio::error::bad_descriptor);
    r.expect("empty async_receive", e4, {});
    r("empty async_receive bytes", n4);
    p.client.close();
    p.server.read_some(asio::buffer(buf), ec);
    r.expect("read after the peer closed", ec, asio::error::eof);
  });
}

// Options at Asio's levels, read back as Asio reports them (Linux's doubled
// buffer sizes halved; enable_connection_aborted kept in user space).
BOOST_AUTO_TEST_CASE(options_as_asio_reports_them)
{
  same_on_both([](auto set, record& r) {
    using S = decltype(set);
    using tcp = typename S::tcp;
    using socket = typename tcp::socket;
    typename S::context ctx;
    tcp_pair<S> p(ctx);
    auto options = [&r](auto& o, const std::string& what) {
      typename socket::receive_buffer_size rb(8192);
      o.set_option(rb);
      o.get_option(rb);
      r(what + " receive_buffer_size(8192)", rb.value());
      typename socket::send_buffer_size sb(16384);
      o.set_option(sb);
      o.get_option(sb);
      r(what + " send_buffer_size(16384)", sb.value());
      typename socket::enable_connection_aborted eca(true);
      o.set_option(eca);
      eca = typename socket::enable_connection_aborted(false);
      o.get_option(eca);
      r.expect(what + " enable_connection_aborted set", eca.value(), true);
      o.set_option(typename socket::enable_connection_aborted(false));
      o.get_option(eca);
      r.expect(what + " enable_connection_aborted cleared", eca.value(), false);
      typename socket::linger l(true, 7);
      o.set_option(l);
      l = typename socket::linger(false, 0);
      o.get_option(l);
      r(what + " linger", l.enabled() && l.timeout() == 7);
      typename socket::keep_alive ka(true);
      o.set_option(ka);
      o.get_option(ka);
      r(what + " keep_alive", ka.value());
      typename socket::reuse_address ra(true);
      o.set_option(ra);
      o.get_option(ra);
      r(what + " reuse_address", ra.value());
    };
    options(p.server, "socket");
    options(p.acceptor, "acceptor");
    typename tcp::no_delay nd(true);
    p.client.set_option(nd);
    p.client.get_option(nd);
    r("no_delay", nd.value());
    // A linger set by the user does not make the destructor block.
    p.server.set_option(typename socket::linger(true, 30));

    error_code ec;
    typename socket::bytes_readable br;
    p.acceptor.io_control(br, ec);
    r("bytes_readable on a listening socket", ec);
    socket closed(ctx);
    typename socket::enable_connection_aborted eca(true);
    closed.set_option(eca, ec);
    r.expect("set_option on closed", ec, asio::error::bad_descriptor);
    closed.get_option(eca, ec);
    r.expect("get_option on closed", ec, asio::error::bad_descriptor);
  });
}

// non_blocking() and native_non_blocking(), and how they interact. The one
// difference, a freshly opened socket's native mode (nanorun: true; Asio:
// false until the first asynchronous operation), is not compared.
BOOST_AUTO_TEST_CASE(non_blocking_modes)
{
  same_on_both([](auto set, record& r) {
    using S = decltype(set);
    using tcp = typename S::tcp;
    using socket = typename tcp::socket;
    typename S::context ctx;
    tcp_pair<S> p(ctx);
    socket& s = p.server;
    char buf[8];
    error_code ec;

    s.non_blocking(true);
    r.expect("non_blocking(true)", s.non_blocking(), true);
    s.native_non_blocking(false, ec);
    r.expect("native_non_blocking(false) while non_blocking", ec, asio::error::invalid_argument);
    s.read_some(asio::buffer(buf), ec);
    r.expect("read with nothing to read", ec, asio::error::would_block);
    s.wait(socket::wait_read, ec);
    r.expect("wait with nothing to read", ec, asio::error::would_block);
    s.non_blocking(false);
    r.expect("non_blocking(false)", s.non_blocking(), false);
    s.native_non_blocking(false, ec);
    r.expect("native_non_blocking(false)", ec, {});
    r.expect("native mode cleared", s.native_non_blocking(), false);
    s.native_non_blocking(true);
    r.expect("native_non_blocking(true)", s.native_non_blocking(), true);

    // A blocking descriptor is made non-blocking again for an asynchronous
    // operation, which still completes.
    s.native_non_blocking(false);
    p.client.send(asio::buffer("nb", 2));
    error_code e = asio::error::fault;
    std::size_t n = 0;
    s.async_read_some(asio::buffer(buf), [&](error_code e0, std::size_t m) { e = e0, n = m; });
    run(ctx);
    r.expect("async read on a blocking descriptor", e, {});
    r("async read bytes", n);
    r.expect_unless_iocp("native mode after an async operation", s.native_non_blocking(), true);

    // A blocking descriptor handed over is made non-blocking by the first
    // asynchronous operation, before it tries anything.
    socket handed(ctx);
    {
      using R = typename release_source<S>::type;
      typename R::context tmp_ctx;
      typename R::tcp::socket tmp(tmp_ctx);
      tmp.connect(p.acceptor.local_endpoint());
      tmp.native_non_blocking(false);
      handed.assign(tcp::v4(), tmp.release());
    }
    r.expect("an assigned blocking descriptor", handed.native_non_blocking(), false);
    socket peer(ctx);
    p.acceptor.accept(peer);
    e = asio::error::fault;
    n = 0;
    handed.async_read_some(asio::buffer(buf), [&](error_code e0, std::size_t m) { e = e0, n = m; });
    r.expect_unless_iocp("made non-blocking by async_read_some", handed.native_non_blocking(), true);
    peer.send(asio::buffer("hand", 4));
    run(ctx);
    r.expect("its read", e, {});
    r("its read bytes", n);

    // FIONBIO through io_control sets the modes as Asio records them.
    set_fionbio on{1}, off{0};
    s.io_control(on);
    r.expect("FIONBIO 1: non_blocking", s.non_blocking(), true);
    s.io_control(off);
    r.expect("FIONBIO 0: non_blocking", s.non_blocking(), false);
    r.expect("FIONBIO 0: native", s.native_non_blocking(), false);

    // A synchronous connect waits for the connection even when non-blocking.
    socket c(ctx, tcp::v4());
    c.non_blocking(true);
    c.connect(p.acceptor.local_endpoint(), ec);
    r.expect("connect with non_blocking(true)", ec, {});
    p.acceptor.wait(tcp::acceptor::wait_read);
    p.acceptor.non_blocking(true);
    r.expect("acceptor non_blocking", p.acceptor.non_blocking(), true);
    p.acceptor.native_non_blocking(false, ec);
    r.expect("acceptor native false while non_blocking", ec, asio::error::invalid_argument);
    socket accepted(ctx);
    p.acceptor.accept(accepted, ec);
    r.expect("non-blocking accept of a pending connection", ec, {});
    socket none(ctx);
    p.acceptor.accept(none, ec);
    r.expect("non-blocking accept with nothing pending", ec, asio::error::would_block);

    socket closed(ctx);
    closed.non_blocking(true, ec);
    r.expect("non_blocking on closed", ec, asio::error::bad_descriptor);
    closed.native_non_blocking(true, ec);
    r.expect("native_non_blocking on closed", ec, asio::error::bad_descriptor);
  });
}

BOOST_AUTO_TEST_CASE(acceptor_members)
{
  same_on_both([](auto set, record& r) {
    using S = decltype(set);
    using tcp = typename S::tcp;
    typename S::context ctx;
    error_code ec;
    typename tcp::acceptor acc(ctx, tcp::v4());
    acc.bind(loopback());
    r.expect("listen(backlog)", acc.listen(5, ec), {});
    typename tcp::socket c(ctx);
    c.connect(acc.local_endpoint());
    acc.wait(tcp::acceptor::wait_read, ec);
    r.expect("wait(read) with a pending connection", ec, {});
    error_code waited = asio::error::fault;
    acc.async_wait(tcp::acceptor::wait_read, [&](error_code e) { waited = e; });
    run(ctx);
    // (Asio's IOCP acceptor waits with a zero-byte receive: not_connected.)
    r.expect_unless_iocp("async_wait(read)", waited, error_code{});
    waited = asio::error::fault;
    typename tcp::acceptor idle(ctx, loopback());
    idle.async_wait(tcp::acceptor::wait_read, [&](error_code e) { waited = e; });
    idle.cancel();
    run(ctx);
    r.expect("cancel() aborts the wait", waited, asio::error::operation_aborted);

    using R = typename release_source<S>::type;
    typename R::context rctx;
    typename R::tcp::acceptor listening(rctx, loopback());
    typename tcp::socket c2(ctx);
    c2.connect(listening.local_endpoint());
    const auto fd = listening.release(); // -1, or INVALID_SOCKET (~0) on Windows, if none
    r.expect("release() gives the descriptor", fd != static_cast<decltype(fd)>(-1) && !listening.is_open(), true);
    typename tcp::acceptor adopted(ctx, tcp::v4(), fd);
    typename tcp::socket s(ctx);
    adopted.accept(s, ec);
    r.expect("an adopted listening descriptor accepts", ec, {});

    typename tcp::acceptor closed(ctx);
    closed.listen(5, ec);
    r.expect("listen on closed", ec, asio::error::bad_descriptor);
    closed.release(ec);
    r.expect("release on closed", ec, asio::error::bad_descriptor);
    closed.cancel(ec);
    r.expect("cancel on closed", ec, asio::error::bad_descriptor);
    closed.local_endpoint(ec);
    r.expect("local_endpoint on closed", ec, asio::error::bad_descriptor);
    closed.wait(tcp::acceptor::wait_read, ec);
    r.expect("wait on closed", ec, asio::error::bad_descriptor);
    typename tcp::acceptor::bytes_readable br;
    closed.io_control(br, ec);
    r.expect("io_control on closed", ec, asio::error::bad_descriptor);
  });
}

// A short receive with message_peek (or of the out-of-band byte) leaves the
// stream's data where it was: the next read must find it, not wait for a
// readiness event that already came. The pause lets the runtime's reactor
// take that event before the peek; the guard turns a hang into
// operation_aborted.
BOOST_AUTO_TEST_CASE(a_short_peek_or_out_of_band_read_does_not_drain)
{
  for (const bool oob : {false, true})
  {
    BOOST_TEST_CONTEXT("out of band: " << oob)
    {
      same_on_both([oob](auto set, record& r) {
        using S = decltype(set);
        using socket = typename S::tcp::socket;
        typename S::context ctx;
        tcp_pair<S> p(ctx);
        char buf[16] = {};
        p.client.send(asio::buffer("abcd", 4));
        if (oob)
          p.client.send(asio::buffer("u", 1), socket::message_out_of_band);
        p.server.wait(oob ? socket::wait_error : socket::wait_read);
        const auto flags = oob ? socket::message_out_of_band : socket::message_peek;
        typename S::steady_timer pause(ctx, std::chrono::milliseconds(1)), guard(ctx, limit);
        error_code first_ec = asio::error::fault, read_ec = asio::error::fault;
        std::size_t first = 0, read = 0;
        guard.async_wait([&](error_code e) {
          if (!e)
            p.server.cancel();
        });
        pause.async_wait([&](error_code) {
          p.server.async_receive(asio::buffer(buf), flags, [&](error_code e, std::size_t n) {
            first_ec = e, first = n;
            p.server.async_read_some(asio::buffer(buf), [&](error_code e2, std::size_t m) {
              read_ec = e2, read = m;
              guard.cancel();
            });
          });
        });
        run(ctx);
        r.expect("first receive", first_ec, {});
        r("first receive bytes", first);
        r.expect("the read after it", read_ec, {});
        r("read bytes", read);
        r("read data", std::string(buf, read));
      });
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
