// Facts about the machine and the build, printed in every benchmark header.
#include "machine.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>
#include <vector>

namespace bench {

std::string cpu_model()
{
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0)
      if (auto colon = line.find(':'); colon != std::string::npos)
        return line.substr(line.find_first_not_of(" \t", colon + 1));
  return "unknown CPU";
}

std::string compiler()
{
#if defined(__clang__)
  return "clang " __clang_version__;
#elif defined(__GNUC__)
  return "g++ " __VERSION__;
#else
  return "unknown compiler";
#endif
}

std::string load_average(bool all_three)
{
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  if (!in)
    return "?";
  return all_three ? one + " " + five + " " + fifteen : one;
}

double cross_core_round_trip_ns(unsigned trips, unsigned bursts)
{
  if (std::thread::hardware_concurrency() < 2 || trips == 0 || bursts == 0)
    return -1;
  using clock = std::chrono::steady_clock;
  // One line, written in turn: the caller writes odd values, the echo thread
  // answers with the next even one. -1 tells the echo thread to stop.
  alignas(64) std::atomic<long> ball{0};
  std::thread echo([&ball] {
    for (long seen = 0;;)
    {
      long v;
      // Acquire: pairs with the caller's release store of the serve.
      while ((v = ball.load(std::memory_order_acquire)) == seen)
        ;
      if (v < 0)
        return;
      seen = v + 1;
      ball.store(seen, std::memory_order_release); // pairs with the caller's acquire load
    }
  });
  std::vector<double> per_trip;
  long next = 1;
  for (unsigned b = 0; b < bursts; ++b)
  {
    const auto start = clock::now();
    const auto cap = start + std::chrono::milliseconds(20);
    unsigned done = 0;
    for (; done < trips; ++done)
    {
      ball.store(next, std::memory_order_release); // pairs with the echo thread's acquire load
      while (ball.load(std::memory_order_acquire) != next + 1)
        ;
      next += 2;
      if (done % 256 == 255 && clock::now() >= cap)
      {
        ++done;
        break;
      }
    }
    per_trip.push_back(std::chrono::duration<double, std::nano>(clock::now() - start).count() / done);
  }
  ball.store(-1, std::memory_order_release);
  echo.join();
  std::nth_element(per_trip.begin(), per_trip.begin() + per_trip.size() / 2, per_trip.end());
  return per_trip[per_trip.size() / 2];
}

} // namespace bench
