// Work to do when the calling thread exits, for layers that keep per-thread
// state (the executor's op_cache, the Windows backend's timer).
//
// Not a thread_local object with a destructor: with mingw-w64's emulated TLS
// (GCC has no native TLS on Windows) the storage of such an object can be
// freed before its destructor runs at thread exit, and the destructor then
// reads freed memory. Each OS runs these through its own mechanism
// (src/sys/posix/thread_exit.cpp, src/sys/windows/thread_exit.cpp).
#pragma once

namespace nanorun::sys {

// Calls fn(arg) when the calling thread exits, after the callbacks it
// registered later (last in, first out). fn must not throw. Throws
// std::bad_alloc or std::system_error if it cannot register.
void at_thread_exit(void (*fn)(void*), void* arg);

} // namespace nanorun::sys
