// local_queue: a worker's fixed-capacity run queue.
//
// One owner pushes and pops; any number of thieves steal half at a time. The
// design follows tokio's queue.rs: a ring of `local_queue_capacity` pointers,
// a tail written only by the owner, and a head that packs two 32-bit indices:
//
//   head_ = (steal << 32) | real
//
// `real` is the next item the owner will pop. `steal` lags behind `real` while
// a thief is copying the items in [steal, real) out of the ring; the owner must
// not overwrite those slots, so push() measures free space from `steal`.
// Only one thief copies at a time: a thief that sees steal != real gives up.
// Indices are 32-bit and wrap; only their differences are meaningful, and the
// ring has far fewer slots than 2^32, so an index is never confused with one
// that is a whole lap behind (tokio #5041).
//
// Overflow: when the ring is full, the owner claims the older half of it with
// one CAS and hands those items, plus the new one, to the injector in one
// batch. If a steal is in progress the owner cannot claim, and sends only the
// new item.
#pragma once

#include <nanorun/detail/config.hpp>
#include <nanorun/detail/operation.hpp>

#include "sys/perturb.hpp"

#include <atomic>
#include <cstdint>

namespace nanorun::detail {

class local_queue
{
public:
  static constexpr std::uint32_t capacity = local_queue_capacity;
  static_assert((capacity & (capacity - 1)) == 0, "capacity must be a power of two");
  static constexpr std::uint32_t mask = capacity - 1;

  local_queue() noexcept : local_queue(0) {}

  // Starts the indices at `first` instead of 0; tests use it to cross the
  // 32-bit wrap-around without pushing four billion items.
  explicit local_queue(std::uint32_t first) noexcept : head_(pack(first, first)), tail_(first)
  {
    for (auto& s : slots_)
      s.store(nullptr, std::memory_order_relaxed);
  }

  // Owner only. Returns false when full; the caller then calls take_half_for_overflow().
  bool try_push(operation* op) noexcept
  {
    // Acquire: pairs with the release CAS in steal_into() that moves `steal`
    // past slots it has finished copying, so we may overwrite them.
    const std::uint64_t head = head_.load(std::memory_order_acquire);
    const std::uint32_t steal = unpack_steal(head);
    const std::uint32_t tail = tail_.load(std::memory_order_relaxed); // we are the only writer
    if (tail - steal >= capacity)
      return false;
    NANORUN_PERTURB_POINT();
    slots_[tail & mask].store(op, std::memory_order_relaxed);
    // Release: publishes the slot to pop()/steal_into() on other threads,
    // which load tail_ with acquire.
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  // Owner only, on a full queue. Claims the older half and returns it linked
  // into `out`. Returns false when a steal is in progress (nothing claimed).
  bool take_half_for_overflow(op_queue& out) noexcept
  {
    const std::uint32_t n = capacity / 2;
    std::uint64_t head = head_.load(std::memory_order_acquire);
    const std::uint32_t real = unpack_real(head);
    if (unpack_steal(head) != real)
      return false;
    const std::uint32_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - real < n)
      return false; // raced with thieves and is no longer full: caller retries push
    NANORUN_PERTURB_POINT();
    // AcqRel: claiming the range must not be reordered with the copies below,
    // and pairs with thieves' CAS on head_.
    if (!head_.compare_exchange_strong(head, pack(real + n, real + n), std::memory_order_acq_rel,
                                       std::memory_order_acquire))
      return false;
    for (std::uint32_t i = 0; i < n; ++i)
      out.push(slots_[(real + i) & mask].load(std::memory_order_relaxed));
    return true;
  }

  // Owner only. FIFO pop from the head.
  operation* pop() noexcept
  {
    std::uint64_t head = head_.load(std::memory_order_acquire);
    for (;;)
    {
      const std::uint32_t steal = unpack_steal(head);
      const std::uint32_t real = unpack_real(head);
      const std::uint32_t tail = tail_.load(std::memory_order_relaxed);
      if (real == tail)
        return nullptr;
      const std::uint32_t next_real = real + 1;
      const std::uint64_t next = steal == real ? pack(next_real, next_real) : pack(steal, next_real);
      NANORUN_PERTURB_POINT();
      // AcqRel: the claim races with thieves' CAS on the same word; the item
      // read below was published by our own earlier push.
      if (head_.compare_exchange_weak(head, next, std::memory_order_acq_rel, std::memory_order_acquire))
        return slots_[real & mask].load(std::memory_order_relaxed);
    }
  }

  // What a thief saw of a queue that held a single item, so that it can tell
  // on its next look whether the owner has moved on since (see steal_into).
  struct lone_item_watch
  {
    const local_queue* queue = nullptr;
    std::uint32_t real = 0;
    std::int64_t since_ns = 0;
  };

  // Thief, a look that takes nothing: whether steal_into() with the same
  // watch would take something now. Records a lone item in `watch` as
  // steal_into() does, so that a spinning thief can tell a chain (the index
  // moves) from work left behind by a busy handler without stealing.
  bool worth_stealing(lone_item_watch& watch, std::int64_t now_ns, std::int64_t patience_ns) const noexcept
  {
    // Acquire both: pair with the owner's and thieves' releases, as in
    // steal_into(); tail is read second, so tail - real cannot underflow.
    const std::uint32_t real = unpack_real(head_.load(std::memory_order_acquire));
    const std::uint32_t n = tail_.load(std::memory_order_acquire) - real;
    if (n != 1)
      return n != 0;
    if (watch.queue != this || watch.real != real)
    {
      watch = {this, real, now_ns};
      return false;
    }
    return now_ns - watch.since_ns >= patience_ns;
  }

