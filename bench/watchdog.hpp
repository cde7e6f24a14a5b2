// A watchdog for the benchmark programs: a hang is exactly the failure a
// benchmark may find, and it must not stall CI.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

namespace bench {

// Ends the process if the current run outlives its deadline.
class watchdog
{
public:
  explicit watchdog(double timeout_s) : timeout_(timeout_s), thread_([this] { loop(); }) {}
  ~watchdog()
  {
    {
      std::lock_guard lk(m_);
      quit_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;

  void arm(std::string what)
  {
    std::lock_guard lk(m_);
    what_ = std::move(what);
    deadline_ = std::chrono::steady_clock::now() +
                std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(timeout_));
    armed_ = true;
  }

  void disarm()
  {
    std::lock_guard lk(m_);
    armed_ = false;
  }

private:
  void loop()
  {
    std::unique_lock lk(m_);
    while (!quit_)
    {
      cv_.wait_for(lk, std::chrono::milliseconds(100));
      if (armed_ && std::chrono::steady_clock::now() > deadline_)
      {
        std::fprintf(stderr, "\nHANG: %s did not finish within %.0f s; aborting\n", what_.c_str(), timeout_);
        std::printf("\n**HANG: %s did not finish within %.0f s**\n", what_.c_str(), timeout_);
        std::fflush(stdout);
        std::_Exit(2);
      }
    }
  }

  double timeout_;
  std::mutex m_;
  std::condition_variable cv_;
  bool quit_ = false;
  bool armed_ = false;
  std::string what_;
  std::chrono::steady_clock::time_point deadline_;
  std::thread thread_;
};

} // namespace bench
