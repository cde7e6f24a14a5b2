// Global operator new/delete replacements that count allocations.
//
// Boost.Asio (1.79 and later) allocates its handler memory with
// std::aligned_alloc rather than operator new, so aligned_alloc is interposed
// too (the executable's definition wins over glibc's at dynamic link time);
// without it Asio's per-handler allocations would be invisible. It is
// implemented on posix_memalign, which is not interposed.
//
// Each thread increments its own cache-line-sized shard (relaxed fetch_add),
// so counting does not make the allocating threads of a multi-threaded peer
// bounce a shared line between cores and skew the comparison. allocations()
// sums the shards. Two live threads that hash to the same shard still count
// correctly (the add is atomic); they merely share a line.
#include "alloc_count.hpp"

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace {

constexpr std::size_t shard_count = 64;

struct alignas(64) shard
{
  std::atomic<std::uint64_t> n{0};
};

shard shards[shard_count];
std::atomic<std::size_t> next_shard{0};

std::atomic<std::uint64_t>& my_counter() noexcept
{
  thread_local std::atomic<std::uint64_t>* mine =
      &shards[next_shard.fetch_add(1, std::memory_order_relaxed) % shard_count].n;
  return *mine;
}

void* counted_alloc(std::size_t n)
{
  my_counter().fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1))
    return p;
  throw std::bad_alloc();
}

void* counted_alloc_aligned(std::size_t n, std::align_val_t al)
{
  my_counter().fetch_add(1, std::memory_order_relaxed);
  std::size_t a = static_cast<std::size_t>(al);
  if (a < sizeof(void*))
    a = sizeof(void*);
  void* p = nullptr;
  if (::posix_memalign(&p, a, n ? n : 1) == 0)
    return p;
  throw std::bad_alloc();
}

} // namespace

namespace bench {

std::uint64_t allocations() noexcept
{
  std::uint64_t sum = 0;
  for (auto& s : shards)
    sum += s.n.load(std::memory_order_relaxed);
  return sum;
}

} // namespace bench

extern "C" void* aligned_alloc(std::size_t alignment, std::size_t size) noexcept
{
  my_counter().fetch_add(1, std::memory_order_relaxed);
  if (alignment < sizeof(void*))
    alignment = sizeof(void*);
  void* p = nullptr;
  return ::posix_memalign(&p, alignment, size ? size : 1) == 0 ? p : nullptr;
}

// The replaceable allocation functions ([new.delete]). Every form is replaced
// so that no allocation bypasses the count and every block is freed by free().
void* operator new(std::size_t n) { return counted_alloc(n); }
void* operator new[](std::size_t n) { return counted_alloc(n); }
void* operator new(std::size_t n, std::align_val_t a) { return counted_alloc_aligned(n, a); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted_alloc_aligned(n, a); }

void* operator new(std::size_t n, const std::nothrow_t&) noexcept
{
  try { return counted_alloc(n); } catch (...) { return nullptr; }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept
{
  try { return counted_alloc(n); } catch (...) { return nullptr; }
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept
{
  try { return counted_alloc_aligned(n, a); } catch (...) { return nullptr; }
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept
{
  try { return counted_alloc_aligned(n, a); } catch (...) { return nullptr; }
}

void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
