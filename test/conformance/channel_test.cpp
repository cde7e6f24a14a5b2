// Asio conformance: experimental::channel (one thread, or a strand under two
// threads) and experimental::concurrent_channel (producers and consumers on
// two threads) on a nanorun runtime; close, cancel and destruction produce
// Asio's error codes.
#include <nanorun/runtime.hpp>
#include "conformance/common.hpp"
#include <nanorun/spawn.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/experimental/channel_error.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/system/error_code.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <future>
#include <map>
#include <memory>
#include <thread>
#include <tuple>
#include <vector>

namespace asio = boost::asio;
namespace experimental = boost::asio::experimental;
using boost::system::error_code;

namespace {

using conformance::ex_t;
using conformance::n_awaitable;
using conformance::n_use_awaitable;

using any_channel = experimental::channel<void(error_code, int)>;
using n_channel = experimental::channel<ex_t, void(error_code, int)>;
using concurrent = experimental::concurrent_channel<void(error_code, int)>;

static_assert(std::is_same_v<n_channel::executor_type, ex_t>);

// What a consumer saw.
struct received
{
  std::vector<int> values;
  error_code final_error;
};

// Asio 1.26's close() drops buffered messages, so a producer that closes
// first waits for the consumer to drain the buffer (single thread or strand).
template <class Channel, class Token>
auto drain_then_close(Channel& ch, Token token) -> decltype(asio::post(ch.get_executor(), token))
{
  while (ch.ready())
    co_await asio::post(ch.get_executor(), token);
  ch.close();
}

template <class Channel>
asio::awaitable<void> produce(Channel& ch, int first, int count, bool close_after)
{
  for (int i = first; i < first + count; ++i)
    co_await ch.async_send(error_code{}, i, asio::use_awaitable);
  if (close_after)
    co_await drain_then_close(ch, asio::use_awaitable);
}

template <class Channel>
asio::awaitable<void> consume(Channel& ch, received& out)
{
  for (;;)
  {
    auto [ec, v] = co_await ch.async_receive(asio::as_tuple(asio::use_awaitable));
    if (ec)
    {
      out.final_error = ec;
      co_return;
    }
    out.values.push_back(v);
  }
}

n_awaitable<void> n_produce(n_channel& ch, int count)
{
  for (int i = 0; i < count; ++i)
    co_await ch.async_send(error_code{}, i, n_use_awaitable);
  co_await drain_then_close(ch, n_use_awaitable);
}

n_awaitable<void> n_consume(n_channel& ch, received& out)
{
  for (;;)
  {
    auto [ec, v] = co_await ch.async_receive(asio::as_tuple(n_use_awaitable));
    if (ec)
    {
      out.final_error = ec;
      co_return;
    }
    out.values.push_back(v);
  }
}

std::vector<int> iota_vector(int first, int count)
{
  std::vector<int> v;
  for (int i = first; i < first + count; ++i)
    v.push_back(i);
  return v;
}

} // namespace

BOOST_AUTO_TEST_SUITE(conformance_channel)

BOOST_AUTO_TEST_CASE(channel_single_thread_fifo_and_close)
{
  for (std::size_t capacity : {0u, 1u, 4u})
  {
    nanorun::runtime rt(1);
    any_channel ch(rt, capacity);
    received out;
    asio::co_spawn(rt, consume(ch, out), asio::detached);
    asio::co_spawn(rt, produce(ch, 0, 200, true), asio::detached);
    rt.run();
    BOOST_TEST_INFO("capacity " << capacity);
    BOOST_TEST(out.values == iota_vector(0, 200), boost::test_tools::per_element());
    BOOST_TEST_INFO("capacity " << capacity);
    BOOST_TEST(out.final_error == error_code(experimental::error::channel_closed));
    BOOST_TEST(!ch.is_open());
  }
}

