// Name resolution for nanorun's resolver: what a resolve looks up (a host and
// service, or an endpoint), and the operation that looks it up on the
// runtime's blocking thread and then delivers the results on the runtime.
#pragma once

#include <nanorun/detail/handler_work.hpp>
#include <nanorun/detail/io_service.hpp>
#include <nanorun/detail/op_memory.hpp>
#include <nanorun/detail/operation.hpp>
#include <nanorun/detail/socket_ops.hpp>
#include <nanorun/runtime.hpp>

#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/error.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace nanorun::detail {

// The completion token of a resolve, as Asio constrains it.
template <class T, class Results>
concept resolve_token = boost::asio::completion_token_for<T, void(boost::system::error_code, Results)>;

// getaddrinfo for a host and service. As Asio's results, every entry carries
// the canonical name when the OS gave one, and the host as asked otherwise.
struct name_query
{
  std::string host;
  std::string service;
  int family;
  int socktype;
  int protocol;
  int flags;

  template <class Results>
  Results run(boost::system::error_code& ec) const
  {
    using endpoint_type = typename Results::endpoint_type;
    std::string canonical;
    const auto addrs = socket_ops::resolve(host, service, family, socktype, protocol, flags, canonical, ec);
    if (ec)
      return Results();
    std::vector<endpoint_type> eps;
    eps.reserve(addrs.size());
    for (const auto& a : addrs)
    {
      endpoint_type ep;
      __builtin_memcpy(ep.data(), a.bytes, a.size);
      ep.resize(a.size);
      eps.push_back(ep);
    }
    return Results::create(eps.begin(), eps.end(), canonical.empty() ? host : canonical, service);
  }
};

// getnameinfo for an endpoint: one entry, the endpoint with its names.
template <class Endpoint>
struct endpoint_query
{
  Endpoint endpoint;
  int socktype;

  template <class Results>
  Results run(boost::system::error_code& ec) const
  {
    std::string host, service;
    socket_ops::resolve_endpoint(endpoint.data(), endpoint.size(), socktype, host, service, ec);
    return ec ? Results() : Results::create(endpoint, host, service);
  }
};

// A resolve runs twice: first on the blocking thread (the lookup), then,
// requeued on the runtime, to deliver the result to the handler. `cancelled`
// is shared with the resolver: cancel() and the resolver's destructor set it.
template <class Handler, class IoExecutor, class Results, class Query>
class resolve_op final : public operation
{
public:
  using allocator_type = boost::asio::associated_allocator_t<Handler>;

  template <class H>
  static resolve_op* create(H&& h, const IoExecutor& ex, runtime& rt, std::shared_ptr<std::atomic<bool>> cancelled,
                            Query query)
  {
    allocator_type a = boost::asio::get_associated_allocator(h);
    void* mem = memory::allocate(a);
    try
    {
      return ::new (mem) resolve_op(std::forward<H>(h), ex, rt, std::move(cancelled), std::move(query));
    }
    catch (...)
    {
      memory::deallocate(a, mem);
      throw;
    }
  }

private:
  using memory = op_allocation<resolve_op, allocator_type>;

  template <class H>
  resolve_op(H&& h, const IoExecutor& ex, runtime& rt, std::shared_ptr<std::atomic<bool>> cancelled, Query query)
      : operation(&resolve_op::do_complete), handler_(std::forward<H>(h)), work_(handler_, ex, rt), rt_(&rt),
        cancelled_(std::move(cancelled)), query_(std::move(query))
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
        self->results_ = self->query_.template run<Results>(self->ec_);
      self->resolved_ = true;
      io_requeue(*self->rt_, self);
      return;
    }
    Handler h(std::move(self->handler_));
    handler_work<Handler, IoExecutor> work(std::move(self->work_));
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
  handler_work<Handler, IoExecutor> work_;
  runtime* rt_;
  std::shared_ptr<std::atomic<bool>> cancelled_;
  Query query_;
  bool resolved_ = false; // written on the blocking thread before the requeue publishes it
  boost::system::error_code ec_;
  Results results_;
};

} // namespace nanorun::detail
