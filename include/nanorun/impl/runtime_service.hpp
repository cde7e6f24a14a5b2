// nanorun::runtime::service and runtime::id: what a service written against
// boost::asio::io_context::service needs once its base is swapped for
// nanorun::io_context::service, and the use_service() that creates it.
//
//   class my_service : public nanorun::io_context::service
//   {
//   public:
//     static nanorun::io_context::id id;
//     explicit my_service(nanorun::io_context& ctx) : service(ctx) {}
//   private:
//     void shutdown() override { ... }
//   };
//   auto& s = boost::asio::use_service<my_service>(ctx);
#pragma once

#include <boost/asio/execution_context.hpp>

#include <type_traits>

namespace nanorun {

/// Base class for the services of a runtime, as io_context::service is for
/// io_context's: the constructor takes the runtime, get_io_context() returns
/// it, and shutdown() and notify_fork() do nothing unless overridden.
class runtime::service : public boost::asio::execution_context::service
{
public:
  /// The runtime that owns the service.
  runtime& get_io_context() noexcept { return static_cast<runtime&>(context()); }

protected:
  explicit service(runtime& owner) : boost::asio::execution_context::service(owner) {}
  ~service() override = default;

private:
  void shutdown() override {}
  void notify_fork(boost::asio::execution_context::fork_event) override {}
};

/// The type of a service's `static id id;` member, as io_context::id.
class runtime::id : public boost::asio::execution_context::id
{
public:
  id() = default;
};

namespace detail {

// Asio's service registry builds a service from an execution_context&. A
// service whose constructor takes the runtime is built through this class,
// which derives from it (and so has its `id`, the registry's key): the
// registry finds the service whether it was made here or added by the user.
template <class Service>
class runtime_service_maker final : public Service
{
public:
  explicit runtime_service_maker(boost::asio::execution_context& ctx) : Service(static_cast<runtime&>(ctx)) {}
};

} // namespace detail

} // namespace nanorun

namespace boost::asio {

/// Obtains a runtime's service, creating it on first use: Asio's
/// use_service(io_context&) for nanorun::runtime. A service constructed from
/// an execution_context& goes through Asio's own use_service; one
/// constructed from the runtime (a runtime::service) gets the runtime.
template <class Service>
Service& use_service(nanorun::runtime& rt)
{
  static_assert(std::is_base_of_v<execution_context::service, Service>, "Service must be a service");
  if constexpr (std::is_constructible_v<Service, execution_context&>)
    return use_service<Service>(static_cast<execution_context&>(rt));
  else
  {
    static_assert(!std::is_final_v<Service>, "a service built from the runtime may not be final");
    (void)static_cast<const execution_context::id*>(&Service::id);
    return use_service<nanorun::detail::runtime_service_maker<Service>>(static_cast<execution_context&>(rt));
  }
}

} // namespace boost::asio
