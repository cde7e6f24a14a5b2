// nanorun::ip::basic_resolver: Asio's resolver, resolving on the runtime's
// blocking thread so that getaddrinfo never holds a worker.
#pragma once

#include <nanorun/detail/handler_work.hpp>
#include <nanorun/detail/io_service.hpp>
#include <nanorun/detail/op_memory.hpp>
#include <nanorun/detail/socket_ops.hpp>
#include <nanorun/runtime.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/detail/throw_error.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/basic_endpoint.hpp>
#include <boost/asio/ip/basic_resolver_results.hpp>
#include <boost/asio/ip/resolver_base.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace nanorun::ip {

namespace detail {

// Turns resolved addresses into Asio's results type.
template <class Results>
Results make_results(const std::vector<nanorun::detail::socket_ops::resolved_address>& addrs,
                     const std::string& host, const std::string& service)
{
  using endpoint_type = typename Results::endpoint_type;
  std::vector<endpoint_type> eps;
  eps.reserve(addrs.size());
  for (const auto& a : addrs)
  {
    endpoint_type ep;
    __builtin_memcpy(ep.data(), a.bytes, a.size);
    ep.resize(a.size);
    eps.push_back(ep);
  }
  return Results::create(eps.begin(), eps.end(), host, service);
}

// A resolve runs twice: first on the blocking thread (the lookup), then,
// requeued on the runtime, to deliver the result to the handler.
template <class Handler, class IoExecutor, class Results>
class resolve_op final : public nanorun::detail::operation
{
public:
  using allocator_type = boost::asio::associated_allocator_t<Handler>;

  template <class H>
  static resolve_op* create(H&& h, const IoExecutor& ex, runtime& rt, std::shared_ptr<std::atomic<bool>> cancelled,
                            std::string host, std::string service, int family, int socktype, int protocol,
                            int flags)
  {
    allocator_type a = boost::asio::get_associated_allocator(h);
    void* mem = memory::allocate(a);
    try
    {
      return ::new (mem) resolve_op(std::forward<H>(h), ex, rt, std::move(cancelled), std::move(host),
                                    std::move(service), family, socktype, protocol, flags);
    }
    catch (...)
    {
      memory::deallocate(a, mem);
      throw;
    }
  }

private:
  using memory = nanorun::detail::op_allocation<resolve_op, allocator_type>;

  template <class H>
  resolve_op(H&& h, const IoExecutor& ex, runtime& rt, std::shared_ptr<std::atomic<bool>> cancelled,
             std::string host, std::string service, int family, int socktype, int protocol, int flags)
      : operation(&resolve_op::do_complete), handler_(std::forward<H>(h)), work_(handler_, ex, rt), rt_(&rt),
        cancelled_(std::move(cancelled)), host_(std::move(host)), service_(std::move(service)), family_(family),
        socktype_(socktype), protocol_(protocol), flags_(flags)
  {
  }

  static void do_complete(operation* base, bool invoke)
  {
    auto* self = static_cast<resolve_op*>(base);
    if (!self->resolved_ && invoke)
    {
      // On the blocking thread.
      if (self->cancelled_->load(std::memory_order_acquire))
        self->ec_ = boost::asio::error::operation_aborted;
      else
      {
        auto addrs = nanorun::detail::socket_ops::resolve(self->host_, self->service_, self->family_,
                                                          self->socktype_, self->protocol_, self->flags_, self->ec_);
        if (!self->ec_)
          self->results_ = make_results<Results>(addrs, self->host_, self->service_);
      }
      self->resolved_ = true;
      nanorun::detail::io_requeue(*self->rt_, self);
      return;
    }
    Handler h(std::move(self->handler_));
    nanorun::detail::handler_work<Handler, IoExecutor> work(std::move(self->work_));
    const boost::system::error_code ec =
        self->cancelled_->load(std::memory_order_acquire) ? boost::asio::error::operation_aborted : self->ec_;
    Results results = ec ? Results() : std::move(self->results_);
    allocator_type a = boost::asio::get_associated_allocator(h);
    self->~resolve_op();
    memory::deallocate(a, self);
    if (invoke)
      work.complete(h, ec, std::move(results));
  }

  Handler handler_;
  nanorun::detail::handler_work<Handler, IoExecutor> work_;
  runtime* rt_;
  std::shared_ptr<std::atomic<bool>> cancelled_;
  std::string host_;
  std::string service_;
  int family_, socktype_, protocol_, flags_;
  bool resolved_ = false; // written on the blocking thread before the requeue publishes it
  boost::system::error_code ec_;
  Results results_;
};

} // namespace detail

