// inject_queue: the runtime's global queue.
//
// Takes work posted by threads outside the runtime and the overflow of full
// local queues. A mutex guards an intrusive list; an atomic length lets a
// worker skip the lock when the queue is empty, which is the common case.
#pragma once

#include <nanorun/detail/operation.hpp>

#include <atomic>
#include <cstddef>
#include <mutex>

namespace nanorun::detail {

class inject_queue
{
public:
  void push(operation* op)
  {
    std::lock_guard lock(mutex_);
    queue_.push(op);
    // Release under the lock is enough for the length hint: a reader that sees
    // a non-zero length takes the lock before touching the list.
    len_.store(queue_.size(), std::memory_order_release);
  }

  void push_batch(op_queue& batch)
  {
    std::lock_guard lock(mutex_);
    queue_.splice(batch);
    len_.store(queue_.size(), std::memory_order_release);
  }

  // Pops at most `max` items: the first is returned, the rest go into `out`.
  operation* pop_batch(std::size_t max, op_queue& out)
  {
    if (len_.load(std::memory_order_acquire) == 0)
      return nullptr;
    std::lock_guard lock(mutex_);
    operation* first = queue_.pop();
    for (std::size_t i = 1; first && i < max && !queue_.empty(); ++i)
      out.push(queue_.pop());
    len_.store(queue_.size(), std::memory_order_release);
    return first;
  }

  // Takes everything (used on shutdown).
  op_queue take_all()
  {
    std::lock_guard lock(mutex_);
    op_queue all(std::move(queue_));
    len_.store(0, std::memory_order_release);
    return all;
  }

  // Any thread; a hint only.
  std::size_t size_hint() const noexcept { return len_.load(std::memory_order_acquire); }

private:
  std::mutex mutex_;
  op_queue queue_;                   // guarded by mutex_
  std::atomic<std::size_t> len_{0}; // written under mutex_; read anywhere as a hint
};

} // namespace nanorun::detail
