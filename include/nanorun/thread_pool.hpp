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
 *
 * Other differences from boost::asio::thread_pool: the pool is a runtime
 * (it derives from it), so its executor is runtime::executor_type and every
 * runtime member is available (run functions included: a thread that calls
 * one helps the pool's threads); there is no `executor()` alias of
 * get_executor(); and the default size is one thread per core, where Asio's
 * is two.
 *
 * @par Thread safety
 * Distinct objects: safe. Shared objects: safe, as for runtime; join() and
 * wait() may be called from several threads (one of them joins the threads,
 * the others return at once). None of them may be called from one of the
 * pool's own threads.
 */
class thread_pool : public runtime
{
public:
  /// Starts as many threads as the hardware has cores.
  thread_pool();

  /// Starts num_threads threads (at least one).
  /// @param num_threads the number of threads; 0 is taken as 1. It is also
  /// the runtime's concurrency hint.
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
