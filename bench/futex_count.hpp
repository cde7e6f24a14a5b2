// futex(2) calls made by the benchmark's threads, counted by the kernel.
//
// Each wake-up of a parked thread (and each contended lock) is a futex call;
// counting them per operation shows whether a scheduler wakes one worker per
// burst or one per item. The count comes from a perf tracepoint counter
// (syscalls:sys_enter_futex) opened by main() before any other thread exists,
// with `inherit` set: every thread created later gets its own counter, which
// the kernel adds to main's when the thread exits. So the total is exact for
// threads that have exited (timed_run joins the peer's threads before it
// reads) and for the calling thread; threads still running are not included.
#pragma once

#include <cstdint>
#include <optional>

namespace bench {

/// Opens the counter; call once, before any thread is created. Returns false
/// (and futex_calls() stays empty) where the kernel or permissions refuse it.
bool start_futex_counting() noexcept;

/// In a child just forked from a process that counts: drops the parent's
/// counter (the child's calls would not show in it) and opens the child's own.
/// Call before the child creates any thread.
bool restart_futex_counting_after_fork() noexcept;

/// futex(2) calls so far by this thread and every exited thread created after
/// start_futex_counting(); empty if counting is unavailable.
std::optional<std::uint64_t> futex_calls() noexcept;

} // namespace bench
