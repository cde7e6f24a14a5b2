// nanorun::ip::tcp::socket with every completion token Asio offers, and the
// handler's associated executor and allocator.
#include "unit/io/io_test_support.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/test/unit_test.hpp>

#include <future>
#include <string>
#include <thread>
#include <tuple>

using namespace io_test;

BOOST_AUTO_TEST_SUITE(io_socket_tokens)

BOOST_AUTO_TEST_CASE(every_completion_token)
{
  nanorun::runtime rt(1);
  tcp_pair p = connected_pair(rt);
  background bg(rt);
  char buf[64];

  // use_future
  std::future<std::size_t> rf = p.server.async_read_some(asio::buffer(buf), asio::use_future);
  std::future<std::size_t> wf = p.client.async_write_some(asio::buffer("future", 6), asio::use_future);
  BOOST_TEST(wf.get() == 6u);
  BOOST_TEST(rf.get() == 6u);
  BOOST_TEST(std::string(buf, 6) == "future");

  // redirect_error with a callback
  {
    error_code ec = unset;
    std::promise<std::size_t> done;
    p.server.async_read_some(asio::buffer(buf),
                             asio::redirect_error([&](std::size_t n) { done.set_value(n); }, ec));
    p.client.write_some(asio::buffer("redir", 5));
    BOOST_TEST(done.get_future().get() == 5u);
    BOOST_TEST(!ec);
  }

  // as_tuple with a callback
  {
    std::promise<std::tuple<error_code, std::size_t>> done;
    p.server.async_read_some(asio::buffer(buf), asio::as_tuple([&](std::tuple<error_code, std::size_t> t) {
                               done.set_value(t);
                             }));
    p.client.write_some(asio::buffer("tuple", 5));
    auto [ec, n] = done.get_future().get();
    BOOST_TEST(!ec);
    BOOST_TEST(n == 5u);
  }

  // deferred: nothing happens until the operation is launched.
  {
    auto op = p.server.async_read_some(asio::buffer(buf), asio::deferred);
    p.client.write_some(asio::buffer("def", 3));
    wait_readable(p.server);
    std::this_thread::sleep_for(5ms);
    BOOST_TEST(p.server.available() == 3u); // not read: not started
    std::promise<std::size_t> done;
    std::move(op)([&](error_code ec, std::size_t n) {
      BOOST_TEST(!ec);
      done.set_value(n);
    });
    BOOST_TEST(done.get_future().get() == 3u);
  }

  // detached
  {
    p.client.async_write_some(asio::buffer("det", 3), asio::detached);
    wait_readable(p.server);
    BOOST_TEST(p.server.read_some(asio::buffer(buf)) == 3u);
  }

  // use_awaitable, as_tuple(use_awaitable), redirect_error(use_awaitable)
  auto f = asio::co_spawn(
      rt,
      [&]() -> asio::awaitable<std::string> {
        std::string log;
        co_await p.client.async_write_some(asio::buffer("coro", 4), asio::use_awaitable);
        const std::size_t n = co_await p.server.async_read_some(asio::buffer(buf), asio::use_awaitable);
        log += std::string(buf, n) + ";";
        co_await p.client.async_write_some(asio::buffer("tup", 3), asio::use_awaitable);
        auto [ec, n2] = co_await p.server.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
        log += (ec ? "error" : std::string(buf, n2)) + ";";
        p.client.shutdown(tcp::socket::shutdown_send);
        error_code rec = unset;
        co_await p.server.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, rec));
        log += rec == asio::error::eof ? "eof;" : "not eof;";
        try
        {
          co_await p.server.async_read_some(asio::buffer(buf), asio::use_awaitable);
          log += "no throw;";
        }
        catch (const boost::system::system_error& e)
        {
          log += e.code() == asio::error::eof ? "threw eof" : "threw other";
        }
        co_return log;
      },
      asio::use_future);
  BOOST_TEST(f.get() == "coro;tup;eof;threw eof");

  // use_future with an error: the future throws.
  std::future<std::size_t> ef = p.server.async_read_some(asio::buffer(buf), asio::use_future);
  BOOST_CHECK_EXCEPTION(ef.get(), boost::system::system_error,
                        [](const boost::system::system_error& e) { return e.code() == asio::error::eof; });
  bg.finish();
}

BOOST_AUTO_TEST_CASE(handlers_run_on_their_associated_executor)
{
  nanorun::runtime rt(2);
  auto strand = asio::make_strand(rt.get_executor());
  tcp_pair plain = connected_pair(rt);
  tcp_pair stranded = connected_pair(asio::any_io_executor(strand)); // the strand is the I/O executor
  background bg(rt, 2);
  char buf[16], buf2[16];
  for (int i = 0; i < 20; ++i)
  {
    std::promise<bool> bound, io_exec, write_bound;
    // A handler bound to the strand, on a socket of the plain executor.
    plain.server.async_read_some(asio::buffer(buf), asio::bind_executor(strand, [&](error_code ec, std::size_t) {
                                   bound.set_value(!ec && strand.running_in_this_thread());
                                 }));
    // A handler of its own on a socket whose executor is the strand.
    stranded.server.async_read_some(asio::buffer(buf2), [&](error_code ec, std::size_t) {
      io_exec.set_value(!ec && strand.running_in_this_thread());
    });
    plain.client.async_write_some(asio::buffer("s", 1), asio::bind_executor(strand, [&](error_code ec, std::size_t) {
                                    write_bound.set_value(!ec && strand.running_in_this_thread());
                                  }));
    stranded.client.write_some(asio::buffer("t", 1));
    BOOST_TEST(bound.get_future().get());
    BOOST_TEST(io_exec.get_future().get());
    BOOST_TEST(write_bound.get_future().get());
  }
  // A coroutine on the strand resumes on it after every socket operation.
  auto f = asio::co_spawn(
      strand,
      [&]() -> asio::awaitable<bool> {
        bool all = true;
        for (int i = 0; i < 10; ++i)
        {
          co_await plain.client.async_write_some(asio::buffer("c", 1), asio::use_awaitable);
          all = all && strand.running_in_this_thread();
          co_await plain.server.async_read_some(asio::buffer(buf), asio::use_awaitable);
          all = all && strand.running_in_this_thread();
        }
        co_return all;
      },
      asio::use_future);
  BOOST_TEST(f.get());
  bg.finish();
}

BOOST_AUTO_TEST_CASE(operations_allocate_with_the_associated_allocator)
{
  nanorun::runtime rt(1);
  tcp::acceptor acc(rt, loopback());
  tcp_pair p = connected_pair(rt);
  tcp::socket c(rt);
  alloc_counts counts;
  const counting_allocator<void> alloc(counts);
  char buf[16];
  outcome r, w, cn, wt;
  p.server.async_read_some(asio::buffer(buf), asio::bind_allocator(alloc, r.handler()));
  BOOST_TEST(counts.allocations.load() >= 1); // the pending read's memory
  p.client.async_write_some(asio::buffer("alloc", 5), asio::bind_allocator(alloc, w.handler()));
  c.async_connect(acc.local_endpoint(), asio::bind_allocator(alloc, cn.handler()));
  p.client.async_wait(tcp::socket::wait_write, asio::bind_allocator(alloc, wt.handler()));
  BOOST_TEST(counts.allocations.load() >= 4);
  rt.run_for(limit);
  for (outcome* o : {&r, &w, &cn, &wt})
  {
    BOOST_TEST(o->calls == 1);
    BOOST_TEST(!o->ec);
  }
  BOOST_TEST(counts.deallocations.load() == counts.allocations.load());
}

BOOST_AUTO_TEST_SUITE_END()
