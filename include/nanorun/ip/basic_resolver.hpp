// nanorun::ip::basic_resolver: Asio's resolver, resolving on the runtime's
// blocking thread so that getaddrinfo never holds a worker.
#pragma once

#include <nanorun/detail/handler_work.hpp>
#include <nanorun/detail/io_service.hpp>
#include <nanorun/detail/resolve_op.hpp>
#include <nanorun/runtime.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/detail/throw_error.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/ip/basic_endpoint.hpp>
#include <boost/asio/ip/basic_resolver_results.hpp>
#include <boost/asio/ip/resolver_base.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

/// @namespace nanorun::ip
/// @brief Internet protocols whose sockets, acceptor and resolver are
/// nanorun's: the counterpart of boost::asio::ip.
namespace nanorun::ip {

/// A name resolver with the interface of boost::asio::ip::basic_resolver.
/**
 * Every form of Asio 1.26 but the deprecated query overloads: forward
 * resolution of a host and service (optionally with a protocol, flags or an
 * error_code) and reverse resolution of an endpoint. Without flags, no flags
 * are passed to the OS, as in Asio. Results are Asio's
 * basic_resolver_results, so they feed boost::asio::async_connect directly;
 * errors are Asio's (host_not_found, service_not_found, ...).
 *
 * Asynchronous lookups run on one thread per runtime, started on first use,
 * never on a worker; the synchronous ones run on the calling thread. cancel(),
 * or destroying the resolver, completes pending resolves with
 * operation_aborted.
 *
 * Mirrors boost::asio::ip::basic_resolver (Asio 1.26). Differences: the
 * executor must belong to a nanorun::runtime (the constructors throw
 * std::invalid_argument otherwise); the query overloads and the `query` and
 * `iterator` typedefs are absent; host and service are taken as
 * std::string_view; asynchronous lookups run on the runtime's blocking
 * thread rather than on a private thread of the resolver's service; and the
 * resolver may outlive its runtime (async_resolve then throws
 * boost::system::system_error with operation_aborted, doc/bad-input.md).
 *
 * @par Per-Operation Cancellation
 * Not supported: the handler's cancellation slot is not used (a lookup in
 * getaddrinfo cannot be interrupted). Use cancel(), which completes pending
 * resolves with operation_aborted.
 *
 * @par Thread safety
 * Distinct objects: safe. Shared objects: unsafe.
 */
template <class InternetProtocol, class Executor = boost::asio::any_io_executor>
class basic_resolver : public boost::asio::ip::resolver_base
{
public:
  /// The type of the executor associated with the resolver.
  using executor_type = Executor;
  /// The protocol type (nanorun::ip::tcp or nanorun::ip::udp).
  using protocol_type = InternetProtocol;
  /// The endpoint type.
  using endpoint_type = typename InternetProtocol::endpoint;
  /// The results type: Asio's, a range of entries with endpoint, host name
  /// and service name.
  using results_type = boost::asio::ip::basic_resolver_results<typename endpoint_type::protocol_type>;

  /// Rebinds the resolver type to another executor.
  template <class Executor1>
  struct rebind_executor
  {
    /// The resolver type when rebound to Executor1.
    using other = basic_resolver<InternetProtocol, Executor1>;
  };

  /// Constructs a resolver.
  /// @param ex the executor: its context must be a nanorun::runtime; it is
  /// the default executor of the resolver's handlers.
  /// @throws std::invalid_argument if ex does not belong to a nanorun
  /// runtime; boost::asio::execution::bad_executor if it is empty.
  explicit basic_resolver(const executor_type& ex)
      : ex_(ex), rt_(nanorun::detail::runtime_of_executor(ex, "nanorun resolver").ref())
  {
  }

  /// Constructs a resolver on ctx's executor.
  /// @param ctx the runtime.
  template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
  explicit basic_resolver(ExecutionContext& ctx) : basic_resolver(executor_type(ctx.get_executor()))
  {
  }

  /// Moves a resolver; its pending resolves go with it.
  basic_resolver(basic_resolver&&) noexcept = default;
  /// Move-assigns a resolver: this one's pending resolves complete with
  /// operation_aborted; o's go with it.
  /// @param o the resolver to move from.
  /// @returns `*this`.
  basic_resolver& operator=(basic_resolver&& o) noexcept
  {
    if (this != &o)
    {
      abort_pending();
      ex_ = std::move(o.ex_);
      rt_ = o.rt_;
      cancelled_ = std::move(o.cancelled_);
    }
    return *this;
  }

