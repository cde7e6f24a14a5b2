// Waiting in a test for something another thread makes true, with a limit
// generous enough for sanitizer builds and a loaded machine.
#pragma once

#include <chrono>
#include <thread>

namespace nanorun_test {

// Polls pred() every millisecond until it holds or `limit` passes; returns
// whether it held (so a test fails instead of hanging).
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(10))
{
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!pred())
  {
    if (std::chrono::steady_clock::now() > end)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

} // namespace nanorun_test
