// Finding the nanorun::runtime behind an execution_context&.
//
// boost::asio::execution_context is not polymorphic, so code that holds only an
// any_io_executor cannot dynamic_cast its way to a runtime. Every runtime
// registers this service in itself; has_service() then answers "is this a
// nanorun runtime?" and the service knows which one.
#pragma once

#include <boost/asio/execution_context.hpp>

namespace nanorun {
class runtime;
} // namespace nanorun

namespace nanorun::detail {

class runtime_service final : public boost::asio::execution_context::service
{
public:
  static inline boost::asio::execution_context::id id;

  runtime_service(boost::asio::execution_context& ctx, nanorun::runtime* owner)
      : service(ctx), owner_(owner)
  {
  }

  // use_service<> requires this constructor; a context that is not a runtime
  // gets a service that knows no runtime.
  explicit runtime_service(boost::asio::execution_context& ctx) : service(ctx), owner_(nullptr) {}

  nanorun::runtime* owner() const noexcept { return owner_; }

private:
  void shutdown() override {}
  // In the child, gives the runtime's reactor kernel objects of its own, as
  // io_context's reactor does (src/runtime/runtime.cpp). Registered first, so
  // it runs before every other service's fork_child handling.
  void notify_fork(boost::asio::execution_context::fork_event event) override;
  nanorun::runtime* owner_;
};

// The runtime behind ctx, or null if ctx is not a nanorun runtime.
// Every I/O object's constructor asks, so the answer is cached per thread
// (src/runtime/runtime.cpp): asking the service registry takes its mutex
// twice, which threads constructing timers at once contend on.
nanorun::runtime* find_runtime(boost::asio::execution_context& ctx) noexcept;

} // namespace nanorun::detail