  /// Moves a resolver of another executor type; its pending resolves go with it.
  /// @param o the resolver to move from.
  template <class Executor1>
    requires std::is_convertible_v<Executor1, Executor>
  basic_resolver(basic_resolver<InternetProtocol, Executor1>&& o) noexcept
      : ex_(std::move(o.ex_)), rt_(o.rt_), cancelled_(std::move(o.cancelled_))
  {
  }
  /// Move-assigns a resolver of another executor type, as the move assignment.
  /// @param o the resolver to move from.
  /// @returns `*this`.
  template <class Executor1>
    requires std::is_convertible_v<Executor1, Executor>
  basic_resolver& operator=(basic_resolver<InternetProtocol, Executor1>&& o) noexcept
  {
    abort_pending();
    ex_ = std::move(o.ex_);
    rt_ = o.rt_;
    cancelled_ = std::move(o.cancelled_);
    return *this;
  }

  /// Cancels pending resolves, as Asio's does.
  ~basic_resolver() { abort_pending(); }

  basic_resolver(const basic_resolver&) = delete;
  basic_resolver& operator=(const basic_resolver&) = delete;

  /// The executor associated with the resolver.
  /// @returns a copy of the executor given at construction.
  executor_type get_executor() const noexcept { return ex_; }

  /// Pending asynchronous resolves complete with operation_aborted; later
  /// ones are not affected.
  void cancel()
  {
    abort_pending();
    cancelled_.reset();
  }

  /// @name Forward resolution
  /// @{

  /// Resolves a host and service on the calling thread (blocking).
  /// @param host the host name or numeric address; may be empty (with a service).
  /// @param service the service name or port number; may be empty.
  /// @returns the results, in the OS's order.
  /// @throws boost::system::system_error on failure.
  results_type resolve(std::string_view host, std::string_view service)
  {
    return resolve(host, service, flags());
  }
  /// Resolves a host and service on the calling thread (blocking).
  /// @param host the host name or numeric address; may be empty (with a service).
  /// @param service the service name or port number; may be empty.
  /// @param ec set to the error, if any (host_not_found, service_not_found, ...).
  /// @returns the results; empty on error.
  results_type resolve(std::string_view host, std::string_view service, boost::system::error_code& ec)
  {
    return resolve(host, service, flags(), ec);
  }
  /// Resolves a host and service on the calling thread (blocking).
  /// @param host the host name or numeric address; may be empty (with a service).
  /// @param service the service name or port number; may be empty.
  /// @param resolve_flags the flags passed to getaddrinfo (e.g. passive, numeric_host).
  /// @returns the results, in the OS's order.
  /// @throws boost::system::system_error on failure.
  results_type resolve(std::string_view host, std::string_view service, flags resolve_flags)
  {
    boost::system::error_code ec;
    results_type r = resolve(host, service, resolve_flags, ec);
    boost::asio::detail::throw_error(ec, "resolve");
    return r;
  }
  /// Resolves a host and service on the calling thread (blocking).
  /// @param host the host name or numeric address; may be empty (with a service).
  /// @param service the service name or port number; may be empty.
  /// @param resolve_flags the flags passed to getaddrinfo (e.g. passive, numeric_host).
  /// @param ec set to the error, if any (host_not_found, service_not_found, ...).
  /// @returns the results; empty on error.
  results_type resolve(std::string_view host, std::string_view service, flags resolve_flags,
                       boost::system::error_code& ec)
  {
    return query(0, host, service, resolve_flags).template run<results_type>(ec);
  }

  /// Resolves a host and service on the calling thread (blocking).
  /// @param protocol restricts the results to this protocol's family (v4 or v6).
  /// @param host the host name or numeric address; may be empty (with a service).
  /// @param service the service name or port number; may be empty.
  /// @returns the results, in the OS's order.
  /// @throws boost::system::system_error on failure.
  results_type resolve(const protocol_type& protocol, std::string_view host, std::string_view service)
  {
    return resolve(protocol, host, service, flags());
  }
  /// Resolves a host and service on the calling thread (blocking).
  /// @param protocol restricts the results to this protocol's family (v4 or v6).
  /// @param host the host name or numeric address; may be empty (with a service).
  /// @param service the service name or port number; may be empty.
  /// @param ec set to the error, if any (host_not_found, service_not_found, ...).
  /// @returns the results; empty on error.
  results_type resolve(const protocol_type& protocol, std::string_view host, std::string_view service,
                       boost::system::error_code& ec)
  {
    return resolve(protocol, host, service, flags(), ec);
  }
  /// Resolves a host and service on the calling thread (blocking).
  /// @param protocol restricts the results to this protocol's family (v4 or v6).
  /// @param host the host name or numeric address; may be empty (with a service).
  /// @param service the service name or port number; may be empty.
  /// @param resolve_flags the flags passed to getaddrinfo (e.g. passive, numeric_host).
  /// @returns the results, in the OS's order.
  /// @throws boost::system::system_error on failure.
  results_type resolve(const protocol_type& protocol, std::string_view host, std::string_view service,
                       flags resolve_flags)
  {
    boost::system::error_code ec;
    results_type r = resolve(protocol, host, service, resolve_flags, ec);
    boost::asio::detail::throw_error(ec, "resolve");
    return r;
  }
  /// Resolves a host and service on the calling thread (blocking).
  /// @param protocol restricts the results to this protocol's family (v4 or v6).
  /// @param host the host name or numeric address; may be empty (with a service).
  /// @param service the service name or port number; may be empty.
  /// @param resolve_flags the flags passed to getaddrinfo (e.g. passive, numeric_host).
  /// @param ec set to the error, if any (host_not_found, service_not_found, ...).
  /// @returns the results; empty on error.
  results_type resolve(const protocol_type& protocol, std::string_view host, std::string_view service,
                       flags resolve_flags, boost::system::error_code& ec)
  {
    return query(protocol.family(), host, service, resolve_flags).template run<results_type>(ec);
  }
  /// @}

