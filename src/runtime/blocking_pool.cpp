// The blocking pool: where nanorun::spawn_blocking runs its functions.
//
// One pool per execution context, as an Asio service, so that the context's
// shutdown (step 1 of ~runtime) stops it before handlers are destroyed.
//
// GROWTH AND SHRINKING. Everything is guarded by one mutex; a job is never
// run under it. submit() queues the job and wakes an idle thread if one
// waits; if none does and the pool holds fewer than max_threads, it starts a
// thread; else the job waits in the queue for the first thread to finish.
// A thread that finds the queue empty waits keep_alive for a job, then
// leaves. idle_ counts the threads waiting; a submit starts a thread when
// the queued jobs outnumber them, so a burst of N submits does not count N
// times on the same sleeper.
//
// THREADS ARE JOINED, NEVER DETACHED. A thread that leaves while the pool
// lives moves its std::thread to exited_ (under the mutex, as its last use of
// the pool); the next submit or the shutdown joins it. A detached thread
// could still be inside the pool's mutex when the pool is destroyed.
//
// SHUTDOWN destroys the queued jobs (each reports operation_aborted to its
// join handle) and waits for the running ones: a blocking function cannot be
// interrupted.
#include <nanorun/detail/blocking_pool.hpp>

#include <algorithm>
#include <exception>
#include <condition_variable>
#include <list>
#include <mutex>
#include <system_error>
#include <thread>

namespace nanorun::detail {

namespace {

class blocking_pool final : public boost::asio::execution_context::service
{
public:
  static inline boost::asio::execution_context::id id;

  explicit blocking_pool(boost::asio::execution_context& ctx) : service(ctx) {}
  ~blocking_pool() override { shutdown(); }

  void submit(operation* job)
  {
    std::list<std::thread> reap;
    {
      std::unique_lock lock(mutex_);
      reap.splice(reap.end(), exited_);
      if (stopping_)
      {
        lock.unlock();
        job->destroy();
        join_all(reap);
        return;
      }
      // Each idle thread takes one queued job: start another only if the
      // jobs outnumber them (a sleeper woken by an earlier submit may not
      // have taken its job yet).
      if (queue_.size() + 1 > idle_ && threads_.size() < max_threads_ && !start_thread() && threads_.empty())
      {
        // Nobody would ever run it: the caller keeps it.
        lock.unlock();
        join_all(reap);
        throw std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again),
                                "nanorun::spawn_blocking: cannot start a thread");
      }
      // (If a thread could not be started, a running one takes the job when
      // it finishes its own.)
      queue_.push(job);
      if (idle_ > 0)
        cv_.notify_one();
    }
    join_all(reap);
  }

  // Caller holds mutex_. False if the thread could not be created.
  bool start_thread() noexcept
  {
    try
    {
      threads_.emplace_back();
    }
    catch (...)
    {
      return false;
    }
    try
    {
      auto it = std::prev(threads_.end());
      // The thread waits for the mutex our caller holds before it looks at `it`.
      *it = std::thread([this, it] { loop(it); });
      return true;
    }
    catch (...)
    {
      threads_.pop_back(); // the empty std::thread just added
      return false;
    }
  }

  void set_limits(std::size_t max_threads, std::chrono::nanoseconds keep_alive)
  {
    std::lock_guard lock(mutex_);
    max_threads_ = std::max<std::size_t>(1, max_threads);
    // At most a year: idle_since + keep_alive must not overflow (nanoseconds::max() means "forever").
    keep_alive_ = std::min<std::chrono::nanoseconds>(keep_alive, std::chrono::hours(24 * 365));
    cv_.notify_all(); // sleepers re-read their keep-alive
  }

  std::size_t threads()
  {
    std::lock_guard lock(mutex_);
    return threads_.size();
  }

private:
  void shutdown() override
  {
    op_queue left;
    std::list<std::thread> all;
    {
      std::lock_guard lock(mutex_);
      if (stopping_ && threads_.empty() && exited_.empty() && queue_.empty())
        return;
      stopping_ = true;
      left.splice(queue_);
    }
    cv_.notify_all();
    while (operation* op = left.pop())
      op->destroy();
    {
      std::unique_lock lock(mutex_);
      for (const std::thread& t : threads_)
        if (t.get_id() == std::this_thread::get_id())
          std::terminate(); // the context destroyed from one of its own blocking functions: it would wait for itself
      // A thread still running a job leaves when it is done; it moves itself
      // to exited_ and we join it here.
      gone_.wait(lock, [&] { return threads_.empty(); });
      all.splice(all.end(), exited_);
    }
    join_all(all);
  }

  void loop(std::list<std::thread>::iterator self)
  {
    std::unique_lock lock(mutex_);
    for (;;)
    {
      if (operation* job = queue_.pop())
      {
        lock.unlock();
        job->complete(); // the job catches its function's exceptions
        lock.lock();
        continue;
      }
      if (stopping_)
        break;
      ++idle_;
      const auto idle_since = std::chrono::steady_clock::now();
      bool expired = false;
      while (!stopping_ && queue_.empty())
      {
        // Re-read each time: set_limits() may have changed it.
        const auto until = idle_since + keep_alive_;
        if (cv_.wait_until(lock, until) == std::cv_status::timeout && queue_.empty() &&
            std::chrono::steady_clock::now() >= idle_since + keep_alive_)
        {
          expired = true;
          break;
        }
      }
      --idle_;
      if (expired)
        break; // idle for keep_alive: shrink
    }
    exited_.splice(exited_.end(), threads_, self);
    if (threads_.empty())
      gone_.notify_all();
  }

  static void join_all(std::list<std::thread>& ts)
  {
    for (std::thread& t : ts)
      if (t.joinable())
        t.join();
  }

  std::mutex mutex_;
  std::condition_variable cv_;   // jobs for idle threads, and stopping_
  std::condition_variable gone_; // the last thread left (shutdown waits)
  op_queue queue_;                                         // guarded by mutex_
  std::list<std::thread> threads_;                         // guarded by mutex_: alive
  std::list<std::thread> exited_;                          // guarded by mutex_: left, to be joined
  std::size_t idle_ = 0;                                   // guarded by mutex_: waiting for a job
  std::size_t max_threads_ = 64;                           // guarded by mutex_
  std::chrono::nanoseconds keep_alive_ = std::chrono::seconds(10); // guarded by mutex_
  bool stopping_ = false;                                  // guarded by mutex_
};

} // namespace

void blocking_submit(boost::asio::execution_context& ctx, operation* job)
{
  boost::asio::use_service<blocking_pool>(ctx).submit(job);
}

void blocking_set_limits(boost::asio::execution_context& ctx, std::size_t max_threads,
                         std::chrono::nanoseconds keep_alive)
{
  boost::asio::use_service<blocking_pool>(ctx).set_limits(max_threads, keep_alive);
}

std::size_t blocking_threads(boost::asio::execution_context& ctx)
{
  return boost::asio::use_service<blocking_pool>(ctx).threads();
}

} // namespace nanorun::detail
