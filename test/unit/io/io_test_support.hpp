// Helpers shared by the I/O object tests (test/unit/io/*_test.cpp): loopback
// endpoints, connected socket pairs, a runtime on a chosen reactor backend,
// a counting allocator, and handlers that record how they were called.
#pragma once

#include <nanorun/detail/io_service.hpp>
#include <nanorun/ip/tcp.hpp>
#include <nanorun/ip/udp.hpp>
#include <nanorun/runtime.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/test/unit_test.hpp>

#if defined(_WIN32)
#include <winsock2.h>
#else
#include <poll.h>
#include <unistd.h>
#endif

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace io_test {

namespace asio = boost::asio;
using boost::system::error_code;
using nanorun::ip::tcp;
using nanorun::ip::udp;
using namespace std::chrono_literals;

// What a handler's error code holds until the handler runs: an error no test
// operation produces.
inline const error_code unset = asio::error::fault;

// Long enough for anything on loopback; a run bounded by it that ends with
// the operation still unfinished is a failure, not a hang.
inline constexpr auto limit = std::chrono::seconds(10);

inline tcp::endpoint loopback(unsigned short port = 0) { return {asio::ip::address_v4::loopback(), port}; }
inline udp::endpoint udp_loopback(unsigned short port = 0) { return {asio::ip::address_v4::loopback(), port}; }

// The reactor backends, as NANORUN_REACTOR names them.
#if defined(_WIN32)
struct iocp_backend
{
  static constexpr const char* name = "iocp";
};
using backends = std::tuple<iocp_backend>;
#else
struct epoll_backend
{
  static constexpr const char* name = "epoll";
};
struct poll_backend
{
  static constexpr const char* name = "poll";
};
using backends = std::tuple<epoll_backend, poll_backend>;
#endif

inline void set_env(const char* name, const char* value)
{
#if defined(_WIN32)
  ::_putenv_s(name, value); // "" removes it
#else
  if (*value)
    ::setenv(name, value, 1);
  else
    ::unsetenv(name);
#endif
}

// A socket handle used without nanorun: waits up to 5 s for it to be
// readable, then reads; and closes it. (Descriptors on POSIX, SOCKETs on
// Windows.)
inline long raw_read(nanorun::detail::native_handle h, char* b, std::size_t n)
{
#if defined(_WIN32)
  fd_set r;
  FD_ZERO(&r);
  FD_SET(static_cast<SOCKET>(h), &r);
  timeval tv{5, 0};
  if (::select(0, &r, nullptr, nullptr, &tv) != 1)
    return -1;
  return ::recv(static_cast<SOCKET>(h), b, static_cast<int>(n), 0);
#else
  pollfd pfd{h, POLLIN, 0};
  if (::poll(&pfd, 1, 5000) != 1)
    return -1;
  return ::read(h, b, n);
#endif
}
inline bool raw_close(nanorun::detail::native_handle h)
{
#if defined(_WIN32)
  return ::closesocket(static_cast<SOCKET>(h)) == 0;
#else
  return ::close(h) == 0;
#endif
}

// Sets NANORUN_REACTOR for as long as it lives, then restores what was there.
class reactor_env
{
public:
  explicit reactor_env(const char* backend)
  {
    if (const char* old = std::getenv("NANORUN_REACTOR"))
      old_ = old;
    set_env("NANORUN_REACTOR", backend);
  }
  ~reactor_env() { set_env("NANORUN_REACTOR", old_ ? old_->c_str() : ""); }
  reactor_env(const reactor_env&) = delete;
  reactor_env& operator=(const reactor_env&) = delete;

private:
  std::optional<std::string> old_;
};

// A runtime whose reactor is `backend` (the variable is read when the runtime
// is constructed, and restored right after).
inline std::unique_ptr<nanorun::runtime> runtime_on(const char* backend, int threads = 1)
{
  reactor_env env(backend);
  return std::make_unique<nanorun::runtime>(threads);
}

// Each backend-parametrised case starts with `on_backend<Backend> f;`.
template <class Backend>
struct on_backend
{
  explicit on_backend(int threads = 1) : rt_ptr(runtime_on(Backend::name, threads)), rt(*rt_ptr)
  {
    BOOST_TEST_REQUIRE(std::string(nanorun::detail::io_backend_name(rt)) == Backend::name);
  }
  std::unique_ptr<nanorun::runtime> rt_ptr;
  nanorun::runtime& rt;
};

// Two connected TCP sockets. Connected and accepted synchronously, so the
// runtime need not be running.
struct tcp_pair
{
  tcp::socket client;
  tcp::socket server;
};

inline tcp_pair connected_pair(const asio::any_io_executor& ex)
{
  tcp::acceptor acc(ex, loopback());
  tcp::socket c(ex), s(ex);
  c.connect(acc.local_endpoint());
  acc.accept(s);
  return tcp_pair{std::move(c), std::move(s)};
}
inline tcp_pair connected_pair(nanorun::runtime& rt) { return connected_pair(rt.get_executor()); }

// A bound TCP socket that does not listen: connecting to its port is refused,
// and no one else can take the port while it lives.
struct refusing_port
{
  explicit refusing_port(nanorun::runtime& rt) : sock(rt)
  {
    sock.open(tcp::v4());
    sock.bind(loopback());
  }
  tcp::endpoint endpoint() const { return sock.local_endpoint(); }
  tcp::socket sock;
};

// Blocks until s has something to read (or an error), without the runtime.
inline void wait_readable(tcp::socket& s) { s.wait(tcp::socket::wait_read); }

// Runs rt on threads of their own until destroyed; a work guard keeps them in.
class background
{
public:
  explicit background(nanorun::runtime& rt, int threads = 1) : rt_(rt), guard_(asio::make_work_guard(rt))
  {
    for (int i = 0; i < threads; ++i)
      threads_.emplace_back([&rt] { rt.run(); });
  }
  ~background() { stop(); }
  background(const background&) = delete;
  background& operator=(const background&) = delete;

  // Lets run() return once the remaining work is done, and joins.
  void finish()
  {
    guard_.reset();
    for (auto& t : threads_)
      if (t.joinable())
        t.join();
  }
  // Stops at once and joins.
  void stop()
  {
    guard_.reset();
    rt_.stop();
    for (auto& t : threads_)
      if (t.joinable())
        t.join();
  }

private:
  nanorun::runtime& rt_;
  asio::executor_work_guard<nanorun::runtime::executor_type> guard_;
  std::vector<std::thread> threads_;
};

// Counts what an operation allocated through the handler's allocator.
struct alloc_counts
{
  std::atomic<long> allocations{0};
  std::atomic<long> deallocations{0};
};

template <class T>
class counting_allocator
{
public:
  using value_type = T;

  explicit counting_allocator(alloc_counts& c) noexcept : c_(&c) {}
  template <class U>
  counting_allocator(const counting_allocator<U>& o) noexcept : c_(o.counts())
  {
  }

  T* allocate(std::size_t n)
  {
    c_->allocations.fetch_add(1, std::memory_order_relaxed);
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, std::size_t n) noexcept
  {
    c_->deallocations.fetch_add(1, std::memory_order_relaxed);
    std::allocator<T>().deallocate(p, n);
  }

  alloc_counts* counts() const noexcept { return c_; }

  template <class U>
  friend bool operator==(const counting_allocator& a, const counting_allocator<U>& b) noexcept
  {
    return a.c_ == b.counts();
  }
  template <class U>
  friend bool operator!=(const counting_allocator& a, const counting_allocator<U>& b) noexcept
  {
    return !(a == b);
  }

private:
  alloc_counts* c_;
};

// What one asynchronous operation did: how often its handler ran, with what,
// and whether that was inside the initiating call (`returned` is set by the
// test right after the call).
struct outcome
{
  int calls = 0;
  bool inline_call = false;
  bool returned = false;
  error_code ec = unset;
  std::size_t bytes = 0;

  bool done() const noexcept { return calls > 0; }

  // A handler for void(error_code), void(error_code, size_t) or
  // void(error_code, T) (the T is ignored unless it is a byte count).
  auto handler()
  {
    return [this](error_code e, auto&&... rest) {
      ++calls;
      inline_call = inline_call || !returned;
      ec = e;
      (record(rest), ...);
    };
  }

private:
  template <class T>
  void record(const T& v) noexcept
  {
    if constexpr (std::is_integral_v<T>)
      bytes = static_cast<std::size_t>(v);
  }
};

// Counts live instances: a handler or coroutine frame that holds one and is
// destroyed brings `live` back down.
struct life_counts
{
  std::atomic<int> live{0};
  std::atomic<int> created{0};
};

class life_token
{
public:
  explicit life_token(life_counts& c) noexcept : c_(&c) { up(); }
  life_token(const life_token& o) noexcept : c_(o.c_) { up(); }
  life_token& operator=(const life_token&) = delete;
  ~life_token() { c_->live.fetch_sub(1, std::memory_order_relaxed); }

private:
  void up() noexcept
  {
    c_->live.fetch_add(1, std::memory_order_relaxed);
    c_->created.fetch_add(1, std::memory_order_relaxed);
  }
  life_counts* c_;
};

// Fills s's send buffer (and the peer's receive buffer) until a write would
// block. Returns the bytes written.
inline std::size_t fill_send_buffer(tcp::socket& s)
{
  s.set_option(asio::socket_base::send_buffer_size(4096));
  s.non_blocking(true);
  std::vector<char> chunk(65536, 'f');
  std::size_t total = 0;
  for (;;)
  {
    error_code ec;
    const std::size_t n = s.write_some(asio::buffer(chunk), ec);
    total += n;
    if (ec == asio::error::would_block)
      break;
    BOOST_TEST_REQUIRE(!ec, ec.message());
  }
  s.non_blocking(false);
  return total;
}

} // namespace io_test
