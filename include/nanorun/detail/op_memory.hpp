// Memory for queued operations.
//
// A thread inside run*() owns an op_cache: a small stack of free blocks per
// size class. Posting from inside the runtime takes a block from the cache of
// the posting thread; running the operation returns the block to the cache of
// the running thread. In the steady state (a handler posting its successor, a
// coroutine resuming) no call reaches malloc. Threads outside run*() have no
// cache and use operator new directly, as Asio's do.
//
// Handlers with an associated allocator other than std::allocator<void> are
// allocated with that allocator instead (see fn_op.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>

namespace nanorun::detail {

struct op_cache
{
  static constexpr std::size_t class_count = 5; // 64, 128, 256, 512, 1024 bytes
  static constexpr std::size_t max_depth = 1024;

  // Blocks kept per class: deep for the small classes that type-erased
  // handlers fall into, so a burst of a thousand posts recycles too; shallow
  // for the large ones, to bound what an idle thread holds (about 0.5 MiB).
  static constexpr std::size_t depth(std::size_t c) noexcept { return c <= 1 ? max_depth : 64; }

  static constexpr std::size_t class_of(std::size_t n) noexcept
  {
    return n <= 64 ? 0 : n <= 128 ? 1 : n <= 256 ? 2 : n <= 512 ? 3 : n <= 1024 ? 4 : class_count;
  }
  static constexpr std::size_t class_bytes(std::size_t c) noexcept { return std::size_t{64} << c; }

  void* blocks[class_count][max_depth];
  std::uint32_t count[class_count] = {};

  op_cache() noexcept = default;
  op_cache(const op_cache&) = delete;
  op_cache& operator=(const op_cache&) = delete;
  ~op_cache()
  {
    for (std::size_t c = 0; c < class_count; ++c)
      while (count[c])
        ::operator delete(blocks[c][--count[c]]);
  }
};

// The cache of the calling thread, or null outside run*(). Written only by the
// thread itself (on entry to and exit from run*()).
extern constinit thread_local op_cache* this_thread_op_cache;

inline void* allocate_op_memory(std::size_t n)
{
  const std::size_t c = op_cache::class_of(n);
  if (c == op_cache::class_count)
    return ::operator new(n);
  if (op_cache* cache = this_thread_op_cache; cache && cache->count[c])
    return cache->blocks[c][--cache->count[c]];
  return ::operator new(op_cache::class_bytes(c));
}

inline void deallocate_op_memory(void* p, std::size_t n) noexcept
{
  const std::size_t c = op_cache::class_of(n);
  if (c == op_cache::class_count)
  {
    ::operator delete(p);
    return;
  }
  if (op_cache* cache = this_thread_op_cache; cache && cache->count[c] < op_cache::depth(c))
  {
    cache->blocks[c][cache->count[c]++] = p;
    return;
  }
  ::operator delete(p);
}

// Memory for one operation object of type Op, from the handler's associated
// allocator, or from the per-thread cache when that is std::allocator.
template <class Op, class Allocator>
struct op_allocation
{
  static constexpr bool uses_cache = std::is_same_v<Allocator, std::allocator<void>>;
  using rebound = typename std::allocator_traits<Allocator>::template rebind_alloc<Op>;

  static void* allocate(const Allocator& a)
  {
    if constexpr (uses_cache)
    {
      (void)a;
      if constexpr (alignof(Op) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__)
        return allocate_op_memory(sizeof(Op));
      else
        return ::operator new(sizeof(Op), std::align_val_t{alignof(Op)});
    }
    else
    {
      rebound r(a);
      return std::allocator_traits<rebound>::allocate(r, 1);
    }
  }

  static void deallocate(const Allocator& a, void* p) noexcept
  {
    if constexpr (uses_cache)
    {
      (void)a;
      if constexpr (alignof(Op) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__)
        deallocate_op_memory(p, sizeof(Op));
      else
        ::operator delete(p, std::align_val_t{alignof(Op)});
    }
    else
    {
      rebound r(a);
      std::allocator_traits<rebound>::deallocate(r, static_cast<Op*>(p), 1);
    }
  }
};

} // namespace nanorun::detail
