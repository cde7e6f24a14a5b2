// nanorun_net_bench's raw epoll peers: the floor the runtimes are measured
// against. Each loop is one thread with its own epoll instance, its own
// listener (SO_REUSEPORT when there are two, so the kernel spreads the
// connections) and an eventfd that tells it to quit. Level-triggered: a
// readable connection gets one read() of up to 1024 bytes (the size of the
// coroutine server's buffer) and the bytes are written straight back; a short
// write parks the rest and waits for EPOLLOUT before reading again.
#include "net_bench.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>

namespace nbench {
namespace {

constexpr std::size_t read_size = 1024;

[[noreturn]] void throw_errno(const char* what)
{
  throw std::runtime_error(std::string("raw epoll server: ") + what + ": " + std::strerror(errno));
}

struct connection
{
  int fd;
  std::vector<char> pending; // bytes read but not yet written back
  std::size_t pending_off = 0;
};

class epoll_loop
{
public:
  // Takes ownership of the listener.
  explicit epoll_loop(int listener) : listener_(listener)
  {
    try
    {
      ep_ = ::epoll_create1(EPOLL_CLOEXEC);
      if (ep_ < 0)
        throw_errno("epoll_create1");
      wake_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      if (wake_ < 0)
        throw_errno("eventfd");
      add(listener_, EPOLLIN, &listener_);
      add(wake_, EPOLLIN, &wake_);
    }
    catch (...)
    {
      for (int fd : {listener_, wake_, ep_})
        if (fd >= 0)
          ::close(fd);
      throw;
    }
  }

  ~epoll_loop()
  {
    for (auto& [fd, c] : conns_)
      ::close(fd);
    ::close(listener_);
    ::close(wake_);
    ::close(ep_);
  }

  epoll_loop(const epoll_loop&) = delete;
  epoll_loop& operator=(const epoll_loop&) = delete;

  void start() { thread_ = std::thread([this] { run(); }); }

  // Any thread: asks the loop to return, then joins it.
  void stop_and_join()
  {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_, &one, sizeof one);
    if (thread_.joinable())
      thread_.join();
  }

  // The loop thread's complaint, if any (read after stop_and_join()).
  const std::string& error() const { return error_; }

private:
  void add(int fd, std::uint32_t events, void* tag)
  {
    ::epoll_event ev{};
    ev.events = events;
    ev.data.ptr = tag;
    if (::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0)
      throw_errno("epoll_ctl(ADD)");
  }

  void modify(connection& c, std::uint32_t events)
  {
    ::epoll_event ev{};
    ev.events = events;
    ev.data.ptr = &c;
    if (::epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev) != 0)
      throw_errno("epoll_ctl(MOD)");
  }

  void run()
  {
    try
    {
      ::epoll_event events[256];
      for (;;)
      {
        const int n = ::epoll_wait(ep_, events, 256, -1);
        if (n < 0)
        {
          if (errno == EINTR)
            continue;
          throw_errno("epoll_wait");
        }
        for (int i = 0; i < n; ++i)
        {
          void* tag = events[i].data.ptr;
          if (tag == &wake_)
            return;
          if (tag == &listener_)
            accept_all();
          else
            serve(*static_cast<connection*>(tag), events[i].events);
        }
      }
    }
    catch (const std::exception& e)
    {
      error_ = e.what();
    }
  }

  void accept_all()
  {
    for (;;)
    {
      const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0)
      {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
          return;
        if (errno == EINTR || errno == ECONNABORTED)
          continue;
        throw_errno("accept4");
      }
      const int yes = 1;
      if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes) != 0)
        throw_errno("setsockopt(TCP_NODELAY)");
      auto c = std::make_unique<connection>();
      c->fd = fd;
      add(fd, EPOLLIN, c.get());
      conns_.emplace(fd, std::move(c));
    }
  }

  void close_connection(connection& c)
  {
    const int fd = c.fd;
    ::close(fd); // also removes it from the epoll set
    conns_.erase(fd);
  }

  // Writes pending bytes; returns false if the connection was closed.
  bool flush(connection& c)
  {
    while (c.pending_off < c.pending.size())
    {
      const ssize_t w = ::send(c.fd, c.pending.data() + c.pending_off, c.pending.size() - c.pending_off, MSG_NOSIGNAL);
      if (w < 0)
      {
        if (errno == EINTR)
          continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
          return true;
        close_connection(c); // EPIPE / ECONNRESET: the client went away
        return false;
      }
      c.pending_off += static_cast<std::size_t>(w);
    }
    c.pending.clear();
    c.pending_off = 0;
    modify(c, EPOLLIN);
    return true;
  }

  void serve(connection& c, std::uint32_t events)
  {
    if (!c.pending.empty())
    {
      if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
        flush(c);
      return;
    }
    char buf[read_size];
    const ssize_t r = ::read(c.fd, buf, sizeof buf);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
      return;
    if (r <= 0)
    {
      close_connection(c); // end of stream, or ECONNRESET
      return;
    }
    std::size_t off = 0;
    while (off < static_cast<std::size_t>(r))
    {
      const ssize_t w = ::send(c.fd, buf + off, static_cast<std::size_t>(r) - off, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      {
        c.pending.assign(buf + off, buf + r);
        modify(c, EPOLLOUT);
        return;
      }
      if (w < 0)
      {
        close_connection(c);
        return;
      }
      off += static_cast<std::size_t>(w);
    }
  }

  int listener_;
  int ep_ = -1;
  int wake_ = -1;
  std::unordered_map<int, std::unique_ptr<connection>> conns_; // loop thread only
  std::string error_;                                          // loop thread, until joined
  std::thread thread_;
};

int make_listener(unsigned short port, bool reuse_port)
{
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    throw_errno("socket");
  const int yes = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  if (reuse_port && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &yes, sizeof yes) != 0)
  {
    ::close(fd);
    throw_errno("setsockopt(SO_REUSEPORT)");
  }
  ::sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (::bind(fd, reinterpret_cast<const ::sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, SOMAXCONN) != 0)
  {
    const int e = errno;
    ::close(fd);
    errno = e;
    throw_errno("bind/listen");
  }
  return fd;
}

unsigned short local_port(int fd)
{
  ::sockaddr_in a{};
  ::socklen_t len = sizeof a;
  if (::getsockname(fd, reinterpret_cast<::sockaddr*>(&a), &len) != 0)
    throw_errno("getsockname");
  return ntohs(a.sin_port);
}

class epoll_server final : public server
{
public:
  explicit epoll_server(unsigned threads)
  {
    const bool reuse_port = threads > 1;
    for (unsigned i = 0; i < threads; ++i)
    {
      const int l = make_listener(port_, reuse_port); // port_ is 0 the first time: ephemeral
      if (i == 0)
        port_ = local_port(l);
      loops_.push_back(std::make_unique<epoll_loop>(l));
    }
    for (auto& l : loops_)
      l->start();
  }

  ~epoll_server() override
  {
    for (auto& l : loops_)
      l->stop_and_join();
  }

  unsigned short port() const override { return port_; }

  shutdown_result shutdown() override
  {
    shutdown_result r;
    for (auto& l : loops_)
    {
      l->stop_and_join();
      if (!l->error().empty())
        r.error += (r.error.empty() ? "" : "; ") + l->error();
    }
    loops_.clear(); // closes every fd
    return r;
  }

private:
  unsigned short port_ = 0;
  std::vector<std::unique_ptr<epoll_loop>> loops_;
};

} // namespace

std::unique_ptr<server> make_epoll_server(unsigned threads)
{
  return std::make_unique<epoll_server>(threads);
}

} // namespace nbench