/// A name resolver with the interface of boost::asio::ip::basic_resolver.
/**
 * Results are Asio's basic_resolver_results, so they feed
 * boost::asio::async_connect directly. Lookups run on one thread per runtime,
 * started on first use, never on a worker. cancel() completes pending
 * resolves with operation_aborted.
 */
template <class InternetProtocol, class Executor = boost::asio::any_io_executor>
class basic_resolver : public boost::asio::ip::resolver_base
{
public:
  using executor_type = Executor;
  using protocol_type = InternetProtocol;
  using endpoint_type = typename InternetProtocol::endpoint;
  using results_type = boost::asio::ip::basic_resolver_results<typename endpoint_type::protocol_type>;

  template <class Executor1>
  struct rebind_executor
  {
    using other = basic_resolver<InternetProtocol, Executor1>;
  };

  explicit basic_resolver(const executor_type& ex)
      : ex_(ex), rt_(&nanorun::detail::runtime_of_executor(ex, "nanorun resolver")),
        cancelled_(std::make_shared<std::atomic<bool>>(false))
  {
  }

  template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
  explicit basic_resolver(ExecutionContext& ctx) : basic_resolver(executor_type(ctx.get_executor()))
  {
  }

  basic_resolver(basic_resolver&&) noexcept = default;
  basic_resolver& operator=(basic_resolver&&) noexcept = default;

  /// Cancels pending resolves when destroyed, as Asio's does.
  ~basic_resolver()
  {
    if (cancelled_)
      cancelled_->store(true, std::memory_order_release);
  }

  executor_type get_executor() const noexcept { return ex_; }

  /// Pending asynchronous resolves complete with operation_aborted; later
  /// ones are not affected.
  void cancel()
  {
    cancelled_->store(true, std::memory_order_release);
    cancelled_ = std::make_shared<std::atomic<bool>>(false);
  }

  results_type resolve(std::string_view host, std::string_view service, flags f = address_configured)
  {
    boost::system::error_code ec;
    results_type r = resolve(host, service, f, ec);
    boost::asio::detail::throw_error(ec, "resolve");
    return r;
  }
  results_type resolve(std::string_view host, std::string_view service, boost::system::error_code& ec)
  {
    return resolve(host, service, address_configured, ec);
  }
  results_type resolve(std::string_view host, std::string_view service, flags f, boost::system::error_code& ec)
  {
    return resolve_impl(0, host, service, f, ec);
  }
  results_type resolve(const protocol_type& p, std::string_view host, std::string_view service,
                       flags f = address_configured)
  {
    boost::system::error_code ec;
    results_type r = resolve_impl(p.family(), host, service, f, ec);
    boost::asio::detail::throw_error(ec, "resolve");
    return r;
  }

  template <class Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_resolve(std::string_view host, std::string_view service,
                     Token&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_resolve(host, service, address_configured, std::forward<Token>(token));
  }

  template <class Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_resolve(std::string_view host, std::string_view service, flags f,
                     Token&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, results_type)>(
        initiate_resolve{this}, token, std::string(host), std::string(service), 0, static_cast<int>(f));
  }

  template <class Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_resolve(const protocol_type& p, std::string_view host, std::string_view service, flags f,
                     Token&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, results_type)>(
        initiate_resolve{this}, token, std::string(host), std::string(service), p.family(), static_cast<int>(f));
  }

private:
  results_type resolve_impl(int family, std::string_view host, std::string_view service, flags f,
                            boost::system::error_code& ec)
  {
    const std::string h(host), s(service);
    auto addrs = nanorun::detail::socket_ops::resolve(h, s, family, protocol_type::v4().type(),
                                                      protocol_type::v4().protocol(), static_cast<int>(f), ec);
    if (ec)
      return results_type();
    return detail::make_results<results_type>(addrs, h, s);
  }

  struct initiate_resolve
  {
    basic_resolver* self;
    using executor_type = Executor;
    executor_type get_executor() const noexcept { return self->ex_; }

    template <class Handler>
    void operator()(Handler&& h, std::string host, std::string service, int family, int flags) const
    {
      using op = detail::resolve_op<std::decay_t<Handler>, Executor, results_type>;
      auto* p = op::create(std::forward<Handler>(h), self->ex_, *self->rt_, self->cancelled_, std::move(host),
                           std::move(service), family, protocol_type::v4().type(), protocol_type::v4().protocol(),
                           flags);
      nanorun::detail::io_run_blocking(*self->rt_, p);
    }
  };

  Executor ex_;
  runtime* rt_;
  std::shared_ptr<std::atomic<bool>> cancelled_;
};

} // namespace nanorun::ip
