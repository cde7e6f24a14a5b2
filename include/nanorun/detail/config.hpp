// Build-wide knobs for nanorun. Everything here is a compile-time constant so
// the stress build (NANORUN_STRESS) can shrink queues and hit wrap-around and
// overflow paths quickly, as tokio's loom build does.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#ifndef NANORUN_STRESS
#define NANORUN_STRESS 0
#endif

namespace nanorun::detail {

// Whether this is a ThreadSanitizer build (gcc defines __SANITIZE_THREAD__,
// clang answers __has_feature). TSan does not model standalone fences or
// intercept every syscall, so a few places choose an equivalent it can see.
#if defined(__SANITIZE_THREAD__)
inline constexpr bool built_with_tsan = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr bool built_with_tsan = true;
#else
inline constexpr bool built_with_tsan = false;
#endif
#else
inline constexpr bool built_with_tsan = false;
#endif

// Capacity of a worker's local run queue; a power of two.
inline constexpr std::uint32_t local_queue_capacity = NANORUN_STRESS ? 8u : 256u;

// A worker takes the injector first every this many ticks, so remote work can
// never starve behind a busy local queue (Go's schedtick % 61).
inline constexpr std::uint32_t injector_interval = 61;

// Consecutive LIFO-slot polls allowed before the slot's occupant goes to the
// back of the queue (tokio's MAX_LIFO_POLLS_PER_TICK).
inline constexpr std::uint32_t max_lifo_polls = 3;

// Work units a worker pre-acquires from the shared outstanding-work counter,
// so that counting posted work costs no shared atomic in the steady state.
inline constexpr std::int64_t work_credit_batch = NANORUN_STRESS ? 1 : 64;

// How long a worker that ran out of work watches the queues before it parks.
inline constexpr std::chrono::microseconds spin_before_park{NANORUN_STRESS ? 0 : 20};

// How long an idle worker watches a queue holding a single item, whose owner
// has not popped anything meanwhile, before it takes the item (see
// local_queue::steal_into). Long enough that a chain of short handlers
// (post, return, pop) never bounces between cores; short enough that work
// posted by a handler that then computes starts on another thread almost at
// once, as it would on io_context.
inline constexpr std::chrono::microseconds lone_item_patience{NANORUN_STRESS ? 0 : 5};

// How early the timer driver wakes from its futex before a timer deadline, to
// spin the rest of the way. The kernel's default timer slack is 50 us, and a
// wake-up on an idle vCPU takes tens of microseconds more: at 60 us, half of
// the sparse timers on two workers still fired 50 us late; at 120 us, 6 us.
// The price is up to 120 us of spinning per timer wake-up.
inline constexpr std::chrono::microseconds timer_park_margin{120};

// Timer entries a worker moves into the next 64 ms bank (see STAGING in
// src/time/wheel.hpp) each time it has a moment: each is a cache miss or so,
// so this bounds the delay it can add to anything else to a few microseconds.
inline constexpr std::size_t timer_stage_budget = 16;

// Most threads that may be inside one runtime's run*() at once.
inline constexpr std::size_t max_workers = 512;

} // namespace nanorun::detail
