// TASK MEMORY: a spawned task's block goes back to the worker that allocated
// it, so that a task spawned on one worker and finished on another costs no
// malloc lock.
//
// With one worker spawning and another running the children, every block
// crosses threads. Given to free() on the second worker, it lands in the first
// worker's malloc arena under that arena's lock, which the first worker takes
// too on every allocation: the lock is contended on each spawn and each
// contention is a futex call (perf: glibc's __lll_lock_wait_private). Here
// each block carries its owner, and the freeing thread hands it back instead.
//
// PROTOCOL. Every thread inside run() has a home (attach_task_memory): one
// free stack per size class, touched only by the owner, plus `remote`, a
// lock-free stack other threads push returned blocks onto. A block is a
// 16-byte header {owner, class} and the payload.
//   * allocate: pop the owner's stack for the class; if it is empty, take the
//     whole remote stack with one exchange (so no ABA: nobody pops single
//     nodes) and sort it into the stacks; if still empty, the heap.
//   * free on the owner: push on its stack, or to the heap beyond `depth`.
//   * free elsewhere: CAS-push on the owner's remote stack (release, paired
//     with the owner's acquire exchange, which makes the pusher's link write
//     visible). Threads without a home, and blocks too large for a class, use
//     the heap directly.
// Returned blocks wait in `remote` until the owner next runs short, or until
// it parks: trim_task_memory() then drains `remote` and frees beyond `depth`,
// so an idle worker holds a bounded amount.
//
// LIFETIME. A block can outlive its owner thread and its runtime (a join_handle
// kept after both), so homes are never freed: a thread that ends empties its
// home, marks `remote` orphaned (a sentinel; a pusher that sees it frees the
// block to the heap instead) and puts the home in a pool; the next thread to
// attach adopts it and clears the mark. A push that read the owner before the
// adoption lands with the new owner, which is harmless: blocks carry their
// class, not their thread.
#include "task/task_memory.hpp"

#include <nanorun/detail/task_memory.hpp>

#include "sys/thread_exit.hpp"

#include <atomic>
#include <cstdint>
#include <mutex>
#include <new>

