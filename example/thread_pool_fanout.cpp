// thread_pool_fanout: CPU-bound work fanned out over a nanorun::thread_pool.
//
// The main thread runs a coordinator coroutine with nanorun::block_on. The
// coordinator splits a prime count into chunks, starts one task per chunk on
// the pool with nanorun::spawn, and joins the handles in order. Each task
// calls co_await nanorun::yield_now() every few thousand numbers, so that
// long tasks take turns with the rest of the pool's work instead of hogging a
// worker. The result is checked against a plain serial count.
#include <nanorun/block_on.hpp>
#include <nanorun/spawn.hpp>
#include <nanorun/thread_pool.hpp>
#include <nanorun/yield_now.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstdio>
#include <utility>
#include <vector>

namespace asio = boost::asio;

namespace {

constexpr int limit = 300'000;   // count the primes below this
constexpr int chunks = 16;       // tasks to fan out
constexpr int yield_every = 2'000;

bool is_prime(int n)
{
  if (n < 2)
    return false;
  for (int d = 2; d * d <= n; ++d)
    if (n % d == 0)
      return false;
  return true;
}

// One chunk: a CPU-bound loop that yields now and then.
asio::awaitable<int> count_primes(int begin, int end)
{
  int count = 0;
  for (int n = begin; n < end; ++n)
  {
    if (is_prime(n))
      ++count;
    if ((n - begin) % yield_every == yield_every - 1)
      co_await nanorun::yield_now();
  }
  co_return count;
}

// Runs on block_on's runtime (the main thread); the chunks run on the pool.
asio::awaitable<int> fan_out(nanorun::thread_pool& pool)
{
  std::vector<nanorun::join_handle<int>> tasks;
  const int step = limit / chunks;
  for (int i = 0; i < chunks; ++i)
    tasks.push_back(nanorun::spawn(pool, count_primes(i * step, i + 1 == chunks ? limit : (i + 1) * step)));
  int total = 0;
  for (auto& task : tasks)
    total += co_await std::move(task); // resumes here, on the main thread
  co_return total;
}

} // namespace

int main()
{
  nanorun::thread_pool pool(2);
  std::printf("thread_pool_fanout: primes below %d, %d tasks on a 2-thread nanorun::thread_pool\n", limit, chunks);

  const auto start = std::chrono::steady_clock::now();
  const int parallel = nanorun::block_on(fan_out(pool));
  const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf("  fan-out + join: %d primes in %.1f ms\n", parallel, ms);

  pool.join(); // no work left: the threads return; rethrows a task's exception, if any

  int serial = 0;
  for (int n = 0; n < limit; ++n)
    serial += is_prime(n) ? 1 : 0;
  std::printf("  serial check:   %d primes\n", serial);

  const bool ok = parallel == serial;
  std::printf("thread_pool_fanout: %s\n", ok ? "results match" : "FAILED: results differ");
  return ok ? 0 : 1;
}
