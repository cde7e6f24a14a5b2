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
/**
 * A service derives from it, declares `static nanorun::runtime::id id;`, and
 * is obtained with boost::asio::use_service<Service>(rt) (the overload below)
 * or added with boost::asio::add_service.
 *
 * @par Thread safety
 * As for boost::asio::io_context::service: the runtime creates, shuts down
 * and destroys its services; what a service does in between is its own.
 */
class runtime::service : public boost::asio::execution_context::service
{
public:
  /// The runtime that owns the service.
  /// @returns the runtime passed to the constructor.
  runtime& get_io_context() noexcept { return static_cast<runtime&>(context()); }

protected:
  /// Constructs the service for a runtime.
  /// @param owner the runtime that will own the service.
  explicit service(runtime& owner) : boost::asio::execution_context::service(owner) {}
  /// Destroys the service (the runtime does, after shutting it down).
  ~service() override = default;

private:
  void shutdown() override {}
  void notify_fork(boost::asio::execution_context::fork_event) override {}
};

/// The type of a service's `static id id;` member, as io_context::id.
/**
 * Its address is the key under which the runtime's service registry keeps
 * the service.
 *
 * @par Thread safety
 * Immutable after construction: safe.
 */
class runtime::id : public boost::asio::execution_context::id
{
public:
  /// Constructs an identifier.
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

/// @namespace boost::asio
/// @brief What nanorun adds to Boost.Asio's namespace: use_service() for a
/// nanorun::runtime (<nanorun/impl/runtime_service.hpp>) and the
/// specialisations of boost::asio::basic_socket for nanorun::ip::tcp and
/// nanorun::ip::udp (<nanorun/ip/tcp.hpp>, <nanorun/ip/udp.hpp>).
namespace boost::asio {

/// Obtains a runtime's service, creating it on first use: Asio's
/// use_service(io_context&) for nanorun::runtime. A service constructed from
/// an execution_context& goes through Asio's own use_service; one
/// constructed from the runtime (a runtime::service) gets the runtime.
/**
 * @param rt the runtime whose service to obtain.
 * @returns the runtime's one instance of Service.
 * @throws what Service's constructor throws, or std::bad_alloc.
 *
 * @par Thread safety
 * Safe to call from several threads at once, as Asio's use_service.
 */
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
