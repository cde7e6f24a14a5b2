// The OS's name for a socket, as nanorun's I/O objects and reactor hold it:
// a descriptor (int) on POSIX systems, a SOCKET (an unsigned pointer-sized
// integer) on Windows. Code above src/sys/<os>/ never looks inside it: it
// compares it with invalid_native_handle, which is -1 on POSIX and
// INVALID_SOCKET (~0) on Windows, so "fd >= 0" is never a validity test.
// No OS header is needed for either.
#pragma once

#include <cstdint>

namespace nanorun::detail {

#if defined(_WIN32)
using native_handle = std::uintptr_t;
inline constexpr native_handle invalid_native_handle = ~std::uintptr_t{0};
#else
using native_handle = int;
inline constexpr native_handle invalid_native_handle = -1;
#endif

} // namespace nanorun::detail
