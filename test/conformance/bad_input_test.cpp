// Bad input at the public entry points, side by side with Asio (see
// io_sets.hpp): an empty executor, zero-length and very large buffers, an
// endpoint of the wrong family; and, where Asio has no rule, nanorun's own
// (a foreign executor, join_handle::get on a worker of its own runtime).
// doc/bad-input.md lists every case with its outcome and where it is tested.
#include "conformance/io_sets.hpp"

#include <nanorun/join_handle.hpp>
#include <nanorun/runtime.hpp>
#include <nanorun/spawn.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/execution/bad_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace io_sets;

namespace {

// What constructing or calling `f` threw, as a word.
template <class F>
std::string thrown_by(F&& f)
{
  try
  {
    f();
    return "nothing";
  }
  catch (const asio::execution::bad_executor&)
  {
    return "bad_executor";
  }
  catch (const boost::system::system_error& e)
  {
    return "system_error " + text(e.code());
  }
  catch (const std::invalid_argument&)
  {
    return "invalid_argument";
  }
  catch (const std::logic_error&)
  {
    return "logic_error";
  }
  catch (const std::exception& e)
  {
    return std::string("other: ") + e.what();
  }
}

std::uint64_t fnv1a(const std::vector<unsigned char>& v)
{
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : v)
    h = (h ^ c) * 0x100000001b3ull;
  return h;
}

} // namespace

BOOST_AUTO_TEST_SUITE(conformance_bad_input)

BOOST_AUTO_TEST_CASE(io_objects_from_an_empty_executor_throw_bad_executor)
{
  // nanorun only: Asio 1.26's own I/O objects, given a default-constructed
  // any_io_executor, query its context through a null target and crash.
  // nanorun refuses it the way Asio refuses to execute on one.
  const asio::any_io_executor empty;
  BOOST_TEST(thrown_by([&] { nanorun::ip::tcp::socket s(empty); }) == "bad_executor");
  BOOST_TEST(thrown_by([&] { nanorun::ip::tcp::acceptor a(empty); }) == "bad_executor");
  BOOST_TEST(thrown_by([&] { nanorun::ip::udp::socket s(empty); }) == "bad_executor");
  BOOST_TEST(thrown_by([&] { nanorun::steady_timer t(empty); }) == "bad_executor");
  BOOST_TEST(thrown_by([&] { nanorun::ip::tcp::resolver res(empty); }) == "bad_executor");
  // What Asio itself does with an empty executor asked to run work (its
  // post() crashes there too, on the same null target).
  BOOST_TEST(thrown_by([&] { empty.execute([] {}); }) == "bad_executor");
}

BOOST_AUTO_TEST_CASE(zero_length_buffers_complete_at_once_with_nothing_transferred)
{
  same_on_both([](auto set, record& r) {
    using S = decltype(set);
    typename S::context ctx;
    tcp_pair<S> p(ctx);
    error_code ec;
    r("write_some(empty)", p.client.write_some(asio::mutable_buffer(), ec));
    r("write_some(empty) ec", ec);
    r("read_some(empty)", p.server.read_some(asio::mutable_buffer(), ec));
    r("read_some(empty) ec", ec);
    error_code read_ec = asio::error::would_block, write_ec = asio::error::would_block;
    std::size_t read_n = 99, write_n = 99;
    p.server.async_read_some(asio::mutable_buffer(), [&](error_code e, std::size_t n) {
      read_ec = e;
      read_n = n;
    });
    p.client.async_write_some(asio::const_buffer(), [&](error_code e, std::size_t n) {
      write_ec = e;
      write_n = n;
    });
    run(ctx);
    r("async_read_some(empty)", read_ec);
    r("async_read_some(empty) bytes", read_n);
    r("async_write_some(empty)", write_ec);
    r("async_write_some(empty) bytes", write_n);
    // And the stream is still usable afterwards.
    r("then send", p.client.send(asio::buffer("x", 1)));
    char c = 0;
    r("then receive", p.server.receive(asio::buffer(&c, 1)));
    r.expect("byte", c == 'x', true);
  });
}

BOOST_AUTO_TEST_CASE(a_very_large_buffer_is_transferred_whole)
{
  same_on_both([](auto set, record& r) {
    using S = decltype(set);
    typename S::context ctx;
    tcp_pair<S> p(ctx);
    constexpr std::size_t size = 32u << 20; // far beyond any socket buffer
    std::vector<unsigned char> out(size), in(size);
    std::uint64_t x = 12345;
    for (auto& b : out)
    {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      b = static_cast<unsigned char>(x >> 56);
    }
    error_code wec = asio::error::would_block, rec = asio::error::would_block;
    std::size_t wn = 0, rn = 0;
    asio::async_write(p.client, asio::buffer(out), [&](error_code e, std::size_t n) {
      wec = e;
      wn = n;
    });
    asio::async_read(p.server, asio::buffer(in), [&](error_code e, std::size_t n) {
      rec = e;
      rn = n;
    });
    run(ctx);
    r("async_write", wec);
    r.expect("all written", wn == size, true);
    r("async_read", rec);
    r.expect("all read", rn == size, true);
    r.expect("same bytes", fnv1a(in) == fnv1a(out) && in == out, true);
  });
}

