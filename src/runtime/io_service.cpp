// The runtime layer's glue for I/O objects: the entry points declared in
// include/nanorun/detail/io_service.hpp, joining the reactor layer (readiness
// and attempts) to the executor layer (work counting and where completions
// run). A waiting operation is outstanding work, as with io_context.
#include <nanorun/detail/io_service.hpp>
#include <nanorun/runtime.hpp>

#include "executor/scheduler.hpp"

namespace nanorun::detail {

descriptor_state* io_register(runtime& rt, native_handle fd, boost::system::error_code& ec)
{
  std::error_code sec;
  scheduler& sched = rt.scheduler_impl();
  descriptor_state* s = sched.reactor().register_descriptor(fd, sec);
  if (sec)
  {
    ec.assign(sec.value(), boost::system::system_category());
    return s;
  }
  ec.clear();
  return s;
}

void io_deregister(runtime& rt, descriptor_state* s) noexcept
{
  scheduler& sched = rt.scheduler_impl();
  op_queue aborted;
  sched.reactor().deregister_descriptor(s, aborted);
  sched.post_counted(aborted);
}

void io_start(runtime& rt, descriptor_state* s, io_dir dir, reactor_op* op)
{
  scheduler& sched = rt.scheduler_impl();
  sched.work_started();
  op_queue done;
  const bool continuation = op->continuation;
  sched.reactor().start_op(s, dir, op, done);
  // Finished already (or failed to start): queued, never run from here.
  sched.post_counted(done, continuation);
}

void io_cancel(runtime& rt, descriptor_state* s) noexcept
{
  scheduler& sched = rt.scheduler_impl();
  op_queue aborted;
  sched.reactor().cancel_ops(s, aborted);
  sched.post_counted(aborted);
}

void io_cancel_key(runtime& rt, descriptor_state* s, const void* key) noexcept
{
  scheduler& sched = rt.scheduler_impl();
  op_queue aborted;
  sched.reactor().cancel_key(s, key, aborted);
  sched.post_counted(aborted);
}

const char* io_backend_name(runtime& rt) noexcept { return rt.scheduler_impl().reactor().backend_name(); }

} // namespace nanorun::detail

#include <condition_variable>
#include <mutex>
#include <thread>

namespace nanorun::detail {

void io_complete_now(runtime& rt, reactor_op* op)
{
  scheduler& sched = rt.scheduler_impl();
  sched.work_started();
  op_queue q;
  q.push(op);
  sched.post_counted(q);
}

namespace {

// One thread per runtime, started on first use, for calls that block
// (getaddrinfo): they must never hold a worker. A service, so that the
// runtime's shutdown joins it before handlers are destroyed.
class blocking_service final : public boost::asio::execution_context::service
{
public:
  static inline boost::asio::execution_context::id id;

  explicit blocking_service(boost::asio::execution_context& ctx) : service(ctx) {}
  ~blocking_service() override { shutdown(); }

  void submit(operation* job)
  {
    std::lock_guard lock(mutex_);
    if (stopping_)
    {
      job->destroy();
      return;
    }
    queue_.push(job);
    if (!thread_.joinable() && !paused_)
      thread_ = std::thread([this] { loop(); });
    cv_.notify_one();
  }

private:
  // As Asio's resolver service: no thread of ours may be inside a call that
  // takes locks (getaddrinfo) across fork(), so the thread finishes its job
  // and goes before the fork, and a new one takes the queue after it, in the
  // parent and in the child.
  void notify_fork(boost::asio::execution_context::fork_event event) override
  {
    if (event == boost::asio::execution_context::fork_prepare)
    {
      {
        std::lock_guard lock(mutex_);
        paused_ = true;
      }
      cv_.notify_one();
      if (thread_.joinable())
        thread_.join();
      return;
    }
    std::lock_guard lock(mutex_);
    paused_ = false;
    if (!stopping_ && !queue_.empty() && !thread_.joinable())
      thread_ = std::thread([this] { loop(); });
  }

  void shutdown() override
  {
    op_queue left;
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      left.splice(queue_);
    }
    cv_.notify_one();
    if (thread_.joinable())
      thread_.join();
    while (operation* op = left.pop())
      op->destroy();
  }

  void loop()
  {
    std::unique_lock lock(mutex_);
    for (;;)
    {
      cv_.wait(lock, [&] { return stopping_ || paused_ || !queue_.empty(); });
      if (stopping_ || paused_)
        return;
      operation* job = queue_.pop();
      lock.unlock();
      job->complete(); // the job requeues itself on the runtime
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  op_queue queue_;        // guarded by mutex_
  bool stopping_ = false; // guarded by mutex_
  bool paused_ = false;   // guarded by mutex_: between fork_prepare and fork_parent/child
  std::thread thread_;
};

} // namespace

void io_run_blocking(runtime& rt, operation* job)
{
  rt.scheduler_impl().work_started();
  boost::asio::use_service<blocking_service>(rt).submit(job);
}

void io_requeue(runtime& rt, operation* op)
{
  op_queue q;
  q.push(op);
  rt.scheduler_impl().post_counted(q);
}

} // namespace nanorun::detail
