// The time layer: nanorun's timers.
//
// THE WHEEL (this file) is a hierarchical timing wheel in the manner of
// Varghese & Lauck: 6 levels of 64 slots, the first level 1 ms per slot, each
// level 64 times coarser than the one below (64 ms, 4.1 s, 4.4 min, 4.7 h,
// 12.4 days per slot), 2.18 years in all. An entry lives in the level where its
// deadline tick first differs from the wheel's current tick, in the slot that
// digit names; so every occupied slot starts after the current tick, and the
// lowest occupied level always holds the earliest slot. Insert and cancel are
// O(1) (an intrusive list per slot, a 64-bit occupancy word per level); when
// time reaches a slot, its entries are re-inserted and fall to lower levels
// ("cascading"), each entry moving at most five times.
//
// EXACT FIRING. A 1 ms wheel alone fires up to a tick late, and Asio fires
// timers at their exact deadline. So the last step is exact: when time enters
// the millisecond that holds an entry's deadline, the entry moves from the
// wheel into `near_`, a binary heap ordered by the exact deadline in
// nanoseconds, and it fires only when the clock has passed that deadline. The
// heap holds only the timers of the current millisecond or two, so it stays
// small; next_deadline() reports either the heap's top or the start of the next
// occupied slot, and whoever sleeps on the wheel sleeps exactly that long.
//
// STAGING. Cascading a busy 64 ms slot moves thousands of entries at once,
// each a cache miss, and nothing fires meanwhile: timers due right after a
// 64 ms boundary would fire milliseconds late. So the first level has two
// banks: while time runs through the current 64 ms block, prepare() moves the
// next block's level-1 slot, a few entries at a time, into the spare bank
// (whoever fires timers calls it when it has a moment). When time enters that
// block the banks swap, with no entry touched; whatever was not staged yet is
// cascaded as usual.
//
// BEYOND THE WHEEL. An entry whose tick differs from the current one above the
// wheel's 36 bits goes to an overflow list. When time reaches the start of the
// 2^36 ms block that holds the earliest overflow entry, the list is re-sorted
// into the wheel. Nothing ever fires early, and nothing is dropped.
//
// The wheel is a plain single-threaded structure; timer_queue.hpp puts locks
// around it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace nanorun::detail {

// Nanoseconds on the steady clock (its time_since_epoch()).
using timer_ns = std::int64_t;
inline constexpr timer_ns timer_never = std::numeric_limits<timer_ns>::max();

// A node the wheel can hold. Owned by whoever armed it; the wheel only links it.
struct timer_entry
{
  // (near_heap, not near: <windows.h>, which Asio includes on Windows, defines
  // `near` and `far` as empty macros.)
  enum class place : std::uint8_t { none, slot, near_heap, overflow };

  timer_entry* prev = nullptr; // slot or overflow list
  timer_entry* next = nullptr; // slot or overflow list; also the fired list
  timer_ns deadline = 0;       // exact, on the steady clock
  std::uint32_t index = 0;     // heap index (near) or row * 64 + slot (slot)
  place where = place::none;

  bool armed() const noexcept { return where != place::none; }
};

// A singly linked list of fired entries, in firing order.
struct timer_entry_list
{
  timer_entry* head = nullptr;
  timer_entry* tail = nullptr;
  std::size_t size = 0;

  void push(timer_entry* e) noexcept
  {
    e->next = nullptr;
    if (tail)
      tail->next = e;
    else
      head = e;
    tail = e;
    ++size;
  }
  timer_entry* pop() noexcept
  {
    timer_entry* e = head;
    if (e)
    {
      head = e->next;
      if (!head)
        tail = nullptr;
      e->next = nullptr;
      --size;
    }
    return e;
  }
};

class timer_wheel
{
public:
  static constexpr unsigned levels = 6;
  static constexpr unsigned slot_bits = 6;
  static constexpr unsigned slots = 1u << slot_bits;
  static constexpr timer_ns tick_ns = 1'000'000; // 1 ms

  // `now` is the steady time the wheel starts at; ticks count from it.
  explicit timer_wheel(timer_ns now) noexcept;
  timer_wheel(const timer_wheel&) = delete;
  timer_wheel& operator=(const timer_wheel&) = delete;

  // Links e (not armed) at e->deadline. May allocate (the near heap grows).
  void insert(timer_entry* e);

  // Unlinks an armed entry.
  void remove(timer_entry* e) noexcept;

  // Puts `to` where `from` is (its fields already copied from `from`, which
  // is then left unlinked): for an entry that lives inside an object that
  // moves. O(1); writes only the neighbours that point at `from`.
  void relocate(timer_entry* from, timer_entry* to) noexcept;

  // Moves time forward to `now` and appends every entry whose deadline is at
  // or before `now` to `fired`, earliest first. Time never moves backwards.
  void advance(timer_ns now, timer_entry_list& fired);

  // Stages up to `budget` entries of the next 64 ms block (see STAGING).
  // Returns true if more could be staged now.
  bool prepare(std::size_t budget) noexcept;

  // When advance() next has something to do: the earliest exact deadline in
  // the near heap, or the start of the next occupied slot. timer_never if empty.
  timer_ns next_deadline() const noexcept;

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

private:
  using tick_t = std::uint64_t;

  tick_t tick_of(timer_ns t) const noexcept;
  timer_ns time_of(tick_t tick) const noexcept;
  void place(timer_entry* e);                          // by deadline, relative to elapsed_
  void set_elapsed(tick_t t) noexcept;                 // swaps the banks when t enters the staged block
  tick_t next_slot_tick(unsigned& row, unsigned& slot) const noexcept; // ~0 if none
  void link(unsigned row, unsigned slot, timer_entry* e) noexcept;
  void heap_push(timer_entry* e);
  void heap_remove(timer_entry* e) noexcept;
  void heap_up(std::size_t i) noexcept;
  void heap_down(std::size_t i) noexcept;
  static void list_push(timer_entry*& head, timer_entry* e) noexcept;
  static void list_unlink(timer_entry*& head, timer_entry* e) noexcept;

  timer_ns origin_;  // steady time of tick 0
  tick_t elapsed_ = 0; // the current tick: every slot entry is due after it
  std::size_t size_ = 0;
  // Rows 1..5 are levels 1..5; rows 0 and `levels` are the two banks of
  // level 0, the current one being row bank_ and the other the staging bank.
  static constexpr unsigned rows = levels + 1;
  std::uint64_t occupied_[rows] = {};
  timer_entry* slots_[rows][slots] = {};
  unsigned bank_ = 0;
  tick_t staged_block_ = ~tick_t{0}; // first tick of the staged block; ~0: nothing staged
  std::vector<timer_entry*> near_;     // min-heap on deadline
  timer_entry* overflow_ = nullptr;    // entries beyond the wheel's range
  tick_t overflow_tick_ = ~tick_t{0};  // when to re-sort the overflow list; may be early, never late
};

} // namespace nanorun::detail
