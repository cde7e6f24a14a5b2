// Threads that run a runtime for the length of a scope.
#pragma once

#include <nanorun/runtime.hpp>

#include <thread>
#include <vector>

namespace nanorun::test {

// Runs rt on n new threads; join() (or the destructor) returns once every
// run() has returned.
class runners
{
public:
  runners(nanorun::runtime& rt, int n)
  {
    for (int i = 0; i < n; ++i)
      threads_.emplace_back([&rt] { rt.run(); });
  }
  ~runners() { join(); }
  runners(const runners&) = delete;
  runners& operator=(const runners&) = delete;

  void join()
  {
    for (auto& t : threads_)
      if (t.joinable())
        t.join();
  }

private:
  std::vector<std::thread> threads_;
};

} // namespace nanorun::test
