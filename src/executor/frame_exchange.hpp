// FRAME EXCHANGE: coroutine frames that cross workers go back to a worker
// that allocates, without malloc's locks.
//
// Asio allocates awaitable frames through the calling thread's thread_info
// (two cached blocks per thread, awaitable_frame_tag), falling back to
// malloc. When one worker spawns and another runs and frees the children,
// every frame crosses threads: the freeing worker's two blocks are full after
// one child, so it hands the rest to free(), which takes the allocating
// thread's malloc arena lock, while the allocating worker, whose blocks are
// always empty, takes the same lock in malloc (perf: 99% of the 1.7 futex
// calls per co_spawn on two workers were glibc's arena lock).
//
// The exchange closes that loop, adaptively, between handlers:
//   * a worker whose two frame blocks are both full after a handler frees
//     more frames than it allocates: it moves them to its stash (a list in
//     its thread_state), so that the next handler's frees are cached too;
//   * a worker with room in its two blocks (after a handler, or when it
//     posts from inside a long handler, as a spawning loop does) fills them
//     from its stash, and an empty stash takes the whole runtime-wide list;
//   * a stash above a bound gives a batch to the runtime-wide list (one CAS
//     per batch); the list itself is bounded, beyond which the giver frees
//     its batches;
//   * a worker that takes a long list frees the blocks it will not want, a
//     few per refill, but only those that came from its own malloc arena.
//     Freeing a block takes its arena's lock: freed by the worker that
//     allocated it, the lock is that worker's own and uncontended, while a
//     free by any other worker contends with the allocations its owner is
//     making (in a two-worker co_spawn fan-out, where the list filled up
//     and its giver freed the spawning worker's frames, that was 0.3-0.8
//     futex calls per spawn, nearly all of them). Which arena a block came
//     from is guessed from its address: glibc carves a thread's arena out of
//     64 MiB-aligned heaps, so a block in the same 64 MiB window as the
//     worker's own allocations is almost surely its own. A wrong guess only
//     costs the contended free that the giver would have made anyway.
// A worker that allocates and frees alike keeps one block in its cache and
// never gets here, so balanced workloads do not touch the shared word.
//
// Blocks are Asio's (aligned_new, freed with aligned_delete); byte 0 holds
// their size in 4-byte chunks, as Asio's cache keeps it, and the link lives
// at offset 8. Written against Boost 1.81's thread_info_base (private member
// access, as the Asio bridge does); other versions get no exchange.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace nanorun::detail {

struct frame_stash
{
  void** cache = nullptr; // the thread's cached frame blocks in Asio's thread_info (attach())
  // Blocks this worker freed (harvested), with their exact count: the only
  // list batches are given away from, since its lines are in this core's
  // cache and walking it to cut a batch costs no misses.
  void* head = nullptr;
  std::size_t count = 0;
  // A list taken whole from the exchange: blocks the other workers freed.
  // Only ever popped from the front, one block per refill, because each
  // block's line is a miss on this core; never walked, never given back.
  void* taken = nullptr;
  // How many blocks of `taken` are beyond what this worker will want, and
  // the address range its own allocations come from (see
  // frame_exchange::refill(): it frees the surplus that is its own).
  std::size_t surplus = 0;
  std::uintptr_t home = 0;
};

class frame_exchange
{
public:
  frame_exchange() = default;
  ~frame_exchange();
  frame_exchange(const frame_exchange&) = delete;
  frame_exchange& operator=(const frame_exchange&) = delete;

  // A worker enters run(), inside Asio's thread call stack: finds its cache.
  static void attach(frame_stash& stash) noexcept;
  // Between handlers on a worker: moves full frame caches to the stash, or
  // refills empty ones. Inline: it runs after every handler, and a post
  // chain (no frames at all) must pay no more than a few loads.
  void after_handler(frame_stash& stash) noexcept
  {
    void** c = stash.cache;
    if (!c)
      return;
    if (c[0] && c[1])
      harvest(stash);
    else if (stash.head || stash.taken || head_.load(std::memory_order_relaxed))
      refill(stash);
  }
  // From post() inside a handler (a loop that spawns allocates frames
  // between its posts): refills the frame cache if it has room.
  void before_allocation(frame_stash& stash) noexcept
  {
    void** c = stash.cache;
    if (c && (!c[0] || !c[1]) && (stash.head || stash.taken || head_.load(std::memory_order_relaxed)))
      refill(stash);
  }
  // The worker leaves run(): its stash goes to the shared list.
  void leave(frame_stash& stash) noexcept;
  // The address window of the malloc heap that p most likely came from
  // (frame_stash::home); see the list above.
  static std::uintptr_t home_of(const void* p) noexcept;
  // A taker keeps this many blocks of a list it takes (the rest is surplus).
  static constexpr std::size_t taken_keep = 256;

private:
  void harvest(frame_stash& stash) noexcept;
  void refill(frame_stash& stash) noexcept;
  void give(void* first, void* last, std::size_t n) noexcept;

  // A Treiber list: pushers CAS a chain on, the taker exchanges the whole
  // list out (no pop of single nodes, so no ABA).
  std::atomic<void*> head_{nullptr};
  std::atomic<std::size_t> count_{0}; // approximate: bounds the list, nothing more (see give())
};

} // namespace nanorun::detail
