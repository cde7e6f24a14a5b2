// The hierarchical wheel; the design is described in wheel.hpp.
#include "time/wheel.hpp"

#include <algorithm>
#include <bit>
#include <cassert>

namespace nanorun::detail {

namespace {
constexpr unsigned wheel_bits = timer_wheel::levels * timer_wheel::slot_bits; // 36
} // namespace

timer_wheel::timer_wheel(timer_ns now) noexcept : origin_(now) {}

timer_wheel::tick_t timer_wheel::tick_of(timer_ns t) const noexcept
{
  // Rounds down: an entry reaches the near heap at the start of its
  // millisecond, and the heap compares exact deadlines, so nothing is early.
  if (t <= origin_)
    return 0;
  return static_cast<tick_t>(t - origin_) / static_cast<tick_t>(tick_ns);
}

timer_ns timer_wheel::time_of(tick_t tick) const noexcept
{
  const tick_t max_ticks = static_cast<tick_t>(timer_never - origin_) / static_cast<tick_t>(tick_ns);
  if (tick >= max_ticks)
    return timer_never;
  return origin_ + static_cast<timer_ns>(tick) * tick_ns;
}

void timer_wheel::insert(timer_entry* e)
{
  assert(!e->armed());
  place(e);
  ++size_;
}

void timer_wheel::place(timer_entry* e)
{
  const tick_t t = tick_of(e->deadline);
  if (t <= elapsed_)
  {
    heap_push(e);
    return;
  }
  // The level is the 6-bit digit where t and the current tick first differ
  // (from the top); the slot is t's digit there. `| (slots - 1)` sends ticks
  // that differ only in the lowest digit to level 0.
  const tick_t differ = (elapsed_ ^ t) | (slots - 1);
  const unsigned level = static_cast<unsigned>(63 - std::countl_zero(differ)) / slot_bits;
  if (level >= levels)
  {
    list_push(overflow_, e);
    e->where = timer_entry::place::overflow;
    // The start of t's 2^36-tick block: from there on t fits in the wheel.
    const tick_t block = t & ~((tick_t{1} << wheel_bits) - 1);
    overflow_tick_ = std::min(overflow_tick_, block);
    return;
  }
  const unsigned slot = static_cast<unsigned>(t >> (level * slot_bits)) & (slots - 1);
  link(level == 0 ? bank_ : level, slot, e);
}

void timer_wheel::link(unsigned row, unsigned slot, timer_entry* e) noexcept
{
  list_push(slots_[row][slot], e);
  occupied_[row] |= std::uint64_t{1} << slot;
  e->index = row * slots + slot;
  e->where = timer_entry::place::slot;
}

void timer_wheel::set_elapsed(tick_t t) noexcept
{
  if (t >= staged_block_)
  {
    // The current bank is empty: all of its ticks came before the staged
    // block, and time only gets here after firing them.
    assert(occupied_[bank_] == 0);
    bank_ = bank_ == 0 ? levels : 0;
    staged_block_ = ~tick_t{0};
  }
  elapsed_ = t;
}

bool timer_wheel::prepare(std::size_t budget) noexcept
{
  const tick_t block = (elapsed_ | (slots - 1)) + 1;
  // The next block's entries sit in one level-1 slot only while that block
  // is inside the current level-2 slot; otherwise they are higher up, and
  // cascade as usual (once every 4 s).
  if ((block >> (2 * slot_bits)) != (elapsed_ >> (2 * slot_bits)))
    return false;
  const unsigned from = static_cast<unsigned>(block >> slot_bits) & (slots - 1);
  if (!(occupied_[1] & (std::uint64_t{1} << from)))
    return false;
  assert(staged_block_ == ~tick_t{0} || staged_block_ == block);
  staged_block_ = block;
  const unsigned spare = bank_ == 0 ? levels : 0;
  for (; budget && slots_[1][from]; --budget)
  {
    timer_entry* e = slots_[1][from];
    list_unlink(slots_[1][from], e);
    link(spare, static_cast<unsigned>(tick_of(e->deadline)) & (slots - 1), e);
  }
  if (slots_[1][from])
    return true;
  occupied_[1] &= ~(std::uint64_t{1} << from);
  return false;
}

void timer_wheel::remove(timer_entry* e) noexcept
{
  switch (e->where)
  {
  case timer_entry::place::slot: {
    const unsigned row = e->index / slots;
    const unsigned slot = e->index % slots;
    list_unlink(slots_[row][slot], e);
    if (!slots_[row][slot])
      occupied_[row] &= ~(std::uint64_t{1} << slot);
    break;
  }
  case timer_entry::place::near_heap:
    heap_remove(e);
    break;
  case timer_entry::place::overflow:
    list_unlink(overflow_, e);
    if (!overflow_)
      overflow_tick_ = ~tick_t{0};
    break;
  case timer_entry::place::none:
    return;
  }
  e->where = timer_entry::place::none;
  --size_;
}

void timer_wheel::relocate(timer_entry* from, timer_entry* to) noexcept
{
  switch (from->where)
  {
  case timer_entry::place::slot:
  case timer_entry::place::overflow: {
    timer_entry*& head = from->where == timer_entry::place::overflow
                             ? overflow_
                             : slots_[from->index / slots][from->index % slots];
    if (from->prev)
      from->prev->next = to;
    else
      head = to;
    if (from->next)
      from->next->prev = to;
    break;
  }
  case timer_entry::place::near_heap:
    near_[from->index] = to;
    break;
  case timer_entry::place::none:
    return;
  }
  from->prev = from->next = nullptr;
  from->where = timer_entry::place::none;
}

timer_wheel::tick_t timer_wheel::next_slot_tick(unsigned& row, unsigned& slot) const noexcept
{
  // Every occupied slot starts after elapsed_, within elapsed_'s slot of the
  // level above; the staged bank holds the block right after the current one.
  tick_t best = ~tick_t{0};
  auto consider = [&](unsigned r, tick_t base, unsigned shift) {
    if (!occupied_[r])
      return;
    const unsigned s = static_cast<unsigned>(std::countr_zero(occupied_[r]));
    const tick_t tick = base + (tick_t{s} << shift);
    if (tick < best)
    {
      best = tick;
      row = r;
      slot = s;
    }
  };
  for (unsigned l = 0; l < levels; ++l)
  {
    const unsigned shift = l * slot_bits;
    consider(l == 0 ? bank_ : l, elapsed_ & ~((tick_t{1} << (shift + slot_bits)) - 1), shift);
  }
  if (staged_block_ != ~tick_t{0})
    consider(bank_ == 0 ? levels : 0, staged_block_, 0);
  return best;
}

void timer_wheel::advance(timer_ns now, timer_entry_list& fired)
{
  const tick_t now_tick = tick_of(now);
  for (;;)
  {
    unsigned row = 0;
    unsigned slot = 0;
    const tick_t slot_tick = next_slot_tick(row, slot);
    const tick_t next = std::min(slot_tick, overflow_tick_);
    if (next > now_tick)
      break;
    assert(next >= elapsed_);
    set_elapsed(next);
    timer_entry* list;
    if (slot_tick <= overflow_tick_)
    {
      // A staged slot keeps its row through the swap: it is now level 0.
      list = slots_[row][slot];
      slots_[row][slot] = nullptr;
      occupied_[row] &= ~(std::uint64_t{1} << slot);
    }
    else
    {
      list = overflow_;
      overflow_ = nullptr;
      overflow_tick_ = ~tick_t{0};
    }
    // Re-place relative to the new tick: each entry lands in a lower level,
    // in the near heap, or (overflow only) back in the overflow list.
    while (list)
    {
      timer_entry* e = list;
      list = e->next;
      e->prev = e->next = nullptr;
      e->where = timer_entry::place::none;
      place(e);
    }
  }
  if (now_tick > elapsed_)
    set_elapsed(now_tick);
  while (!near_.empty() && near_.front()->deadline <= now)
  {
    timer_entry* e = near_.front();
    heap_remove(e);
    e->where = timer_entry::place::none;
    --size_;
    fired.push(e);
  }
}

timer_ns timer_wheel::next_deadline() const noexcept
{
  timer_ns best = near_.empty() ? timer_never : near_.front()->deadline;
  unsigned row = 0;
  unsigned slot = 0;
  const tick_t tick = std::min(next_slot_tick(row, slot), overflow_tick_);
  if (tick != ~tick_t{0})
    best = std::min(best, time_of(tick));
  return best;
}

void timer_wheel::heap_push(timer_entry* e)
{
  // push_back first: if it throws, e is left as it was (not armed).
  const auto i = static_cast<std::uint32_t>(near_.size());
  near_.push_back(e);
  e->where = timer_entry::place::near_heap;
  e->index = i;
  heap_up(i);
}

void timer_wheel::heap_remove(timer_entry* e) noexcept
{
  const std::size_t i = e->index;
  timer_entry* last = near_.back();
  near_.pop_back();
  if (last == e)
    return;
  near_[i] = last;
  last->index = static_cast<std::uint32_t>(i);
  heap_down(i);
  heap_up(last->index);
}

void timer_wheel::heap_up(std::size_t i) noexcept
{
  timer_entry* e = near_[i];
  while (i > 0)
  {
    const std::size_t parent = (i - 1) / 2;
    if (near_[parent]->deadline <= e->deadline)
      break;
    near_[i] = near_[parent];
    near_[i]->index = static_cast<std::uint32_t>(i);
    i = parent;
  }
  near_[i] = e;
  e->index = static_cast<std::uint32_t>(i);
}

void timer_wheel::heap_down(std::size_t i) noexcept
{
  const std::size_t n = near_.size();
  timer_entry* e = near_[i];
  for (;;)
  {
    std::size_t child = 2 * i + 1;
    if (child >= n)
      break;
    if (child + 1 < n && near_[child + 1]->deadline < near_[child]->deadline)
      ++child;
    if (e->deadline <= near_[child]->deadline)
      break;
    near_[i] = near_[child];
    near_[i]->index = static_cast<std::uint32_t>(i);
    i = child;
  }
  near_[i] = e;
  e->index = static_cast<std::uint32_t>(i);
}

void timer_wheel::list_push(timer_entry*& head, timer_entry* e) noexcept
{
  e->prev = nullptr;
  e->next = head;
  if (head)
    head->prev = e;
  head = e;
}

void timer_wheel::list_unlink(timer_entry*& head, timer_entry* e) noexcept
{
  if (e->prev)
    e->prev->next = e->next;
  else
    head = e->next;
  if (e->next)
    e->next->prev = e->prev;
  e->prev = e->next = nullptr;
}

} // namespace nanorun::detail
