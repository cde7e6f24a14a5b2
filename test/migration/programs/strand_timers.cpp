// Two periodic timers whose handlers share a counter through a strand, run by
// two threads: the shape of Asio's timer tutorial (Timer.5), with the facts
// it relies on checked and printed, so that its output is the same on any
// correct context. Written for boost::asio; see test/migration/migrate.cmake.
// Usage: strand_timers
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <atomic>
#include <chrono>
#include <functional>
#include <iostream>
#include <thread>
// -- program --
class printer
{
public:
  printer(boost::asio::io_context& io)
      : strand_(boost::asio::make_strand(io)), timer1_(io, std::chrono::milliseconds(5)),
        timer2_(io, std::chrono::milliseconds(5)), never_(io, std::chrono::hours(1))
  {
    timer1_.async_wait(boost::asio::bind_executor(strand_, std::bind(&printer::print1, this)));
    timer2_.async_wait(boost::asio::bind_executor(strand_, std::bind(&printer::print2, this)));
    never_.async_wait([this](const boost::system::error_code& ec) { cancelled_ = ec; });
  }

  ~printer()
  {
    std::cout << "Final count is " << count_ << "\n"
              << "handlers outside the strand: " << outside_ << "\n"
              << "handlers overlapping: " << overlapping_ << "\n"
              << "handlers early: " << early_ << "\n"
              << "cancelled wait: " << cancelled_.message() << std::endl;
  }

  void print1() { tick(timer1_, &printer::print1); }
  void print2() { tick(timer2_, &printer::print2); }

private:
  void tick(boost::asio::steady_timer& t, void (printer::*next)())
  {
    if (in_strand_.exchange(true))
      ++overlapping_;
    if (!strand_.running_in_this_thread())
      ++outside_;
    if (std::chrono::steady_clock::now() < t.expiry())
      ++early_;
    if (count_ < 10)
    {
      ++count_;
      t.expires_at(t.expiry() + std::chrono::milliseconds(5));
      t.async_wait(boost::asio::bind_executor(strand_, std::bind(next, this)));
    }
    else if (++finished_ == 2)
      never_.cancel();
    in_strand_ = false;
  }

  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::steady_timer timer1_;
  boost::asio::steady_timer timer2_;
  boost::asio::steady_timer never_;
  int count_ = 0;
  int finished_ = 0;
  int outside_ = 0;
  int overlapping_ = 0;
  int early_ = 0;
  std::atomic<bool> in_strand_{false};
  boost::system::error_code cancelled_;
};

int main()
{
  boost::asio::io_context io;
  printer p(io);
  std::thread t([&] { io.run(); });
  io.run();
  t.join();
  return 0;
}
