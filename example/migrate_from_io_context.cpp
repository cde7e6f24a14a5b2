// migrate_from_io_context: moving an Asio program to nanorun is one line.
//
// run_program() below is ordinary Asio code: a strand guarding shared state,
// handlers posted to it, coroutines started with co_spawn that wait on Asio's
// own steady_timer, and a few threads calling run(). It names its execution
// context only through the template parameter, so main() runs it twice:
//
//   run_program<boost::asio::io_context>("boost::asio::io_context");
//   run_program<nanorun::io_context>("nanorun::io_context");   // the migration
//
// In a program that hard-codes the type, the change is the declaration:
//   -  boost::asio::io_context ctx;
//   +  nanorun::io_context ctx;        // #include <nanorun/io_context.hpp>
// (Functions taking `boost::asio::io_context&` must take the context as a
// template parameter or an executor instead; see doc/migrating-from-io_context.md.)
#include <nanorun/io_context.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr int posted_handlers = 1000;
constexpr int sessions = 8;
constexpr int ticks_per_session = 5;
constexpr int threads_per_context = 2;

// A session: tick a few times on a timer, counting each tick. It runs on the
// strand it was spawned on, so `hits` needs no lock.
asio::awaitable<void> session(int& hits)
{
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (int i = 0; i < ticks_per_session; ++i)
  {
    timer.expires_after(2ms);
    co_await timer.async_wait(asio::use_awaitable);
    ++hits;
  }
}

template <class Context>
bool run_program(const char* name)
{
  Context ctx(threads_per_context); // the only line that names the context type
  auto strand = asio::make_strand(ctx);
  int hits = 0; // guarded by `strand`
  std::atomic<int> finished{0};
  std::atomic<int> errors{0};

  for (int i = 0; i < posted_handlers; ++i)
    asio::post(strand, [&hits] { ++hits; });
  for (int i = 0; i < sessions; ++i)
    asio::co_spawn(strand, session(hits), [&](std::exception_ptr e) { ++(e ? errors : finished); });

  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < threads_per_context; ++i)
    threads.emplace_back([&ctx] { ctx.run(); });
  for (auto& t : threads)
    t.join();
  const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();

  const int expected = posted_handlers + sessions * ticks_per_session;
  const bool ok = hits == expected && finished == sessions && errors == 0;
  std::printf("  %-24s %d threads: %d/%d strand updates, %d/%d sessions done, %.1f ms: %s\n", name,
              threads_per_context, hits, expected, finished.load(), sessions, ms, ok ? "ok" : "FAILED");
  return ok;
}

} // namespace

int main()
{
  std::printf("migrate_from_io_context: the same program on two execution contexts\n");
  const bool asio_ok = run_program<boost::asio::io_context>("boost::asio::io_context");
  const bool nanorun_ok = run_program<nanorun::io_context>("nanorun::io_context");
  std::printf("migrate_from_io_context: %s\n", asio_ok && nanorun_ok ? "both runs passed" : "FAILED");
  return asio_ok && nanorun_ok ? 0 : 1;
}
