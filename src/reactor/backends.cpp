// The backends behind the reactor_backend contract (reactor.hpp): thin
// adapters over the pollers in src/sys/<os>/, which hold every OS call.
#include "reactor/reactor.hpp"

#if defined(_WIN32)
#include "sys/windows/iocp_poller.hpp"
#else
#if defined(__linux__)
#include "sys/linux/epoll_poller.hpp"
#endif
#include "sys/posix/poll_poller.hpp"
#endif

#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace nanorun::detail {

namespace {

template <class Poller>
class backend_over final : public reactor_backend
{
public:
  explicit backend_over(const char* name) : name_(name) {}
  bool edge_triggered() const noexcept override { return Poller::edge_triggered; }
  std::error_code add(native_handle fd, void* key, std::uint32_t interest) noexcept override
  {
    return poller_.add(fd, key, interest);
  }
  std::error_code modify(native_handle fd, void* key, std::uint32_t interest) noexcept override
  {
    return poller_.modify(fd, key, interest);
  }
  void remove(native_handle fd) noexcept override { poller_.remove(fd); }
  std::size_t wait(sys::ready_event* out, std::size_t capacity, std::int64_t timeout_ns) override
  {
    return poller_.wait(out, capacity, timeout_ns);
  }
  void wake() noexcept override { poller_.wake(); }
  void fork_child() override { poller_.fork_child(); }
  const char* name() const noexcept override { return name_; }

private:
  Poller poller_;
  const char* name_;
};

} // namespace

#if defined(_WIN32)
// Windows has one backend, IOCP + AFD poll: there is no poll(2) there (and
// WSAPoll cannot wait for a wake-up next to sockets).
reactor_kind default_reactor_kind()
{
  const char* v = std::getenv("NANORUN_REACTOR");
  if (!v || !*v || std::strcmp(v, "iocp") == 0 || std::strcmp(v, "native") == 0)
    return reactor_kind::native;
  throw std::invalid_argument("nanorun: NANORUN_REACTOR must be \"iocp\" or \"native\" on Windows");
}

std::unique_ptr<reactor_backend> make_reactor_backend(reactor_kind kind)
{
  if (kind != reactor_kind::native)
    throw std::invalid_argument("nanorun: the poll(2) backend does not exist on Windows");
  return std::make_unique<backend_over<sys::iocp_poller>>("iocp");
}
#else
reactor_kind default_reactor_kind()
{
  const char* v = std::getenv("NANORUN_REACTOR");
  if (!v || !*v)
    return reactor_kind::native;
  if (std::strcmp(v, "poll") == 0)
    return reactor_kind::portable;
  if (std::strcmp(v, "epoll") == 0 || std::strcmp(v, "native") == 0)
    return reactor_kind::native;
  throw std::invalid_argument("nanorun: NANORUN_REACTOR must be \"epoll\", \"native\" or \"poll\"");
}

std::unique_ptr<reactor_backend> make_reactor_backend(reactor_kind kind)
{
#if defined(__linux__)
  if (kind == reactor_kind::native)
    return std::make_unique<backend_over<sys::epoll_poller>>("epoll");
#endif
  (void)kind;
  return std::make_unique<backend_over<sys::poll_poller>>("poll");
}
#endif

} // namespace nanorun::detail
