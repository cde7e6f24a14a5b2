// nanorun_net_bench's coroutine peers: the canonical Asio coroutine echo
// server, written once as a template over the protocol type (`Tcp`) and the
// execution context, then instantiated three times:
//
//   coro_server<boost::asio::ip::tcp, boost::asio::io_context>
//   coro_server<nanorun::ip::tcp,     nanorun::runtime>
//   coro_server<boost::asio::ip::tcp, nanorun::runtime>
//
// The third is Asio's own sockets on nanorun's context (the bridge): against
// the first, only the context differs; against the second, only the sockets.
//
// The template uses only what nanorun's socket API promises to mirror:
// Tcp::acceptor constructed from an executor and {Tcp::v4(), port},
// local_endpoint().port(), async_accept(use_awaitable) returning a
// Tcp::socket, set_option(no_delay), async_read_some, and
// boost::asio::async_write on the socket. The peers on nanorun's own
// sockets compile only once <nanorun/ip/tcp.hpp> exists; until then they
// report "not built yet" (as they do if the program is built with
// -DNANORUN_NET_BENCH_WITHOUT_NANORUN, a way to measure the other peers
// while nanorun's sockets do not compile).
//
// Shutdown without reaching into the context from outside: the client closes
// its connections first (each session ends on end-of-stream), then shutdown()
// raises `stopping` and makes one last connection; the listener accepts it,
// sees the flag and returns, which closes the acceptor. The context is then
// out of work and every run() returns by itself. If that takes longer than a
// grace period, shutdown() calls stop() and says so in a warning.
#include "net_bench.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <nanorun/runtime.hpp>

#if __has_include(<nanorun/ip/tcp.hpp>) && !defined(NANORUN_NET_BENCH_WITHOUT_NANORUN)
#include <nanorun/ip/tcp.hpp>
#define NANORUN_NET_BENCH_HAS_SOCKETS 1
#endif

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

namespace nbench {
namespace {

constexpr auto grace = std::chrono::seconds(5);

// What the sessions and the listener share with the server object.
struct shared_state
{
  std::promise<unsigned short> port;
  std::atomic<bool> stopping{false};
  std::mutex m;
  std::string unexpected; // first unexpected session error (a warning)
  std::string listener_error;

  void note(std::string& slot, const std::string& what)
  {
    std::lock_guard lk(m);
    if (slot.empty())
      slot = what;
  }
};

// ---- the echo server: nothing below names io_context or nanorun ----------

template <class Tcp>
boost::asio::awaitable<void> echo_session(typename Tcp::socket socket, shared_state& st)
{
  try
  {
    socket.set_option(boost::asio::ip::tcp::no_delay(true));
    char data[1024];
    for (;;)
    {
      std::size_t n = co_await socket.async_read_some(boost::asio::buffer(data), boost::asio::use_awaitable);
      co_await boost::asio::async_write(socket, boost::asio::buffer(data, n), boost::asio::use_awaitable);
    }
  }
  catch (const boost::system::system_error& e)
  {
    // The client closing its end is how every session ends.
    if (e.code() != boost::asio::error::eof && e.code() != boost::asio::error::connection_reset)
      st.note(st.unexpected, std::string("session ended with: ") + e.what());
  }
  catch (const std::exception& e)
  {
    st.note(st.unexpected, std::string("session threw: ") + e.what());
  }
}

template <class Tcp>
boost::asio::awaitable<void> listener(shared_state& st)
{
  auto executor = co_await boost::asio::this_coro::executor;
  try
  {
    typename Tcp::acceptor acceptor(executor, {Tcp::v4(), 0});
    st.port.set_value(acceptor.local_endpoint().port());
    for (;;)
    {
      auto socket = co_await acceptor.async_accept(boost::asio::use_awaitable);
      if (st.stopping.load(std::memory_order_acquire))
        co_return; // shutdown()'s last connection: closes the acceptor
      boost::asio::co_spawn(executor, echo_session<Tcp>(std::move(socket), st), boost::asio::detached);
    }
  }
  catch (const std::exception& e)
  {
    st.note(st.listener_error, std::string("listener: ") + e.what());
    try
    {
      st.port.set_exception(std::current_exception());
    }
    catch (const std::future_error&)
    {
      // The port was already published: the failure was in async_accept.
    }
  }
}

template <class Tcp, class Context>
class coro_server final : public server
{
public:
  explicit coro_server(unsigned threads) : ctx_(static_cast<int>(threads))
  {
    auto port = st_.port.get_future();
    boost::asio::co_spawn(ctx_, listener<Tcp>(st_), boost::asio::detached);
    for (unsigned i = 0; i < threads; ++i)
      threads_.emplace_back([this] { run_thread(); });
    if (port.wait_for(grace) != std::future_status::ready)
    {
      shutdown();
      throw std::runtime_error("coroutine server: the listener did not start within 5 s");
    }
    try
    {
      port_ = port.get();
    }
    catch (...)
    {
      shutdown();
      throw;
    }
  }

