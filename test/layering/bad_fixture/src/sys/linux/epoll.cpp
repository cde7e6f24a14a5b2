// Allowed here: OS headers and raw calls.
#include <sys/epoll.h>
#include <unistd.h>
#include "sys/linux/epoll.hpp"
int create() { return ::epoll_create1(0); }
void close_fd(int fd) { ::close(fd); }
// Violation: src/sys/ includes a layer.
#include "executor/scheduler.hpp"
