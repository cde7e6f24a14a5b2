// The typed half of a reactor operation: owns the handler and an Action (what
// to attempt when the descriptor may be ready, and how to call the handler
// with the result), and installs per-operation cancellation.
#pragma once

#include <nanorun/detail/continuation.hpp>
#include <nanorun/detail/handler_work.hpp>
#include <nanorun/detail/io_service.hpp>
#include <nanorun/detail/op_memory.hpp>
#include <nanorun/detail/reactor_op.hpp>
#include <nanorun/runtime.hpp>

#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/cancellation_type.hpp>

#include <type_traits>
#include <utility>

namespace nanorun::detail {

// Lives in the handler's cancellation slot and names its operation by its own
// address, looked up under the descriptor's lock: a signal that comes after
// the operation finished finds nothing. Socket operations that are still
// waiting have transferred nothing, so terminal, partial and total
// cancellation all end them (as Asio's reactive operations do).
class io_cancel_handler
{
public:
  io_cancel_handler(runtime_ref rt, descriptor_state* s) noexcept : rt_(rt), s_(s) {}

  void operator()(boost::asio::cancellation_type_t type) const noexcept
  {
    // After the runtime's destruction there is nothing left to cancel (it
    // destroyed the operation, and the reactor that held s).
    using ct = boost::asio::cancellation_type;
    if ((type & (ct::terminal | ct::partial | ct::total)) != ct::none)
      if (runtime* rt = rt_.get())
        io_cancel_key(*rt, s_, this);
  }

private:
  runtime_ref rt_;
  descriptor_state* s_;
};

template <class Handler, class IoExecutor, class Action>
class io_op final : public reactor_op
{
public:
  using allocator_type = boost::asio::associated_allocator_t<Handler>;

  template <class H>
  static io_op* create(H&& h, const IoExecutor& io_ex, runtime& rt, Action action)
  {
    allocator_type a = boost::asio::get_associated_allocator(h);
    void* mem = memory::allocate(a);
    try
    {
      return ::new (mem) io_op(std::forward<H>(h), io_ex, rt, std::move(action));
    }
    catch (...)
    {
      memory::deallocate(a, mem);
      throw;
    }
  }

  // Installs cancellation (if the handler has a slot) and starts waiting on s.
  // With s null (no descriptor), completes with the action's preset error.
  static void start(io_op* op, runtime_ref ref, descriptor_state* s, io_dir dir)
  {
    runtime& rt = *ref.get(); // the caller checked it
    auto slot = boost::asio::get_associated_cancellation_slot(op->handler_);
    if (s && slot.is_connected())
      op->cancel_key = &slot.template emplace<io_cancel_handler>(ref, s);
    if (s)
      io_start(rt, s, dir, op);
    else
      io_complete_now(rt, op);
  }

private:
  using memory = op_allocation<io_op, allocator_type>;

  template <class H>
  io_op(H&& h, const IoExecutor& io_ex, runtime& rt, Action action)
      : reactor_op(&io_op::do_complete, &io_op::do_perform), handler_(std::forward<H>(h)),
        work_(handler_, io_ex, rt), action_(std::move(action))
  {
    continuation = is_continuation_handler(handler_);
  }

  static bool do_perform(reactor_op* base)
  {
    auto* self = static_cast<io_op*>(base);
    return self->action_.perform(*self);
  }

  static void do_complete(operation* base, bool invoke)
  {
    auto* self = static_cast<io_op*>(base);
    const boost::system::error_code ec = self->ec;
    const std::size_t bytes = self->bytes;
    Handler h(std::move(self->handler_));
    handler_work<Handler, IoExecutor> work(std::move(self->work_));
    Action action(std::move(self->action_));
    allocator_type a = boost::asio::get_associated_allocator(h);
    // Free the op before the upcall: the handler may start the next one.
    self->~io_op();
    memory::deallocate(a, self);
    if (invoke)
      action.complete(work, h, ec, bytes);
  }

  Handler handler_;
  handler_work<Handler, IoExecutor> work_;
  Action action_;
};

} // namespace nanorun::detail
