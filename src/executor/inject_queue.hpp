// inject_queue: the runtime's global queue.
//
// Takes work posted by threads outside the runtime and the overflow of full
// local queues. Two parts:
//   - an inbox: a lock-free stack that foreign producers push onto with one
//     CAS, so a producer never waits for a worker (or another producer)
//     holding a lock;
//   - a FIFO behind a mutex that only workers take; whoever holds it first
//     moves the whole inbox over (one exchange) in posting order.
// Posts from one producer therefore run in the order they were made.
#pragma once

#include <nanorun/detail/operation.hpp>

#include "sys/perturb.hpp"

#include <atomic>
#include <cstddef>
#include <mutex>

namespace nanorun::detail {

class inject_queue
{
public:
  // Any thread.
  void push(operation* op) noexcept
  {
    operation* head = inbox_.load(std::memory_order_relaxed);
    NANORUN_PERTURB_POINT();
    do
      op->next_ = head;
    // Release: publishes *op to the acquire exchange in drain_inbox().
    while (!inbox_.compare_exchange_weak(head, op, std::memory_order_release, std::memory_order_relaxed));
  }

  // Any thread; the batch keeps its order.
  void push_batch(op_queue& batch)
  {
    std::lock_guard lock(mutex_);
    queue_.splice(batch);
    queued_.store(queue_.size(), std::memory_order_relaxed);
  }

  // Pops at most max_per_worker-scaled items: the first is returned, up to
  // limit - 1 more go into `out`. `share` divides what is waiting among the
  // workers so one worker does not take everything.
  operation* pop_batch(std::size_t share, std::size_t limit, op_queue& out)
  {
    if (!maybe_nonempty())
      return nullptr;
    NANORUN_PERTURB_POINT();
    std::lock_guard lock(mutex_);
    drain_inbox();
    std::size_t n = queue_.size() / (share ? share : 1) + 1;
    if (n > limit)
      n = limit;
    operation* first = queue_.pop();
    for (std::size_t i = 1; first && i < n && !queue_.empty(); ++i)
      out.push(queue_.pop());
    queued_.store(queue_.size(), std::memory_order_relaxed);
    return first;
  }

  // Takes everything (shutdown).
  op_queue take_all()
  {
    std::lock_guard lock(mutex_);
    drain_inbox();
    op_queue all(std::move(queue_));
    queued_.store(0, std::memory_order_relaxed);
    return all;
  }

  // Any thread: how many operations wait now (metrics snapshots; locks).
  std::size_t depth()
  {
    // Counts the inbox in place: moving it to queue_ here, off the workers,
    // would open a window in which a parker sees neither (the inbox empty,
    // queued_ not yet raised) after the producer has decided not to wake it.
    // Nodes below the inbox's head change only when it is taken whole, which
    // happens under mutex_; acquire pairs with the pushes' release CAS.
    // The walk holds the mutex workers pull batches under: a snapshot during
    // a burst of outside posts delays them by the inbox's length.
    std::lock_guard lock(mutex_);
    std::size_t n = queue_.size();
    for (const operation* o = inbox_.load(std::memory_order_acquire); o; o = o->next_)
      ++n;
    return n;
  }

  // Any thread; a hint. After a seq_cst fence (or RMW) it sees any push that
  // precedes the producer's own fence (the parking protocol relies on that).
  bool maybe_nonempty() const noexcept
  {
    return inbox_.load(std::memory_order_acquire) != nullptr || queued_.load(std::memory_order_relaxed) != 0;
  }

private:
  // Caller holds mutex_.
  void drain_inbox() noexcept
  {
    // Acquire: pairs with the release CAS in push().
    queue_.push_stack(inbox_.exchange(nullptr, std::memory_order_acquire));
  }

  alignas(64) std::atomic<operation*> inbox_{nullptr}; // CAS by producers; exchange by workers under mutex_
  alignas(64) std::mutex mutex_;
  op_queue queue_;                      // guarded by mutex_
  std::atomic<std::size_t> queued_{0}; // queue_.size(), written under mutex_; read anywhere as a hint
};

} // namespace nanorun::detail
