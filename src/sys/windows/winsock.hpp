// Winsock's start-up, once per process, for everything in src/sys/windows/.
#pragma once

#include <winsock2.h>

namespace nanorun::sys::windows {

// WSAStartup(2.2) on first use; the reference it takes is never given back
// (Winsock stays up until the process ends, as with Asio's winsock_init).
// Throws std::system_error if Winsock cannot start.
void ensure_winsock();

} // namespace nanorun::sys::windows