BOOST_AUTO_TEST_CASE(an_endpoint_of_the_wrong_family_is_refused_with_the_os_error)
{
  same_on_both([](auto set, record& r) {
    using S = decltype(set);
    using tcp = typename S::tcp;
    using udp = typename S::udp;
    typename S::context ctx;
    const typename tcp::endpoint v6(asio::ip::address_v6::loopback(), 9);
    const typename udp::endpoint v6u(asio::ip::address_v6::loopback(), 9);
    error_code ec;
    typename tcp::socket s(ctx, tcp::v4());
    s.connect(v6, ec);
    r("v4 socket, connect(v6)", ec);
    r("still open", s.is_open());
    typename tcp::socket s2(ctx, tcp::v4());
    s2.bind(v6, ec);
    r("v4 socket, bind(v6)", ec);
    typename tcp::socket s3(ctx, tcp::v4());
    error_code aec = asio::error::would_block;
    s3.async_connect(v6, [&](error_code e) { aec = e; });
    run(ctx);
    r("v4 socket, async_connect(v6)", aec);
    typename udp::socket u(ctx, udp::v4());
    const char byte = 0;
    u.send_to(asio::buffer(&byte, 1), v6u, 0, ec);
    r("v4 udp socket, send_to(v6)", ec);
    typename tcp::acceptor a(ctx, tcp::v4());
    a.bind(typename tcp::endpoint(asio::ip::address_v6::loopback(), 0), ec);
    r("v4 acceptor, bind(v6)", ec);
  });
}

BOOST_AUTO_TEST_CASE(an_executor_of_another_context_is_refused_with_invalid_argument)
{
  // Asio's I/O objects take any executor; nanorun's need a nanorun runtime
  // behind it and say so instead of failing later.
  asio::io_context io;
  BOOST_TEST(thrown_by([&] { nanorun::ip::tcp::socket s(io.get_executor()); }) == "invalid_argument");
  BOOST_TEST(thrown_by([&] { nanorun::steady_timer t(io.get_executor()); }) == "invalid_argument");
}

BOOST_AUTO_TEST_CASE(join_handle_get_on_a_worker_of_its_own_runtime_throws_logic_error)
{
  // On a worker of the task's runtime a blocking get() could wait for work
  // that only this thread would run: refused, whatever the thread count.
  nanorun::runtime rt(1);
  std::promise<std::string> outcome;
  asio::post(rt, [&] {
    auto h = nanorun::spawn(rt, []() -> asio::awaitable<int> { co_return 7; }());
    outcome.set_value(thrown_by([&] { (void)h.get(); }));
  });
  rt.run();
  BOOST_TEST(outcome.get_future().get() == "logic_error");
}