BOOST_AUTO_TEST_CASE(channel_on_nanorun_executor_with_n_awaitable)
{
  nanorun::runtime rt(1);
  n_channel ch(rt.get_executor(), 2);
  received out;
  asio::co_spawn(rt, n_consume(ch, out), asio::detached);
  asio::co_spawn(rt, n_produce(ch, 100), asio::detached);
  rt.run();
  BOOST_TEST(out.values == iota_vector(0, 100), boost::test_tools::per_element());
  BOOST_TEST(out.final_error == error_code(experimental::error::channel_closed));
}

BOOST_AUTO_TEST_CASE(close_with_buffered_values_behaves_as_on_io_context)
{
  // Asio 1.26 drops buffered messages on close(); whatever it does, it must
  // do the same on nanorun as on io_context.
  auto scenario = [](auto& ctx) {
    experimental::channel<void(error_code, int)> ch(ctx, 3);
    std::vector<bool> sends;
    for (int i = 1; i <= 4; ++i)
      sends.push_back(ch.try_send(error_code{}, i)); // the 4th does not fit
    ch.close();
    sends.push_back(ch.try_send(error_code{}, 5));
    received out;
    asio::co_spawn(ctx, consume(ch, out), asio::detached);
    error_code send_ec;
    ch.async_send(error_code{}, 6, asio::bind_executor(ctx, [&](error_code ec) { send_ec = ec; }));
    ctx.run();
    return std::make_tuple(sends, out.values, out.final_error, send_ec);
  };
  asio::io_context io;
  nanorun::runtime rt(1);
  const auto expected = scenario(io);
  const auto actual = scenario(rt);
  BOOST_TEST((std::get<0>(actual) == std::vector<bool>{true, true, true, false, false}));
  BOOST_TEST((std::get<0>(actual) == std::get<0>(expected)));
  BOOST_TEST(std::get<1>(actual) == std::get<1>(expected), boost::test_tools::per_element());
  BOOST_TEST(std::get<2>(actual) == error_code(experimental::error::channel_closed));
  BOOST_TEST(std::get<2>(actual) == std::get<2>(expected));
  BOOST_TEST(std::get<3>(actual) == error_code(experimental::error::channel_closed));
  BOOST_TEST(std::get<3>(actual) == std::get<3>(expected));
}

BOOST_AUTO_TEST_CASE(cancel_completes_waiters_with_channel_cancelled)
{
  nanorun::runtime rt(1);
  any_channel rx(rt);    // a receiver waits on it
  any_channel tx(rt, 0); // a sender waits on it (no buffer, no receiver)
  received out;
  error_code send_ec;
  asio::co_spawn(rt, consume(rx, out), asio::detached);
  tx.async_send(error_code{}, 1, asio::bind_executor(rt, [&](error_code ec) { send_ec = ec; }));
  rt.poll(); // runs until the receiver is suspended in async_receive
  BOOST_TEST(out.final_error == error_code());
  BOOST_TEST(send_ec == error_code());
  rx.cancel();
  tx.cancel();
  rt.run();
  BOOST_TEST(out.final_error == error_code(experimental::error::channel_cancelled));
  BOOST_TEST(send_ec == error_code(experimental::error::channel_cancelled));
  // Cancel does not close.
  BOOST_TEST(rx.is_open());
  BOOST_TEST(tx.is_open());
}

BOOST_AUTO_TEST_CASE(channel_completions_are_never_inline)
{
  nanorun::runtime rt(1);
  any_channel ch(rt, 1);
  bool got = false, before_return = true;
  int value = 0;
  asio::post(rt, [&] {
    BOOST_TEST(ch.try_send(error_code{}, 7));
    ch.async_receive(asio::bind_executor(rt, [&](error_code ec, int v) {
      got = !ec;
      value = v;
    }));
    before_return = got;
  });
  rt.run();
  BOOST_TEST(!before_return);
  BOOST_TEST(got);
  BOOST_TEST(value == 7);
}