namespace nanorun::detail {

namespace {

// Payload classes: every 64 bytes up to 512 (tasks differ by their result
// type and waiter, and a block twice too big is twice the memory a burst of
// a million tasks touches), then 1024.
constexpr std::size_t class_count = 9;
constexpr std::size_t large = class_count;

constexpr std::size_t class_of(std::size_t n) noexcept
{
  return n <= 512 ? (n == 0 ? 0 : (n - 1) / 64) : n <= 1024 ? 8 : large;
}
constexpr std::size_t class_bytes(std::size_t c) noexcept { return c < 8 ? (c + 1) * 64 : 1024; }
// Blocks an idle owner keeps per class (under 3 MiB in all).
constexpr std::size_t depth(std::size_t c) noexcept { return c < 4 ? 1024 : c < 8 ? 256 : 64; }
static_assert(class_of(64) == 0 && class_of(65) == 1 && class_of(512) == 7 && class_of(513) == 8);
static_assert(class_bytes(class_of(256)) == 256 && class_bytes(class_of(1000)) == 1024);

struct task_home;

struct alignas(16) block_header
{
  task_home* owner; // null: the heap's
  std::uint32_t cls;
};
static_assert(sizeof(block_header) == 16);

// A free block's link lives in its payload.
struct free_block
{
  block_header header;
  free_block* next;
};

free_block* const orphaned = reinterpret_cast<free_block*>(std::uintptr_t{1});

struct task_home
{
  // Pushed by any thread (CAS, release); exchanged whole by the owner
  // (acquire), or to `orphaned` when the owner thread ends.
  std::atomic<free_block*> remote{orphaned};
  free_block* stack[class_count] = {};
  std::size_t count[class_count] = {};
  task_home* next_pooled = nullptr; // guarded by pool_mutex
};

std::mutex pool_mutex;
task_home* pool = nullptr; // homes of threads that ended, guarded by pool_mutex

constinit thread_local task_home* this_thread_home = nullptr;

void* heap_block(std::size_t bytes, task_home* owner, std::size_t cls)
{
  auto* h = static_cast<block_header*>(::operator new(sizeof(block_header) + bytes));
  h->owner = owner;
  h->cls = static_cast<std::uint32_t>(cls);
  return h + 1;
}

void push_local(task_home& home, free_block* b) noexcept
{
  const std::size_t c = b->header.cls;
  b->next = home.stack[c];
  home.stack[c] = b;
  ++home.count[c];
}

// Sorts everything other threads returned into the owner's stacks.
bool take_remote(task_home& home) noexcept
{
  // A load first: a worker that parks often finds nothing, and a load does not
  // take the line away from the pushers.
  if (home.remote.load(std::memory_order_relaxed) == nullptr)
    return false;
  // Acquire: pairs with the pushers' release CAS.
  free_block* b = home.remote.exchange(nullptr, std::memory_order_acquire);
  if (!b)
    return false;
  while (b)
  {
    free_block* next = b->next;
    push_local(home, b);
    b = next;
  }
  return true;
}

void free_beyond(task_home& home, std::size_t keep_scale) noexcept
{
  for (std::size_t c = 0; c < class_count; ++c)
    while (home.count[c] > depth(c) * keep_scale)
    {
      free_block* b = home.stack[c];
      home.stack[c] = b->next;
      --home.count[c];
      ::operator delete(b);
    }
}

void detach_home(void* arg) noexcept
{
  auto* home = static_cast<task_home*>(arg);
  if (this_thread_home == home)
    this_thread_home = nullptr;
  // From here on pushers free to the heap; take what they pushed before.
  // Acquire: pairs with the pushers' release CAS.
  free_block* b = home->remote.exchange(orphaned, std::memory_order_acquire);
  while (b)
  {
    free_block* next = b->next;
    ::operator delete(b);
    b = next;
  }
  free_beyond(*home, 0);
  std::lock_guard lock(pool_mutex);
  home->next_pooled = pool;
  pool = home;
}

} // namespace

void attach_task_memory()
{
  if (this_thread_home)
    return;
  task_home* home = nullptr;
  {
    std::lock_guard lock(pool_mutex);
    if (pool)
    {
      home = pool;
      pool = home->next_pooled;
    }
  }
  if (!home)
    home = new task_home; // never freed: blocks may name it after this thread ends
  sys::at_thread_exit(&detach_home, home);
  // Relaxed: nothing was published while orphaned (pushers freed instead).
  home->remote.store(nullptr, std::memory_order_relaxed);
  this_thread_home = home;
}

void trim_task_memory() noexcept
{
  if (task_home* home = this_thread_home)
  {
    take_remote(*home);
    free_beyond(*home, 1);
  }
}

task_memory_stats this_thread_task_memory() noexcept
{
  task_memory_stats s;
  if (task_home* home = this_thread_home)
  {
    s.attached = true;
    for (std::size_t c = 0; c < class_count; ++c)
      s.local += home->count[c];
    s.remote_pending = home->remote.load(std::memory_order_acquire) != nullptr;
  }
  return s;
}

void* allocate_task_memory(std::size_t n)
{
  const std::size_t c = class_of(n);
  task_home* home = this_thread_home;
  if (c == large)
    return heap_block(n, nullptr, large);
  if (!home)
    return heap_block(class_bytes(c), nullptr, c);
  if (!home->stack[c])
    take_remote(*home);
  if (free_block* b = home->stack[c])
  {
    home->stack[c] = b->next;
    --home->count[c];
    return &b->header + 1;
  }
  return heap_block(class_bytes(c), home, c);
}

void deallocate_task_memory(void* p) noexcept
{
  auto* b = reinterpret_cast<free_block*>(static_cast<block_header*>(p) - 1);
  task_home* owner = b->header.owner;
  if (!owner)
  {
    ::operator delete(b);
    return;
  }
  if (owner == this_thread_home)
  {
    if (owner->count[b->header.cls] < depth(b->header.cls))
      push_local(*owner, b);
    else
      ::operator delete(b);
    return;
  }
  free_block* head = owner->remote.load(std::memory_order_relaxed);
  do
  {
    if (head == orphaned)
    {
      ::operator delete(b);
      return;
    }
    b->next = head;
    // Release: publishes b->next to the owner's acquire exchange.
  } while (!owner->remote.compare_exchange_weak(head, b, std::memory_order_release, std::memory_order_relaxed));
}

} // namespace nanorun::detail
