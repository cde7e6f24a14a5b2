// hello_runtime: the basics of nanorun, on one runtime run by two threads.
//   1. post a handler, and dispatch from inside it (which runs inline);
//   2. run a coroutine with boost::asio::co_spawn;
//   3. start tasks with nanorun::spawn and join them, from a coroutine
//      (co_await std::move(handle)) and from main (handle.get()).
#include <nanorun/nanorun.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <cstdio>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace asio = boost::asio;

namespace {

std::mutex print_mutex;
std::atomic<int> failures{0};

// Two threads print: one line at a time.
void say(const std::string& what)
{
  std::lock_guard lock(print_mutex);
  std::printf("  %s\n", what.c_str());
}

void check(bool ok, const std::string& what)
{
  say((ok ? "ok: " : "FAILED: ") + what);
  if (!ok)
    ++failures;
}

asio::awaitable<int> square(int x)
{
  co_return x * x;
}

// Fans out one task per number and joins them in order.
asio::awaitable<int> sum_of_squares(int n)
{
  auto ex = co_await asio::this_coro::executor;
  std::vector<nanorun::join_handle<int>> tasks;
  for (int i = 1; i <= n; ++i)
    tasks.push_back(nanorun::spawn(ex, square(i)));
  int sum = 0;
  for (auto& task : tasks)
    sum += co_await std::move(task);
  co_return sum;
}

asio::awaitable<std::string> greet(std::string name)
{
  // Hop through the queue once, to show the coroutine suspends and resumes.
  co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  co_return "hello, " + name;
}

} // namespace

int main()
{
  nanorun::runtime rt(2);
  std::printf("hello_runtime: a nanorun::runtime run by 2 threads\n");

  // 1. post, then dispatch from inside a handler: the calling thread is a
  //    worker of rt, so dispatch runs the function before returning.
  asio::post(rt, [&rt] {
    say("post: a handler runs on one of the workers");
    bool ran_inline = false;
    asio::dispatch(rt, [&ran_inline] { ran_inline = true; });
    check(ran_inline, "dispatch from inside the runtime ran inline");
  });

  // 2. co_spawn, with a completion handler that receives the result.
  asio::co_spawn(rt, greet("nanorun"), [](std::exception_ptr e, std::string s) {
    check(!e && s == "hello, nanorun", "co_spawn: coroutine returned \"" + s + "\"");
  });

  // 3. nanorun::spawn returns a join handle.
  auto sum = nanorun::spawn(rt, sum_of_squares(10));

  // run() returns when no work is left; until then, both threads share it.
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i)
    threads.emplace_back([&rt] { rt.run(); });
  const int result = sum.get(); // blocks main (not a worker) until the task is done
  check(result == 385, "spawn + join: 1^2 + ... + 10^2 = " + std::to_string(result));
  for (auto& t : threads)
    t.join();
  check(rt.stopped(), "run() returned on both threads once the work ran out");

  std::printf("hello_runtime: %s\n", failures == 0 ? "all checks passed" : "FAILED");
  return failures == 0 ? 0 : 1;
}
