// The runtime layer: the pool of runtime anchors (see
// <nanorun/detail/runtime_ref.hpp>).
//
// Anchors are never freed: an I/O object may read its anchor at any time
// after its runtime is gone, so the memory must stay valid for the life of
// the process (static destruction included, hence a pool that is never
// destroyed either). The pool holds at most as many anchors as runtimes were
// ever alive at once.
#include <nanorun/detail/runtime_ref.hpp>

#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

#include <mutex>
#include <string>

namespace nanorun::detail {

namespace {
struct anchor_pool
{
  std::mutex mutex;
  runtime_anchor* free = nullptr; // guarded by mutex
};

anchor_pool& pool()
{
  static anchor_pool* p = new anchor_pool; // never destroyed, see above
  return *p;
}
} // namespace

runtime_anchor* acquire_anchor(std::uint64_t& generation)
{
  anchor_pool& p = pool();
  runtime_anchor* a = nullptr;
  {
    std::lock_guard lock(p.mutex);
    if (p.free)
    {
      a = p.free;
      p.free = a->next_free;
    }
  }
  if (!a)
    a = new runtime_anchor; // never freed, see above
  a->next_free = nullptr;
  // Relaxed: only this runtime's constructor is looking at a fresh
  // generation; the pool's mutex ordered it after the previous release.
  generation = a->generation.load(std::memory_order_relaxed);
  return a;
}

void release_anchor(runtime_anchor* a) noexcept
{
  // Release: pairs with runtime_ref::get()'s acquire, so whoever sees the
  // new generation also sees the teardown that preceded it.
  a->generation.fetch_add(1, std::memory_order_release);
  anchor_pool& p = pool();
  std::lock_guard lock(p.mutex);
  a->next_free = p.free;
  p.free = a;
}

void throw_runtime_destroyed(const char* what)
{
  throw boost::system::system_error(boost::asio::error::operation_aborted,
                                    std::string(what) + ": the I/O object's runtime has been destroyed");
}

} // namespace nanorun::detail
