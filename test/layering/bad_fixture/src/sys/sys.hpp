// The OS-neutral contract of src/sys/.
#include "sys/linux/epoll.hpp"
// Violation: an OS header in src/sys/ but outside src/sys/<os>/.
#include <unistd.h>
