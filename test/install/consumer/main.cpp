// Consumer of an installed nanorun: posts a handler to a runtime and checks it ran.
#include <nanorun/nanorun.hpp>

#include <boost/asio/post.hpp>

#include <cstdio>

int main()
{
  nanorun::runtime rt;
  int ran = 0;
  boost::asio::post(rt, [&] { ++ran; });
  const auto count = rt.run();
  if (ran != 1 || count != 1)
  {
    std::printf("nanorun_consumer: FAILED (ran=%d, run()=%zu)\n", ran, count);
    return 1;
  }
  std::printf("nanorun_consumer: handler ran on nanorun::runtime\n");
  return 0;
}
