// Which completions are continuations (include/nanorun/detail/continuation.hpp):
// a coroutine's resumption, looked through the wrappers tokens add and through
// Asio's composed reads and writes, goes to the worker's LIFO slot and runs
// on the thread that started it; anything else is a fork.
#include "unit/io/io_test_support.hpp"

#include <nanorun/detail/continuation.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <functional>
#include <string>
#include <thread>

using namespace io_test;

namespace {

namespace ad = boost::asio::detail;
using nanorun::detail::is_coroutine_resumption;
using resume = ad::awaitable_handler<asio::any_io_executor, error_code, std::size_t>;
using callback = std::function<void(error_code, std::size_t)>;
using socket_type = tcp::socket;
using buffers = asio::mutable_buffers_1;
using buffer_iter = const asio::mutable_buffer*;

static_assert(is_coroutine_resumption<resume>::value);
static_assert(is_coroutine_resumption<ad::write_op<socket_type, buffers, buffer_iter, ad::transfer_all_t, resume>>::value);
static_assert(is_coroutine_resumption<ad::read_op<socket_type, buffers, buffer_iter, ad::transfer_all_t, resume>>::value);
static_assert(is_coroutine_resumption<
              ad::read_until_delim_op_v1<socket_type, asio::basic_streambuf_ref<std::allocator<char>>, resume>>::value);
static_assert(is_coroutine_resumption<ad::read_until_delim_string_op_v2<socket_type, asio::dynamic_string_buffer<char, std::char_traits<char>, std::allocator<char>>, resume>>::value);
// A composed operation that ends in a plain callback is a fork: the code
// after the initiating call may go on computing.
static_assert(!is_coroutine_resumption<callback>::value);
static_assert(!is_coroutine_resumption<ad::write_op<socket_type, buffers, buffer_iter, ad::transfer_all_t, callback>>::value);
static_assert(!is_coroutine_resumption<ad::read_op<socket_type, buffers, buffer_iter, ad::transfer_all_t, callback>>::value);

} // namespace

BOOST_AUTO_TEST_SUITE(io_continuation)

// On two workers: every co_await async_write that finishes at once resumes
// the coroutine on the worker that started it (the LIFO slot, which no other
// worker takes from). (The reads only drain: one may wait for readiness,
// which any worker may see.)
BOOST_AUTO_TEST_CASE(awaited_composed_operations_resume_on_the_starting_worker)
{
  nanorun::runtime rt(2);
  tcp_pair p = connected_pair(rt);
  int rounds = 0, moved = 0;
  asio::co_spawn(
      rt,
      [&]() -> asio::awaitable<void> {
        char buf[8] = {};
        for (int i = 0; i < 200; ++i)
        {
          const auto before = std::this_thread::get_id();
          co_await asio::async_write(p.client, asio::buffer("ping", 4), asio::use_awaitable);
          moved += std::this_thread::get_id() != before;
          co_await asio::async_write(p.server, asio::buffer("pong", 4), asio::use_awaitable);
          co_await asio::async_read(p.client, asio::buffer(buf, 4), asio::use_awaitable);
          co_await asio::async_read(p.server, asio::buffer(buf, 4), asio::use_awaitable);
          ++rounds;
        }
      },
      asio::detached);
  std::thread other([&] { rt.run_for(limit); });
  rt.run_for(limit);
  other.join();
  BOOST_TEST(rounds == 200);
  BOOST_TEST(moved == 0);
}

BOOST_AUTO_TEST_SUITE_END()
