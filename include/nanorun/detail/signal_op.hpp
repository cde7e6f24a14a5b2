// A signal set's wait: the untyped node the signal service queues, and the
// typed half that owns the handler. The compiled entry points are in
// src/runtime/signal_service.cpp.
//
// Work accounting: signal_start_wait() counts the wait as outstanding work of
// the runtime before it can complete, and every completion (a delivered
// signal, a queued one, cancel(), the set's destruction, per-operation
// cancellation) is queued on the runtime with that unit of work. A wait never
// completes inside signal_start_wait().
#pragma once

#include <nanorun/detail/continuation.hpp>
#include <nanorun/detail/handler_work.hpp>
#include <nanorun/detail/op_memory.hpp>
#include <nanorun/detail/operation.hpp>
#include <nanorun/detail/runtime_ref.hpp>
#include <nanorun/runtime.hpp>

#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/system/error_code.hpp>

#include <utility>

namespace nanorun::detail {

// One set's state in its runtime's signal service (opaque here).
struct signal_set_impl;

class signal_op : public operation
{
public:
  boost::system::error_code ec; // written by the service under its mutex
  int signal_number = 0;        // written by the service under its mutex
  // The cancellation handler's address while one is installed: per-operation
  // cancellation finds the wait by this key, never through a pointer the
  // handler kept (the wait, or the set, may be gone).
  const void* cancel_key = nullptr;
  // A completion from inside the initiating call (a queued signal) resumes
  // the code that started the wait: queued as a continuation.
  bool continuation = false;

protected:
  explicit signal_op(func_type f) noexcept : operation(f) {}
  ~signal_op() = default;
};

// A new set on rt (its runtime's service is created on first use). Throws.
signal_set_impl* signal_open(runtime& rt);
// Clears the set, completes its waits with operation_aborted and frees it.
// After the runtime's destruction, only frees it (the runtime did the rest).
void signal_close(signal_set_impl* impl) noexcept;
// flags: signal_set_base::flags (-1: dont_care).
void signal_add(signal_set_impl* impl, int signal_number, int flags, boost::system::error_code& ec);
void signal_remove(signal_set_impl* impl, int signal_number, boost::system::error_code& ec);
void signal_clear(signal_set_impl* impl, boost::system::error_code& ec);
void signal_cancel(signal_set_impl* impl, boost::system::error_code& ec);
// Counts op as work and completes it with a queued signal, or queues it. False
// (op not taken) if the runtime has been shut down.
bool signal_start_wait(signal_set_impl* impl, signal_op* op);
// Completes the wait of rt whose cancel_key is key, if it is still waiting.
void signal_cancel_key(runtime& rt, const void* key) noexcept;

// Lives in the handler's cancellation slot. A waiting signal wait has
// consumed nothing, so terminal, partial and total cancellation all end it,
// as with Asio's signal_set.
class signal_cancel_handler
{
public:
  explicit signal_cancel_handler(runtime_ref rt) noexcept : rt_(rt) {}

  void operator()(boost::asio::cancellation_type_t type) const noexcept
  {
    using ct = boost::asio::cancellation_type;
    if ((type & (ct::terminal | ct::partial | ct::total)) != ct::none)
      if (runtime* rt = rt_.get())
        signal_cancel_key(*rt, this);
  }

private:
  runtime_ref rt_;
};

template <class Handler, class IoExecutor>
class signal_wait_op final : public signal_op
{
public:
  using allocator_type = boost::asio::associated_allocator_t<Handler>;

  template <class H>
  static signal_wait_op* create(H&& h, const IoExecutor& io_ex, runtime& rt)
  {
    allocator_type a = boost::asio::get_associated_allocator(h);
    void* mem = memory::allocate(a);
    try
    {
      return ::new (mem) signal_wait_op(std::forward<H>(h), io_ex, rt);
    }
    catch (...)
    {
      memory::deallocate(a, mem);
      throw;
    }
  }

  Handler& handler() noexcept { return handler_; }

private:
  using memory = op_allocation<signal_wait_op, allocator_type>;

  template <class H>
  signal_wait_op(H&& h, const IoExecutor& io_ex, runtime& rt)
      : signal_op(&signal_wait_op::do_complete), handler_(std::forward<H>(h)), work_(handler_, io_ex, rt)
  {
    continuation = is_continuation_handler(handler_);
  }

  static void do_complete(operation* base, bool invoke)
  {
    auto* self = static_cast<signal_wait_op*>(base);
    const boost::system::error_code ec = self->ec;
    const int signal_number = self->signal_number;
    Handler h(std::move(self->handler_));
    handler_work<Handler, IoExecutor> work(std::move(self->work_));
    allocator_type a = boost::asio::get_associated_allocator(h);
    // Free the op before the upcall: the handler may start the next wait.
    self->~signal_wait_op();
    memory::deallocate(a, self);
    if (invoke)
      work.complete(h, ec, signal_number);
  }

  Handler handler_;
  handler_work<Handler, IoExecutor> work_;
};

} // namespace nanorun::detail
