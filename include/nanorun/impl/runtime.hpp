// Template bodies of nanorun::runtime.
#pragma once

#include <algorithm>

namespace nanorun {

template <class Clock, class Duration>
runtime::count_type runtime::run_chunked(std::size_t max_handlers,
                                         const std::chrono::time_point<Clock, Duration>& abs_time)
{
  // Wait in chunks of at most a second, measured on the steady clock, so that a
  // change of a non-steady clock is noticed (io_context does the same).
  count_type n = 0;
  for (;;)
  {
    const auto now = Clock::now();
    if (now >= abs_time)
      return n;
    const auto left = std::min<typename Clock::duration>(abs_time - now, std::chrono::seconds(1));
    const steady_time chunk_end =
        std::chrono::steady_clock::now() + std::chrono::ceil<std::chrono::steady_clock::duration>(left);
    const count_type ran = run_steady(max_handlers - n, true, &chunk_end);
    n += ran;
    if (n >= max_handlers || stopped())
      return n;
  }
}

template <class Rep, class Period>
runtime::count_type runtime::run_for(const std::chrono::duration<Rep, Period>& rel_time)
{
  return run_until(std::chrono::steady_clock::now() + rel_time);
}

template <class Clock, class Duration>
runtime::count_type runtime::run_until(const std::chrono::time_point<Clock, Duration>& abs_time)
{
  return run_chunked(static_cast<std::size_t>(-1), abs_time);
}

template <class Rep, class Period>
runtime::count_type runtime::run_one_for(const std::chrono::duration<Rep, Period>& rel_time)
{
  return run_one_until(std::chrono::steady_clock::now() + rel_time);
}

template <class Clock, class Duration>
runtime::count_type runtime::run_one_until(const std::chrono::time_point<Clock, Duration>& abs_time)
{
  return run_chunked(1, abs_time);
}

} // namespace nanorun