BOOST_AUTO_TEST_CASE(io_objects_outlive_their_runtime)
{
  // nanorun only: with io_context, an I/O object destroyed after its context
  // is undefined (it reaches into destroyed services). nanorun's are safe to
  // destroy, close and cancel after their runtime; what needs the runtime
  // (an asynchronous operation, registering a descriptor) fails with
  // operation_aborted; what needs only the descriptor works. ASan checks that
  // nothing here touches the runtime's freed memory.
  const std::string aborted = "system_error " + text(asio::error::operation_aborted);
  auto witness = std::make_shared<int>(0); // held by every pending handler
  boost::asio::cancellation_signal timer_signal, read_signal;
  std::optional<nanorun::steady_timer> timer, moved_from;
  std::optional<nanorun::ip::tcp::socket> reader, writer, never_opened, opened;
  std::optional<nanorun::ip::tcp::acceptor> acceptor;
  std::optional<nanorun::ip::udp::socket> udp;
  std::optional<nanorun::ip::tcp::resolver> resolver;
  char in[16] = {};
  int invoked = 0;
  {
    nanorun::runtime rt(1);
    timer.emplace(rt, std::chrono::hours(1));
    timer->async_wait(asio::bind_cancellation_slot(timer_signal.slot(), [&invoked, w = witness](error_code) {
      ++invoked;
    }));
    nanorun::steady_timer original(rt);
    moved_from.emplace(std::move(original));
    nanorun::steady_timer taker(std::move(*moved_from));
    acceptor.emplace(rt, loopback());
    reader.emplace(rt);
    reader->connect(acceptor->local_endpoint());
    writer.emplace(acceptor->accept());
    reader->async_read_some(asio::buffer(in), asio::bind_cancellation_slot(read_signal.slot(),
                                                                           [&invoked, w = witness](error_code, std::size_t) {
                                                                             ++invoked;
                                                                           }));
    never_opened.emplace(rt);
    opened.emplace(rt, nanorun::ip::tcp::v4());
    udp.emplace(rt, udp_loopback());
    resolver.emplace(rt);
    rt.poll();
    BOOST_TEST(witness.use_count() == 3);
  }
  // The runtime destroyed both waiting handlers without invoking them.
  BOOST_TEST(witness.use_count() == 1);
  BOOST_TEST(invoked == 0);

  // A signal for an operation the runtime destroyed finds nothing.
  timer_signal.emit(asio::cancellation_type::terminal);
  read_signal.emit(asio::cancellation_type::terminal);

  // Timers: nothing pending, the expiry is the timer's own, waits refused.
  BOOST_TEST(timer->cancel() == 0u);
  BOOST_TEST(timer->cancel_one() == 0u);
  BOOST_TEST(timer->expires_after(std::chrono::milliseconds(1)) == 0u);
  BOOST_TEST((timer->expiry() > nanorun::steady_timer::clock_type::now() - std::chrono::seconds(1)));
  BOOST_TEST(thrown_by([&] { timer->async_wait([&invoked, w = witness](error_code) { ++invoked; }); }) == aborted);
  BOOST_TEST(thrown_by([&] { moved_from->async_wait([&invoked](error_code) { ++invoked; }); }) == aborted);
  BOOST_TEST(witness.use_count() == 1); // the refused handler was not kept

  // Sockets: the descriptors are still the objects'; synchronous transfers
  // work, asynchronous ones and registrations are refused.
  BOOST_TEST(reader->is_open());
  error_code ec;
  reader->cancel(ec);
  BOOST_TEST(text(ec) == "ok");
  BOOST_TEST(asio::write(*writer, asio::buffer("ping", 4)) == 4u);
  BOOST_TEST(asio::read(*reader, asio::buffer(in, 4)) == 4u);
  BOOST_TEST(std::string(in, 4) == "ping");
  BOOST_TEST(thrown_by([&] { reader->async_read_some(asio::buffer(in), [&](error_code, std::size_t) { ++invoked; }); }) ==
             aborted);
  BOOST_TEST(thrown_by([&] { acceptor->async_accept([&](error_code, nanorun::ip::tcp::socket) { ++invoked; }); }) ==
             aborted);
  BOOST_TEST(thrown_by([&] { never_opened->async_connect(acceptor->local_endpoint(), [&](error_code) { ++invoked; }); }) ==
             aborted);
  // Refused before anything happens: no connection is left in progress.
  BOOST_TEST(thrown_by([&] { opened->async_connect(acceptor->local_endpoint(), [&](error_code) { ++invoked; }); }) ==
             aborted);
  opened->remote_endpoint(ec);
  BOOST_TEST(text(ec) == text(asio::error::not_connected));
  // accept() returning a new socket needs the runtime to build it: it throws
  // too, even in its error_code form.
  BOOST_TEST(thrown_by([&] { (void)acceptor->accept(ec); }) == aborted);
  never_opened->open(nanorun::ip::tcp::v4(), ec);
  BOOST_TEST(text(ec) == text(asio::error::operation_aborted));
  BOOST_TEST(!never_opened->is_open());
  BOOST_TEST(udp->local_endpoint().port() != 0);
  BOOST_TEST(thrown_by([&] { udp->async_receive(asio::buffer(in), [&](error_code, std::size_t) { ++invoked; }); }) ==
             aborted);
  // The resolver resolves synchronously, not asynchronously.
  BOOST_TEST(!resolver->resolve("127.0.0.1", "80").empty());
  BOOST_TEST(thrown_by([&] { resolver->async_resolve("127.0.0.1", "80", [&](error_code, auto) { ++invoked; }); }) ==
             aborted);

  // A later runtime may take the same anchor (and the same address): the
  // objects still know theirs is gone.
  {
    nanorun::runtime later(1);
    BOOST_TEST(thrown_by([&] { timer->async_wait([&](error_code) { ++invoked; }); }) == aborted);
    nanorun::steady_timer fresh(later, std::chrono::milliseconds(1));
    fresh.async_wait([&](error_code e) { invoked += e ? 100 : 1000; });
    later.run();
  }
  BOOST_TEST(invoked == 1000);

  // Closing sends the end of the stream; destroying every object is safe.
  reader->close(ec);
  BOOST_TEST(text(ec) == "ok");
  asio::read(*writer, asio::buffer(in, 1), ec);
  BOOST_TEST(text(ec) == text(asio::error::eof));
  asio::io_context io; // takes the released descriptor, and closes it
  asio::ip::tcp::socket adopted(io, asio::ip::tcp::v4(), writer->release());
  BOOST_TEST(!writer->is_open());
  timer.reset();
  moved_from.reset();
  reader.reset();
  writer.reset();
  never_opened.reset();
  opened.reset();
  acceptor.reset();
  udp.reset();
  resolver.reset();
}

BOOST_AUTO_TEST_SUITE_END()
