int turn(int fd, void* ev)
{
  // Violations: two raw OS calls outside src/sys/.
  int n = ::epoll_wait(fd, ev, 8, -1);
::close(fd);
  return n;
}