  ~coro_server() override { shutdown(); }

  unsigned short port() const override { return port_; }

  shutdown_result shutdown() override
  {
    shutdown_result r;
    if (threads_.empty())
      return r;
    st_.stopping.store(true, std::memory_order_release);
    if (port_ != 0)
      poke(port_);
    {
      std::unique_lock lk(m_);
      if (!cv_.wait_for(lk, grace, [&] { return returned_ == threads_.size(); }))
      {
        r.warning = "run() did not return within 5 s of the last connection closing; called stop()";
        ctx_.stop();
      }
    }
    for (auto& t : threads_)
      t.join();
    threads_.clear();
    std::lock_guard lk(st_.m);
    r.error = st_.listener_error;
    if (!run_error_.empty())
      r.error += (r.error.empty() ? "" : "; ") + run_error_;
    if (!st_.unexpected.empty())
      r.warning += (r.warning.empty() ? "" : "; ") + st_.unexpected;
    return r;
  }

private:
  void run_thread()
  {
    try
    {
      ctx_.run();
    }
    catch (const std::exception& e)
    {
      st_.note(run_error_, std::string("run() threw: ") + e.what());
    }
    std::lock_guard lk(m_);
    ++returned_;
    cv_.notify_all();
  }

  // One connection that the listener takes as its cue to return.
  static void poke(unsigned short port)
  {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
      return;
    ::sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    [[maybe_unused]] int rc = ::connect(fd, reinterpret_cast<const ::sockaddr*>(&a), sizeof a);
    ::close(fd);
  }

  shared_state st_; // outlives ctx_, whose destructor may destroy suspended sessions
  Context ctx_;
  std::string run_error_; // guarded by st_.m
  unsigned short port_ = 0;
  std::vector<std::thread> threads_;
  std::mutex m_;
  std::condition_variable cv_;
  std::size_t returned_ = 0; // threads whose run() returned; guarded by m_
};

} // namespace

std::unique_ptr<server> make_asio_server(unsigned threads)
{
  return std::make_unique<coro_server<boost::asio::ip::tcp, boost::asio::io_context>>(threads);
}

#ifdef NANORUN_NET_BENCH_HAS_SOCKETS
std::unique_ptr<server> make_nanorun_server(unsigned threads)
{
  return std::make_unique<coro_server<nanorun::ip::tcp, nanorun::runtime>>(threads);
}
bool nanorun_sockets_built()
{
  return true;
}
#else
std::unique_ptr<server> make_nanorun_server(unsigned)
{
  return nullptr;
}
bool nanorun_sockets_built()
{
  return false;
}
#endif

// Needs only the runtime, which has always been there: built even when
// nanorun's own sockets are left out.
std::unique_ptr<server> make_nanorun_asio_server(unsigned threads)
{
  return std::make_unique<coro_server<boost::asio::ip::tcp, nanorun::runtime>>(threads);
}

} // namespace nbench
