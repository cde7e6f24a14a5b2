// A hang in a stress test is a failure: abort with a message instead of
// waiting for ctest's timeout.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace nanorun::test {

class watchdog
{
public:
  watchdog(const char* what, std::chrono::seconds limit)
      : thread_([this, what, limit] {
          std::unique_lock lock(m_);
          if (!cv_.wait_for(lock, limit, [this] { return done_; }))
          {
            std::fprintf(stderr, "watchdog: '%s' did not finish within %lld s\n", what,
                         static_cast<long long>(limit.count()));
            std::fflush(stderr);
            // Not abort(): Boost.Test would catch SIGABRT, jump out of the
            // hung test with its threads still running, and report the tests
            // after it as failing too.
            std::_Exit(70);
          }
        })
  {
  }

  ~watchdog()
  {
    {
      std::lock_guard lock(m_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

private:
  std::mutex m_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

} // namespace nanorun::test
