// nanorun::thread_pool: a runtime plus the threads that run it.
#include <nanorun/thread_pool.hpp>

#include <algorithm>

namespace nanorun {

thread_pool::thread_pool() : thread_pool(std::max(1u, std::thread::hardware_concurrency())) {}

thread_pool::thread_pool(std::size_t num_threads) : runtime(static_cast<int>(std::max<std::size_t>(1, num_threads)))
{
  // The pool's own unit of work: released by join(), so idle threads wait for
  // work instead of returning.
  work_started();
  const std::size_t n = std::max<std::size_t>(1, num_threads);
  threads_.reserve(n);
  try
  {
    for (std::size_t i = 0; i < n; ++i)
      threads_.emplace_back([this] { thread_main(); });
  }
  catch (...)
  {
    stop();
    for (auto& t : threads_)
      t.join();
    throw;
  }
}

thread_pool::~thread_pool()
{
  stop();
  try
  {
    join();
  }
  catch (...)
  {
    // A handler's exception has nowhere to go from a destructor.
  }
}

void thread_pool::thread_main()
{
  for (;;)
  {
    try
    {
      run();
      return;
    }
    catch (...)
    {
      std::lock_guard lock(mutex_);
      if (!first_error_)
        first_error_ = std::current_exception();
    }
  }
}

void thread_pool::attach()
{
  thread_main();
}

void thread_pool::join()
{
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    if (!work_released_)
    {
      work_released_ = true;
      work_finished();
    }
    threads.swap(threads_);
  }
  for (auto& t : threads)
    t.join();
  std::exception_ptr e;
  {
    std::lock_guard lock(mutex_);
    e = std::exchange(first_error_, nullptr);
  }
  if (e)
    std::rethrow_exception(e);
}

void thread_pool::wait()
{
  join();
}

} // namespace nanorun