BOOST_AUTO_TEST_CASE(destroying_the_channel_cancels_its_waiter)
{
  nanorun::runtime rt(1);
  auto ch = std::make_unique<any_channel>(rt);
  received out;
  asio::co_spawn(rt, consume(*ch, out), asio::detached);
  rt.poll(); // the consumer is now suspended in async_receive
  ch.reset();
  rt.run();
  BOOST_TEST(out.final_error == error_code(experimental::error::channel_cancelled));
}

BOOST_AUTO_TEST_CASE(channel_on_a_strand_with_two_threads)
{
  // experimental::channel is not thread-safe: the channel and every coroutine
  // that touches it share one strand while two threads run the runtime.
  nanorun::runtime rt(2);
  const auto strand = asio::make_strand(rt);
  any_channel ch(strand, 2);
  received out;
  std::atomic<int> producers_left{3};
  auto producer = [&](int first) -> asio::awaitable<void> {
    co_await produce(ch, first, 300, false);
    if (--producers_left == 0)
      co_await drain_then_close(ch, asio::use_awaitable);
  };
  asio::co_spawn(strand, consume(ch, out), asio::detached);
  for (int p = 0; p < 3; ++p)
    asio::co_spawn(strand, producer(p * 1000), asio::detached);
  // Busy work on the plain executor keeps the second thread active.
  std::atomic<int> noise{0};
  for (int i = 0; i < 500; ++i)
    asio::post(rt, [&] { ++noise; });
  std::thread t([&] { rt.run(); });
  rt.run();
  t.join();
  BOOST_TEST(out.final_error == error_code(experimental::error::channel_closed));
  BOOST_REQUIRE(out.values.size() == 900u);
  // Per-producer FIFO order.
  std::map<int, int> last;
  int order_errors = 0;
  for (int v : out.values)
  {
    const int p = v / 1000;
    if (last.count(p) && last[p] + 1 != v)
      ++order_errors;
    last[p] = v;
  }
  BOOST_TEST(order_errors == 0);
  BOOST_TEST(noise.load() == 500);
}

BOOST_AUTO_TEST_CASE(concurrent_channel_producers_and_consumers_on_two_threads)
{
  nanorun::runtime rt(2);
  concurrent ch(rt, 8);
  constexpr int producers = 4, per_producer = 400, consumers = 2;
  std::atomic<int> received_total{0};

  auto producer = [&](int id) -> asio::awaitable<void> {
    for (int i = 0; i < per_producer; ++i)
      co_await ch.async_send(error_code{}, id * 100000 + i, asio::use_awaitable);
  };
  auto consumer = [&]() -> asio::awaitable<std::tuple<std::vector<int>, error_code>> {
    std::vector<int> got;
    for (;;)
    {
      auto [ec, v] = co_await ch.async_receive(asio::as_tuple(asio::use_awaitable));
      if (ec)
        co_return std::make_tuple(std::move(got), ec);
      got.push_back(v);
      // Whoever takes the last value closes: the other consumer's wait ends
      // with channel_closed (close() would drop buffered values before that).
      if (++received_total == producers * per_producer)
        ch.close();
    }
  };

  std::vector<nanorun::join_handle<std::tuple<std::vector<int>, error_code>>> consumer_handles;
  for (int c = 0; c < consumers; ++c)
    consumer_handles.push_back(nanorun::spawn(rt, consumer()));
  std::vector<nanorun::join_handle<void>> producer_handles;
  for (int p = 0; p < producers; ++p)
    producer_handles.push_back(nanorun::spawn(rt, producer(p)));

  std::thread t([&] { rt.run(); });
  rt.run();
  t.join();

  for (auto& h : producer_handles)
    BOOST_CHECK_NO_THROW(h.get());
  std::size_t total = 0;
  long long sum = 0;
  for (auto& h : consumer_handles)
  {
    auto [values, ec] = h.get();
    BOOST_TEST(ec == error_code(experimental::error::channel_closed));
    total += values.size();
    // Each consumer sees each producer's values in increasing order.
    std::map<int, int> last;
    int order_errors = 0;
    for (int v : values)
    {
      sum += v;
      const int p = v / 100000;
      if (last.count(p) && last[p] >= v)
        ++order_errors;
      last[p] = v;
    }
    BOOST_TEST(order_errors == 0);
  }
  long long expected = 0;
  for (int p = 0; p < producers; ++p)
    for (int i = 0; i < per_producer; ++i)
      expected += p * 100000 + i;
  BOOST_TEST(total == static_cast<std::size_t>(producers * per_producer));
  BOOST_TEST(sum == expected);
}

