// A spin-wait hint for the CPU: lets a sibling hyperthread run and saves power
// while a thread polls a shared word.
#pragma once

namespace nanorun::detail {

inline void cpu_relax() noexcept
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

} // namespace nanorun::detail
