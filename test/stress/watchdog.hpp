// A hang in a stress test is a failure: abort with a message instead of
// waiting for ctest's timeout. Before it exits, the watchdog prints the
// case's own report (set_report), and, with NANORUN_WATCHDOG_STACKS set in
// the environment (POSIX), every thread's stack through gdb, so that a hang
// seen once in thousands of perturbed runs can be read afterwards.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#if !defined(_WIN32)
#include <unistd.h>
#endif

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
            // Best effort: the case's threads are still running.
            if (report_)
              report_();
            std::fflush(stdout);
            std::fflush(stderr);
#if !defined(_WIN32)
            if (std::getenv("NANORUN_WATCHDOG_STACKS"))
            {
              const std::string cmd = "gdb -p " + std::to_string(::getpid()) +
                                      " -batch -ex 'thread apply all bt' 1>&2 2>/dev/null";
              (void)std::system(cmd.c_str());
            }
#endif
            // Not abort(): Boost.Test would catch SIGABRT, jump out of the
            // hung test with its threads still running, and report the tests
            // after it as failing too.
            std::_Exit(70);
          }
        })
  {
  }

  // What to print if the case hangs (called on the watchdog's thread, with
  // the case still running: read atomics only).
  void set_report(std::function<void()> report)
  {
    std::lock_guard lock(m_);
    report_ = std::move(report);
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
  std::function<void()> report_; // guarded by m_ until the limit passes
  std::thread thread_;
};

} // namespace nanorun::test