  /// @name Reverse resolution: one entry, the endpoint with its host and service names
  /// @{

  /// Resolves an endpoint to its host and service names on the calling thread.
  /// @param e the endpoint.
  /// @returns one entry: the endpoint with its host and service names.
  /// @throws boost::system::system_error on failure.
  results_type resolve(const endpoint_type& e)
  {
    boost::system::error_code ec;
    results_type r = resolve(e, ec);
    boost::asio::detail::throw_error(ec, "resolve");
    return r;
  }
  /// Resolves an endpoint to its host and service names on the calling thread.
  /// @param e the endpoint.
  /// @param ec set to the error, if any (host_not_found, service_not_found, ...).
  /// @returns one entry; empty on error.
  results_type resolve(const endpoint_type& e, boost::system::error_code& ec)
  {
    return query(e).template run<results_type>(ec);
  }
  /// @}

  /// @name Asynchronous resolution
  /// Run on the runtime's blocking thread, never on a worker.
  /// @{

  /// Resolves a host and service asynchronously.
  /// @param host the host name or numeric address; may be empty (with a service).
  /// @param service the service name or port number; may be empty.
  /// @param token the completion token.
  /// @returns what the token's async_result returns.
  /// @throws boost::system::system_error (operation_aborted) if the
  /// resolver's runtime has been destroyed; the handler is not taken.
  ///
  /// @par Completion Signature
  /// @code void(boost::system::error_code, results_type) @endcode
  /// Errors: Asio's mapping of getaddrinfo's (host_not_found,
  /// host_not_found_try_again, service_not_found, no_recovery, no_memory,
  /// ...), with empty results; operation_aborted if cancel() was called or
  /// the resolver destroyed first. Never invoked from inside this call.
  ///
  /// @par Per-Operation Cancellation
  /// Not supported; use cancel().
  template <nanorun::detail::resolve_token<results_type> ResolveToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_resolve(std::string_view host, std::string_view service,
                     ResolveToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_resolve(host, service, flags(), std::forward<ResolveToken>(token));
  }
  /// Resolves a host and service asynchronously.
  /// @param host the host name or numeric address; may be empty (with a service).
  /// @param service the service name or port number; may be empty.
  /// @param resolve_flags the flags passed to getaddrinfo (e.g. passive, numeric_host).
  /// @param token the completion token.
  /// @returns what the token's async_result returns.
  /// @throws boost::system::system_error (operation_aborted) if the
  /// resolver's runtime has been destroyed; the handler is not taken.
  ///
  /// @par Completion Signature
  /// @code void(boost::system::error_code, results_type) @endcode
  /// Errors: Asio's mapping of getaddrinfo's (host_not_found,
  /// host_not_found_try_again, service_not_found, no_recovery, no_memory,
  /// ...), with empty results; operation_aborted if cancel() was called or
  /// the resolver destroyed first. Never invoked from inside this call.
  ///
  /// @par Per-Operation Cancellation
  /// Not supported; use cancel().
  template <nanorun::detail::resolve_token<results_type> ResolveToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_resolve(std::string_view host, std::string_view service, flags resolve_flags,
                     ResolveToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<ResolveToken, void(boost::system::error_code, results_type)>(
        initiate_resolve{this}, token, query(0, host, service, resolve_flags));
  }
  /// Resolves a host and service asynchronously.
  /// @param protocol restricts the results to this protocol's family (v4 or v6).
  /// @param host the host name or numeric address; may be empty (with a service).
  /// @param service the service name or port number; may be empty.
  /// @param token the completion token.
  /// @returns what the token's async_result returns.
  /// @throws boost::system::system_error (operation_aborted) if the
  /// resolver's runtime has been destroyed; the handler is not taken.
  ///
  /// @par Completion Signature
  /// @code void(boost::system::error_code, results_type) @endcode
  /// Errors: Asio's mapping of getaddrinfo's (host_not_found,
  /// host_not_found_try_again, service_not_found, no_recovery, no_memory,
  /// ...), with empty results; operation_aborted if cancel() was called or
  /// the resolver destroyed first. Never invoked from inside this call.
  ///
  /// @par Per-Operation Cancellation
  /// Not supported; use cancel().
  template <nanorun::detail::resolve_token<results_type> ResolveToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_resolve(const protocol_type& protocol, std::string_view host, std::string_view service,
                     ResolveToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_resolve(protocol, host, service, flags(), std::forward<ResolveToken>(token));
  }
  /// Resolves a host and service asynchronously.
  /// @param protocol restricts the results to this protocol's family (v4 or v6).
  /// @param host the host name or numeric address; may be empty (with a service).
  /// @param service the service name or port number; may be empty.
  /// @param resolve_flags the flags passed to getaddrinfo (e.g. passive, numeric_host).
  /// @param token the completion token.
  /// @returns what the token's async_result returns.
  /// @throws boost::system::system_error (operation_aborted) if the
  /// resolver's runtime has been destroyed; the handler is not taken.
  ///
  /// @par Completion Signature
  /// @code void(boost::system::error_code, results_type) @endcode
  /// Errors: Asio's mapping of getaddrinfo's (host_not_found,
  /// host_not_found_try_again, service_not_found, no_recovery, no_memory,
  /// ...), with empty results; operation_aborted if cancel() was called or
  /// the resolver destroyed first. Never invoked from inside this call.
  ///
  /// @par Per-Operation Cancellation
  /// Not supported; use cancel().
  template <nanorun::detail::resolve_token<results_type> ResolveToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_resolve(const protocol_type& protocol, std::string_view host, std::string_view service,
                     flags resolve_flags,
                     ResolveToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<ResolveToken, void(boost::system::error_code, results_type)>(
        initiate_resolve{this}, token, query(protocol.family(), host, service, resolve_flags));
  }
  /// Resolves an endpoint to its host and service names asynchronously.
  /// @param e the endpoint.
  /// @param token the completion token.
  /// @returns what the token's async_result returns.
  /// @throws boost::system::system_error (operation_aborted) if the
  /// resolver's runtime has been destroyed; the handler is not taken.
  ///
  /// @par Completion Signature
  /// @code void(boost::system::error_code, results_type) @endcode
  /// Errors: Asio's mapping of getaddrinfo's (host_not_found,
  /// host_not_found_try_again, service_not_found, no_recovery, no_memory,
  /// ...), with empty results; operation_aborted if cancel() was called or
  /// the resolver destroyed first. Never invoked from inside this call.
  ///
  /// @par Per-Operation Cancellation
  /// Not supported; use cancel().
  template <nanorun::detail::resolve_token<results_type> ResolveToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_resolve(const endpoint_type& e,
                     ResolveToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<ResolveToken, void(boost::system::error_code, results_type)>(
        initiate_resolve{this}, token, query(e));
  }
  /// @}

private:
  template <class, class>
  friend class basic_resolver;

