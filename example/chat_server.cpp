// chat_server: a line-based chat room, Asio's cpp20 chat example on nanorun.
//
// Every line a client sends is delivered to every OTHER client in the room.
// As in Asio's example, each session runs a reader and a writer coroutine;
// the writer sleeps on a nanorun::steady_timer that never expires until
// deliver() queues a message and cancels it (the timer is a condition
// variable). Two threads run the runtime, so state is guarded by strands:
//   - each session's socket, timer and write queue live on the session's own
//     strand (the socket is accepted onto make_strand(ctx), and both
//     coroutines are spawned on the socket's executor);
//   - the room's participant set lives on the room's strand.
// A newcomer gets a "welcome" line once it is in the room, so a client knows
// from then on it will receive everything the others send.
//
// Usage: chat_server [--address 127.0.0.1] [--port 0]
// Prints "chat_server: listening on ADDRESS:PORT"; SIGINT/SIGTERM stop it.
#include <nanorun/io_context.hpp>
#include <nanorun/ip/tcp.hpp>
#include <nanorun/steady_timer.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using nanorun::ip::tcp;

namespace {

std::atomic<long> lines_relayed{0};

class chat_participant
{
public:
  virtual ~chat_participant() = default;
  virtual void deliver(const std::string& msg) = 0;
};

using chat_participant_ptr = std::shared_ptr<chat_participant>;

class chat_room
{
public:
  explicit chat_room(nanorun::io_context& ctx) : strand_(asio::make_strand(ctx)) {}

  void join(chat_participant_ptr p)
  {
    asio::post(strand_, [this, p] {
      participants_.insert(p);
      p->deliver("welcome, " + std::to_string(participants_.size()) + " in the room\n");
    });
  }

  void leave(chat_participant_ptr p)
  {
    asio::post(strand_, [this, p] { participants_.erase(p); });
  }

  // To everyone but the sender.
  void deliver(chat_participant_ptr from, std::string msg)
  {
    asio::post(strand_, [this, from, msg = std::move(msg)] {
      for (const auto& p : participants_)
        if (p != from)
          p->deliver(msg);
      ++lines_relayed;
    });
  }

private:
  asio::strand<nanorun::io_context::executor_type> strand_;
  std::set<chat_participant_ptr> participants_; // on strand_
};

class chat_session : public chat_participant, public std::enable_shared_from_this<chat_session>
{
public:
  chat_session(tcp::socket socket, chat_room& room)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), room_(room)
  {
    timer_.expires_at(nanorun::steady_timer::time_point::max());
  }

  void start()
  {
    room_.join(shared_from_this());
    // Both on the socket's executor: the session's strand.
    asio::co_spawn(socket_.get_executor(), [self = shared_from_this()] { return self->reader(); },
                   asio::detached);
    asio::co_spawn(socket_.get_executor(), [self = shared_from_this()] { return self->writer(); },
                   asio::detached);
  }

  // Called on the room's strand: hop to ours.
  void deliver(const std::string& msg) override
  {
    asio::post(socket_.get_executor(), [self = shared_from_this(), msg] {
      self->write_msgs_.push_back(msg);
      self->timer_.cancel_one();
    });
  }

private:
  awaitable<void> reader()
  {
    try
    {
      for (std::string line;;)
      {
        const std::size_t n = co_await asio::async_read_until(socket_, asio::dynamic_buffer(line, 4096), "\n",
                                                              use_awaitable);
        room_.deliver(shared_from_this(), line.substr(0, n));
        line.erase(0, n);
      }
    }
    catch (const std::exception&)
    {
      stop(); // end of file, reset, or a line over 4 KiB
    }
  }

  awaitable<void> writer()
  {
    try
    {
      while (socket_.is_open())
      {
        if (write_msgs_.empty())
        {
          boost::system::error_code ec; // operation_aborted: cancelled by deliver() or stop()
          co_await timer_.async_wait(asio::redirect_error(use_awaitable, ec));
        }
        else
        {
          co_await asio::async_write(socket_, asio::buffer(write_msgs_.front()), use_awaitable);
          write_msgs_.pop_front();
        }
      }
    }
    catch (const std::exception&)
    {
      stop();
    }
  }

  // On the session's strand.
  void stop()
  {
    if (!socket_.is_open())
      return;
    room_.leave(shared_from_this());
    boost::system::error_code ignored;
    socket_.close(ignored);
    timer_.cancel();
  }

  tcp::socket socket_;
  nanorun::steady_timer timer_;
  chat_room& room_;
  std::deque<std::string> write_msgs_; // on the session's strand
};

awaitable<void> listener(tcp::acceptor acceptor, nanorun::io_context& ctx, chat_room& room)
{
  for (;;)
  {
    // Each connection gets its own strand.
    tcp::socket socket = co_await acceptor.async_accept(asio::make_strand(ctx), use_awaitable);
    std::make_shared<chat_session>(std::move(socket), room)->start();
  }
}

} // namespace

int main(int argc, char* argv[])
{
  std::string address = "127.0.0.1";
  unsigned short port = 0;
  for (int i = 1; i + 1 < argc; i += 2)
  {
    const std::string_view opt = argv[i];
    if (opt == "--address")
      address = argv[i + 1];
    else if (opt == "--port")
      port = static_cast<unsigned short>(std::atoi(argv[i + 1]));
    else
    {
      std::fprintf(stderr, "usage: chat_server [--address A] [--port N]\n");
      return 2;
    }
  }

  try
  {
    nanorun::io_context ctx(2);
    chat_room room(ctx);

    tcp::acceptor acceptor(ctx, tcp::endpoint(asio::ip::make_address(address), port));
    const tcp::endpoint local = acceptor.local_endpoint();

    asio::signal_set signals(ctx, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code, int signo) {
      std::printf("chat_server: signal %d, stopping\n", signo);
      ctx.stop();
    });

    asio::co_spawn(ctx, listener(std::move(acceptor), ctx, room), asio::detached);

    std::printf("chat_server: listening on %s:%u\n", local.address().to_string().c_str(), local.port());
    std::fflush(stdout);

    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i)
      threads.emplace_back([&ctx] { ctx.run(); });
    for (auto& t : threads)
      t.join();

    std::printf("chat_server: relayed %ld lines\n", lines_relayed.load());
    return 0;
  }
  catch (const std::exception& e)
  {
    std::fprintf(stderr, "chat_server: %s\n", e.what());
    return 1;
  }
}
