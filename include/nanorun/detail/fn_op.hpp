// fn_op: a queued operation that owns one move-only callable.
#pragma once

#include <nanorun/detail/op_memory.hpp>
#include <nanorun/detail/operation.hpp>

#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace nanorun::detail {

template <class F, class Allocator>
class fn_op final : public operation
{
public:
  template <class G>
  fn_op(G&& g, const Allocator& a) : operation(&fn_op::do_complete), f_(std::forward<G>(g)), alloc_(a)
  {
  }

  static fn_op* create(F&& f, const Allocator& a)
  {
    void* mem = allocate(a);
    try
    {
      return ::new (mem) fn_op(std::move(f), a);
    }
    catch (...)
    {
      deallocate(a, mem);
      throw;
    }
  }

  template <class G>
  static fn_op* create(G&& g, const Allocator& a)
  {
    F f(std::forward<G>(g));
    return create(std::move(f), a);
  }

private:
  using memory = op_allocation<fn_op, Allocator>;
  static void* allocate(const Allocator& a) { return memory::allocate(a); }
  static void deallocate(const Allocator& a, void* p) noexcept { memory::deallocate(a, p); }

  static void do_complete(operation* base, bool invoke)
  {
    fn_op* self = static_cast<fn_op*>(base);
    Allocator a(std::move(self->alloc_));
    // Deallocate before the upcall: the callable may post again and reuse the
    // block, and it may own the allocator's memory resource.
    F f(std::move(self->f_));
    self->~fn_op();
    deallocate(a, self);
    if (invoke)
      std::move(f)();
  }

  F f_;
  [[no_unique_address]] Allocator alloc_;
};

template <class F, class Allocator>
operation* make_fn_op(F&& f, const Allocator& a)
{
  using op = fn_op<std::decay_t<F>, Allocator>;
  return op::create(std::forward<F>(f), a);
}

} // namespace nanorun::detail