  // What Asio's query asks getaddrinfo for: the family (0 for any), and the
  // socket type and protocol of InternetProtocol.
  static nanorun::detail::name_query query(int family, std::string_view host, std::string_view service,
                                           flags resolve_flags)
  {
    const protocol_type p = protocol_type::v4();
    return {std::string(host), std::string(service), family, p.type(), p.protocol(), static_cast<int>(resolve_flags)};
  }
  static nanorun::detail::endpoint_query<endpoint_type> query(const endpoint_type& e)
  {
    return {e, protocol_type::v4().type()};
  }

  // The flag pending resolves watch; replaced after a cancel (or a move).
  const std::shared_ptr<std::atomic<bool>>& cancel_flag()
  {
    if (!cancelled_)
      cancelled_ = std::make_shared<std::atomic<bool>>(false);
    return cancelled_;
  }
  void abort_pending() noexcept
  {
    if (cancelled_)
      cancelled_->store(true, std::memory_order_release);
  }

  struct initiate_resolve
  {
    basic_resolver* self;
    using executor_type = Executor;
    executor_type get_executor() const noexcept { return self->ex_; }

    template <class Handler, class Query>
    void operator()(Handler&& h, Query q) const
    {
      using op = nanorun::detail::resolve_op<std::decay_t<Handler>, Executor, results_type, Query>;
      runtime& rt = self->rt_.checked("nanorun resolver");
      auto* p = op::create(std::forward<Handler>(h), self->ex_, rt, self->cancel_flag(), std::move(q));
      nanorun::detail::io_run_blocking(rt, p);
    }
  };

  Executor ex_;
  nanorun::detail::runtime_ref rt_;
  std::shared_ptr<std::atomic<bool>> cancelled_; // null until the first asynchronous resolve
};

} // namespace nanorun::ip
