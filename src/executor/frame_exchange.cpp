// The frame exchange (see frame_exchange.hpp).
#include "executor/frame_exchange.hpp"
#include "executor/asio_private.hpp"

#include <boost/asio/detail/memory.hpp>
#include <boost/asio/detail/thread_context.hpp>
#include <boost/asio/detail/thread_info_base.hpp>
#include <boost/version.hpp>

namespace nanorun::detail {

#if BOOST_VERSION == 108100
// Asio's per-thread cache of recycled blocks (executor/asio_private.hpp).
NANORUN_ASIO_PRIVATE(reusable_memory_tag, &boost::asio::detail::thread_info_base::reusable_memory_);
#endif

namespace {

namespace ad = boost::asio::detail;

#if BOOST_VERSION == 108100
constexpr bool exchange_supported = true;

// The calling thread's cached awaitable frame blocks, or null.
void** frame_cache() noexcept
{
  ad::thread_info_base* info = ad::thread_context::top_of_thread_call_stack();
  if (!info)
    return nullptr;
  return &(info->*member(reusable_memory_tag{}))[ad::thread_info_base::awaitable_frame_tag::begin_mem_index];
}
constexpr int cache_size = ad::thread_info_base::awaitable_frame_tag::cache_size;
#else
constexpr bool exchange_supported = false;
void** frame_cache() noexcept { return nullptr; }
constexpr int cache_size = 0;
#endif

// A stash keeps this many blocks before it gives a batch away.
constexpr std::size_t stash_limit = 64;
constexpr std::size_t batch = 32;
// The shared list holds about this many blocks at most (a few MB of frames).
constexpr std::size_t shared_limit = 8192;
// A worker that takes the shared list frees the surplus that is its own
// (beyond frame_exchange::taken_keep), this many blocks per refill.
constexpr std::size_t trim_per_refill = 4;
// The size of glibc's non-main heaps on 64-bit systems (HEAP_MAX_SIZE): the
// window within which blocks most likely share an arena.
constexpr unsigned home_shift = 26;

void*& link(void* block) noexcept
{
  return *reinterpret_cast<void**>(static_cast<unsigned char*>(block) + 8);
}

// Blocks too small to hold the link stay in Asio's cache.
bool linkable(void* block) noexcept
{
  return static_cast<unsigned char*>(block)[0] >= 4; // >= 16 bytes
}

void free_list(void* head) noexcept
{
  while (head)
  {
    void* next = link(head);
    boost::asio::aligned_delete(head);
    head = next;
  }
}

} // namespace

std::uintptr_t frame_exchange::home_of(const void* p) noexcept
{
  return reinterpret_cast<std::uintptr_t>(p) >> home_shift;
}

void frame_exchange::attach(frame_stash& stash) noexcept
{
  // Asio's cache has two blocks per purpose in Boost 1.81; the code below
  // relies on it.
  stash.cache = exchange_supported && cache_size == 2 ? frame_cache() : nullptr;
  // Where this thread's allocations come from (its malloc arena is chosen
  // at its first allocation and kept).
  void* probe = boost::asio::aligned_new(alignof(std::max_align_t), 64);
  stash.home = home_of(probe);
  boost::asio::aligned_delete(probe);
}

frame_exchange::~frame_exchange()
{
  // Acquire: pairs with give()'s release.
  free_list(head_.exchange(nullptr, std::memory_order_acquire));
}

void frame_exchange::harvest(frame_stash& stash) noexcept
{
  void** cache = stash.cache;
  for (int i = 0; i < 2; ++i)
  {
    if (!linkable(cache[i]))
      continue;
    link(cache[i]) = stash.head;
    stash.head = cache[i];
    cache[i] = nullptr;
    ++stash.count;
  }
  if (stash.count > stash_limit)
  {
    void* first = stash.head;
    void* last = first;
    for (std::size_t i = 1; i < batch; ++i)
      last = link(last);
    stash.head = link(last);
    link(last) = nullptr;
    stash.count -= batch;
    give(first, last, batch);
  }
}

void frame_exchange::refill(frame_stash& stash) noexcept
{
  void** cache = stash.cache;
  for (int i = 0; i < 2; ++i)
  {
    if (cache[i])
      continue;
    void* b;
    if (stash.head)
    {
      b = stash.head;
      stash.head = link(b);
      --stash.count;
    }
    else
    {
      if (!stash.taken)
      {
        // Acquire: pairs with give()'s release, so the blocks' links and
        // sizes written by the giving worker are visible. The length is not
        // counted: that would touch every block (see frame_stash::taken).
        stash.taken = head_.exchange(nullptr, std::memory_order_acquire);
        // Approximate, see give().
        const std::size_t n = count_.exchange(0, std::memory_order_relaxed);
        if (!stash.taken)
          return;
        stash.surplus = n > taken_keep ? n - taken_keep : 0;
      }
      b = stash.taken;
      stash.taken = link(b);
    }
    cache[i] = b;
  }
  // The surplus, while the next block is this worker's own (a block from
  // another arena stops it: it will serve as a cache block instead).
  for (std::size_t k = 0; k < trim_per_refill && stash.surplus && stash.taken; ++k)
  {
    void* b = stash.taken;
    if (home_of(b) != stash.home)
      break;
    stash.taken = link(b);
    --stash.surplus;
    boost::asio::aligned_delete(b);
  }
}

void frame_exchange::give(void* first, void* last, std::size_t n) noexcept
{
  // count_ is raised before the chain is pushed and cleared after a taker's
  // exchange, so a give that races a take may be left uncounted: the list
  // can then run past shared_limit by the batches in flight at that moment,
  // and every take empties it again, so it stays bounded.
  if (count_.load(std::memory_order_relaxed) >= shared_limit)
  {
    free_list(first);
    return;
  }
  count_.fetch_add(n, std::memory_order_relaxed);
  void* old = head_.load(std::memory_order_relaxed);
  do
    link(last) = old;
  // Release: publishes the chain's links (and the blocks' contents) to the
  // taker's acquire exchange.
  while (!head_.compare_exchange_weak(old, first, std::memory_order_release, std::memory_order_relaxed));
}

void frame_exchange::leave(frame_stash& stash) noexcept
{
  // Rare (a worker leaves run()): walking both lists to their ends is fine.
  for (void* list : {stash.head, stash.taken})
  {
    if (!list)
      continue;
    void* last = list;
    std::size_t n = 1;
    for (; link(last); ++n)
      last = link(last);
    give(list, last, n);
  }
  stash.head = nullptr;
  stash.count = 0;
  stash.taken = nullptr;
  stash.surplus = 0;
}

} // namespace nanorun::detail