BOOST_AUTO_TEST_CASE(concurrent_channel_between_coroutines_on_the_plain_executor)
{
  // awaitable<T, ex_t> coroutines straight on the work-stealing executor (no
  // strand), two threads: each coroutine's operations are sequential, and the
  // concurrent_channel is thread-safe, so this is race-free without a strand.
  using n_concurrent = experimental::concurrent_channel<ex_t, void(error_code, int)>;
  nanorun::runtime rt(2);
  n_concurrent ch(rt.get_executor(), 4);
  constexpr int producers = 3, per_producer = 300;
  std::atomic<int> received_total{0};
  std::atomic<long long> sum{0};
  auto producer = [&](int id) -> n_awaitable<void> {
    for (int i = 0; i < per_producer; ++i)
      co_await ch.async_send(error_code{}, id * 1000 + i, n_use_awaitable);
  };
  auto consumer = [&]() -> n_awaitable<int> {
    int n = 0;
    for (;;)
    {
      auto [ec, v] = co_await ch.async_receive(asio::as_tuple(n_use_awaitable));
      if (ec)
        co_return ec == experimental::error::channel_closed ? n : -1000000;
      ++n;
      sum += v;
      if (++received_total == producers * per_producer)
        ch.close();
    }
  };
  std::future<int> c1 = asio::co_spawn(rt, consumer(), asio::use_future);
  std::future<int> c2 = asio::co_spawn(rt.get_executor(), consumer(), asio::use_future);
  for (int p = 0; p < producers; ++p)
    asio::co_spawn(rt, producer(p), asio::detached);
  std::thread t([&] { rt.run(); });
  rt.run();
  t.join();
  BOOST_TEST(c1.get() + c2.get() == producers * per_producer);
  long long expected = 0;
  for (int p = 0; p < producers; ++p)
    for (int i = 0; i < per_producer; ++i)
      expected += p * 1000 + i;
  BOOST_TEST(sum.load() == expected);
}

BOOST_AUTO_TEST_CASE(concurrent_channel_fed_from_a_foreign_thread)
{
  // try_send from a thread that is not in run(): the waiting receiver's
  // completion goes through its executor, onto a thread inside run().
  nanorun::runtime rt(2);
  concurrent ch(rt, 0);
  std::atomic<int> wrong_thread{0};
  auto consumer = [&]() -> asio::awaitable<int> {
    int sum = 0;
    for (;;)
    {
      auto [ec, v] = co_await ch.async_receive(asio::as_tuple(asio::use_awaitable));
      if (!rt.get_executor().running_in_this_thread())
        ++wrong_thread;
      if (ec)
        co_return sum;
      sum += v;
    }
  };
  std::future<int> f = nanorun::spawn(rt, consumer(), asio::use_future);
  auto guard = asio::make_work_guard(rt);
  std::thread r1([&] { rt.run(); });
  std::thread r2([&] { rt.run(); });
  int sent = 0;
  for (int i = 1; i <= 200; ++i)
  {
    // No buffer: try_send succeeds only while the receiver waits.
    while (!ch.try_send(error_code{}, i))
      std::this_thread::yield();
    sent += i;
  }
  ch.close();
  BOOST_TEST(f.get() == sent);
  guard.reset();
  r1.join();
  r2.join();
  BOOST_TEST(wrong_thread.load() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
