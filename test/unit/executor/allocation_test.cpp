// Posting from inside the runtime does not allocate in the steady state.
//
// This file replaces the global operator new/delete for the whole test
// executable with a counting wrapper around malloc. Counting is enabled per
// thread only inside the windows the tests open, so other tests are unaffected.
#include <nanorun/nanorun.hpp>

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/post.hpp>
#include <boost/test/unit_test.hpp>

#include <array>
#include <atomic>
#include <functional>
#include <cstdlib>
#include <new>

namespace {
thread_local bool counting = false;
std::atomic<long> allocations{0};

void* counted_alloc(std::size_t n)
{
  if (counting)
    allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1))
    return p;
  throw std::bad_alloc();
}
} // namespace

void* operator new(std::size_t n)
{
  return counted_alloc(n);
}
void* operator new[](std::size_t n)
{
  return counted_alloc(n);
}
void operator delete(void* p) noexcept
{
  std::free(p);
}
void operator delete[](void* p) noexcept
{
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept
{
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept
{
  std::free(p);
}

namespace {

// A chain of handlers, each posting its successor; counting is switched on
// for the middle of the chain, after the per-thread caches are warm.
struct chain
{
  nanorun::runtime::executor_type ex;
  int left;
  int warm_at;
  int cool_at;
  std::array<char, 40> payload{}; // a handler of realistic size

  void operator()()
  {
    if (left == warm_at)
      counting = true;
    if (left == cool_at)
      counting = false;
    if (--left > 0)
      boost::asio::post(ex, chain{*this});
  }
};

template <class T>
struct counting_allocator
{
  using value_type = T;
  std::atomic<int>* n;
  explicit counting_allocator(std::atomic<int>* c) noexcept : n(c) {}
  template <class U>
  counting_allocator(const counting_allocator<U>& o) noexcept : n(o.n)
  {
  }
  T* allocate(std::size_t k)
  {
    ++*n;
    return static_cast<T*>(std::malloc(k * sizeof(T)));
  }
  void deallocate(T* p, std::size_t) noexcept { std::free(p); }
  template <class U>
  bool operator==(const counting_allocator<U>& o) const noexcept
  {
    return n == o.n;
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(executor_allocation)

BOOST_AUTO_TEST_CASE(post_chain_does_not_allocate_once_warm)
{
  nanorun::runtime rt(1);
  allocations = 0;
  boost::asio::post(rt, chain{rt.get_executor(), 20000, 15000, 5000});
  rt.run();
  counting = false;
  BOOST_TEST(allocations.load() == 0);
}

BOOST_AUTO_TEST_CASE(fan_out_and_back_does_not_allocate_once_warm)
{
  // Each round posts 64 handlers from one handler (a burst), then runs them.
  nanorun::runtime rt(1);
  auto ex = rt.get_executor();
  int rounds = 0;
  std::function<void()> round; // built once, before counting starts
  int pending = 0;
  round = [&] {
    ++rounds;
    if (rounds == 20)
      counting = true;
    if (rounds == 120)
    {
      counting = false;
      return;
    }
    pending = 64;
    for (int i = 0; i < 64; ++i)
      boost::asio::post(ex, [&] {
        if (--pending == 0)
          boost::asio::post(ex, [&] { round(); });
      });
  };
  allocations = 0;
  boost::asio::post(ex, [&] { round(); });
  rt.run();
  counting = false;
  BOOST_TEST(rounds == 120);
  BOOST_TEST(allocations.load() == 0);
}

BOOST_AUTO_TEST_CASE(handler_allocator_is_used_instead_of_the_cache)
{
  nanorun::runtime rt(1);
  std::atomic<int> used{0};
  bool ran = false;
  boost::asio::post(rt, boost::asio::bind_allocator(counting_allocator<int>(&used), [&] { ran = true; }));
  rt.run();
  BOOST_TEST(ran);
  BOOST_TEST(used.load() == 1);
}

BOOST_AUTO_TEST_SUITE_END()
