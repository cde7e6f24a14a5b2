// Violations: OS headers outside src/sys/, also between quotes.
#include <sys/epoll.h>
#include "unistd.h"
// Allowed: comments may name ::epoll_wait(fd, ...) and ::close(fd);
/* and so may block comments: ::read(fd, buf, n) */
void allowed(auto& s, auto& b)
{
  boost::asio::read(s, b);
  s.close();
  s->write(b);
  std::read(b);
}
