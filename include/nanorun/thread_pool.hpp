// nanorun::thread_pool: a runtime that owns its worker threads.
#pragma once

#include <nanorun/runtime.hpp>

#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace nanorun {

/// A runtime run by threads of its own, shaped like boost::asio::thread_pool.
/**
 * The pool counts as outstanding work of its own until join() or wait() is
 * called, so its threads keep running while idle. The destructor calls stop()
 * then join().
 *
 * An exception thrown by a handler does not end the pool (asio::thread_pool
 * would call std::terminate): the thread records the first one and goes back
 * to work, and join() or wait() rethrows it.
 */
class thread_pool : public runtime
{
public:
  /// Starts as many threads as the hardware has cores.
  thread_pool();

  /// Starts num_threads threads (at least one).
  explicit thread_pool(std::size_t num_threads);

  /// Stops the pool and joins its threads.
  ~thread_pool();

  /// Makes the calling thread one of the pool's threads until the pool stops.
  void attach();

  /// Waits for the threads to finish. If stop() was not called, that is when
  /// the pool runs out of work. Rethrows the first exception a handler threw.
  void join();

  /// The same as join().
  void wait();

private:
  void thread_main();

  std::vector<std::thread> threads_;
  std::mutex mutex_;
  bool work_released_ = false;     // guarded by mutex_
  std::exception_ptr first_error_; // guarded by mutex_
};

} // namespace nanorun