  // Thief: moves half of this queue's items into `dst` (owned by the caller)
  // and returns one of them to run now, or null if there was nothing to take.
  //
  // A queue holding a single item is a special case. Usually it is the next
  // link of a chain its owner is running (post, return, pop, post...), and
  // taking it would drag the chain to this core and back on every link. But
  // it may also be work posted by a handler that then keeps its thread busy,
  // and io_context would run that on another thread at once. The difference
  // shows in the owner's pop index: a chain moves it, a busy handler does
  // not. So with `watch` given, a lone item is taken only once this thief has
  // seen it sit at the same index for `patience_ns` (now_ns is the caller's
  // clock, in ns); otherwise the look is recorded in `watch`.
  operation* steal_into(local_queue& dst, lone_item_watch* watch = nullptr, std::int64_t now_ns = 0,
                        std::int64_t patience_ns = 0) noexcept
  {
    const std::uint32_t dst_tail = dst.tail_.load(std::memory_order_relaxed); // caller owns dst
    const std::uint32_t dst_steal = unpack_steal(dst.head_.load(std::memory_order_acquire));
    if (dst_tail - dst_steal > capacity / 2)
      return nullptr; // our own queue is busy enough; don't hoard

    // Phase 1: claim [real, real + n) by moving `real` while `steal` stays.
    std::uint64_t prev = head_.load(std::memory_order_acquire);
    std::uint32_t first;
    std::uint32_t n;
    std::uint64_t claimed;
    for (;;)
    {
      const std::uint32_t steal = unpack_steal(prev);
      const std::uint32_t real = unpack_real(prev);
      if (steal != real)
        return nullptr; // another thief is copying
      // Acquire: pairs with the owner's release store in try_push().
      const std::uint32_t tail = tail_.load(std::memory_order_acquire);
      n = tail - real;
      if (n == 1 && watch)
      {
        if (watch->queue != this || watch->real != real)
        {
          *watch = {this, real, now_ns};
          return nullptr;
        }
        if (now_ns - watch->since_ns < patience_ns)
          return nullptr;
      }
      n -= n / 2;
      if (n == 0)
        return nullptr;
      if (n > capacity / 2)
        n = capacity / 2;
      first = real;
      claimed = pack(steal, real + n);
      NANORUN_PERTURB_POINT();
      if (head_.compare_exchange_weak(prev, claimed, std::memory_order_acq_rel, std::memory_order_acquire))
        break;
    }

    // Copy the claimed items; the owner will not overwrite them while `steal`
    // still points at `first`.
    for (std::uint32_t i = 0; i < n; ++i)
      dst.slots_[(dst_tail + i) & mask].store(slots_[(first + i) & mask].load(std::memory_order_relaxed),
                                              std::memory_order_relaxed);

    // Phase 2: release the slots by moving `steal` up to `real`. The owner may
    // have popped meanwhile (moving `real`), so retry with what we observe.
    NANORUN_PERTURB_POINT();
    prev = claimed;
    for (;;)
    {
      const std::uint32_t real = unpack_real(prev);
      // Release: pairs with the acquire load of head_ in try_push(), so the
      // owner sees our copies finished before it reuses the slots.
      if (head_.compare_exchange_weak(prev, pack(real, real), std::memory_order_acq_rel,
                                      std::memory_order_acquire))
        break;
    }

    operation* ret = dst.slots_[(dst_tail + n - 1) & mask].load(std::memory_order_relaxed);
    if (n > 1)
      // Release: publishes the copied slots to thieves of dst.
      dst.tail_.store(dst_tail + n - 1, std::memory_order_release);
    return ret;
  }

  // Owner only: the tail index, i.e. items ever added. Thieves move the
  // head, never the tail, so its growth across steal_into() is exactly what
  // that steal added beside the item it returned (metrics).
  std::uint32_t added() const noexcept { return tail_.load(std::memory_order_relaxed); }

  // Any thread; a hint only: how many items wait (0 when empty).
  std::uint32_t size_hint() const noexcept
  {
    const std::uint64_t head = head_.load(std::memory_order_acquire);
    return tail_.load(std::memory_order_acquire) - unpack_real(head);
  }

  // Any thread; a hint only.
  bool empty() const noexcept
  {
    const std::uint64_t head = head_.load(std::memory_order_acquire);
    return unpack_real(head) == tail_.load(std::memory_order_acquire);
  }

  // Owner only: whether a steal is copying out of this queue right now.
  bool steal_in_progress() const noexcept
  {
    const std::uint64_t head = head_.load(std::memory_order_acquire);
    return unpack_steal(head) != unpack_real(head);
  }

  // Number of free slots the owner can count on (owner only).
  std::uint32_t free_slots() const noexcept
  {
    const std::uint32_t steal = unpack_steal(head_.load(std::memory_order_acquire));
    return capacity - (tail_.load(std::memory_order_relaxed) - steal);
  }

private:
  static constexpr std::uint64_t pack(std::uint32_t steal, std::uint32_t real) noexcept
  {
    return (std::uint64_t{steal} << 32) | real;
  }
  static constexpr std::uint32_t unpack_steal(std::uint64_t v) noexcept { return static_cast<std::uint32_t>(v >> 32); }
  static constexpr std::uint32_t unpack_real(std::uint64_t v) noexcept { return static_cast<std::uint32_t>(v); }

  alignas(64) std::atomic<std::uint64_t> head_; // many threads: see the file comment
  alignas(64) std::atomic<std::uint32_t> tail_; // written by the owner; read by thieves
  alignas(64) std::atomic<operation*> slots_[capacity];
};

} // namespace nanorun::detail
