// Allowed in a public header: public and standard headers.
#include <nanorun/detail/config.hpp>
#include <boost/asio/post.hpp>
#include <cstdint>
// Violations: an OS header, a src/ header, a raw call.
#include <WinSock2.h>
#include "executor/scheduler.hpp"
inline void close_it(int fd) { ::close(fd); }
