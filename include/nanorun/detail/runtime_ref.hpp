// How an I/O object refers to its runtime, so that it may outlive it.
//
// io_context leaves an I/O object destroyed after its context undefined (its
// implementation points into services that are gone). nanorun defines it:
// every runtime holds an anchor, a small record that is never freed (anchors
// are pooled and reused by later runtimes), whose generation changes when the
// runtime's destruction has finished. An I/O object keeps the runtime's
// address with the anchor and the generation it saw; if the generation still
// matches, the runtime is alive. Checking costs one load of a line nobody
// writes while the runtime lives, with no reference count to contend on.
//
// What this makes safe is the sequence "runtime destroyed, then the object
// used or destroyed"; destroying a runtime while another thread uses one of
// its objects is a race, as with io_context.
#pragma once

#include <atomic>
#include <cstdint>

namespace nanorun {
class runtime;
} // namespace nanorun

namespace nanorun::detail {

struct runtime_anchor
{
  // Bumped (release) once the runtime's destructor has torn everything
  // down; read (acquire) by runtime_ref::get().
  std::atomic<std::uint64_t> generation{1};
  runtime_anchor* next_free = nullptr; // guarded by the pool's mutex
};

// Takes an anchor from the immortal pool (src/runtime/runtime_ref.cpp);
// `generation` receives its current generation.
runtime_anchor* acquire_anchor(std::uint64_t& generation);
// Ends the generation (every runtime_ref to it now reads dead) and returns
// the anchor to the pool.
void release_anchor(runtime_anchor* a) noexcept;
// Throws boost::system::system_error(operation_aborted): an operation that
// needs the runtime was started after the runtime was destroyed.
[[noreturn]] void throw_runtime_destroyed(const char* what);

// A runtime's own anchor, for its lifetime: its destruction ends the
// generation.
class anchor_holder
{
public:
  anchor_holder() : anchor_(acquire_anchor(generation_)) {}
  ~anchor_holder() { release_anchor(anchor_); }
  anchor_holder(const anchor_holder&) = delete;
  anchor_holder& operator=(const anchor_holder&) = delete;

  const runtime_anchor* get() const noexcept { return anchor_; }
  std::uint64_t generation() const noexcept { return generation_; }

private:
  std::uint64_t generation_ = 0;
  runtime_anchor* anchor_;
};

class runtime_ref
{
public:
  runtime_ref() noexcept = default;
  runtime_ref(runtime* rt, const runtime_anchor* anchor, std::uint64_t generation) noexcept
      : rt_(rt), anchor_(anchor), generation_(generation)
  {
  }

  // The runtime, or null once it has been destroyed.
  runtime* get() const noexcept
  {
    if (anchor_ && anchor_->generation.load(std::memory_order_acquire) == generation_)
      return rt_;
    return nullptr;
  }

  // The runtime; throws (see throw_runtime_destroyed) once it is destroyed.
  runtime& checked(const char* what) const
  {
    runtime* rt = get();
    if (!rt)
      throw_runtime_destroyed(what);
    return *rt;
  }

  friend bool operator==(const runtime_ref& a, const runtime_ref& b) noexcept
  {
    return a.rt_ == b.rt_ && a.anchor_ == b.anchor_ && a.generation_ == b.generation_;
  }

private:
  runtime* rt_ = nullptr;
  const runtime_anchor* anchor_ = nullptr;
  std::uint64_t generation_ = 0;
};

} // namespace nanorun::detail
