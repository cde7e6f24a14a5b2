// How a completion reaches its handler. Shared by every nanorun I/O object.
//
// A completion is delivered on a worker of the I/O object's runtime. If the
// handler's associated executor is that runtime's plain executor, the handler
// is called right there (the runtime already counted the pending operation as
// work). Any other executor (a strand, a task executor, another context) is
// kept busy with a tracked-work executor while the operation is pending, and
// the completion is dispatched through it (Asio's handler_work does the same).
#pragma once

#include <nanorun/detail/runtime_service.hpp>
#include <nanorun/runtime.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/detail/bind_handler.hpp>
#include <boost/asio/detail/throw_exception.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/bad_executor.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/execution/executor.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/query.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace nanorun::detail {

template <class Executor>
boost::asio::execution_context& context_of(const Executor& ex)
{
  if constexpr (boost::asio::execution::is_executor<Executor>::value)
    return boost::asio::query(ex, boost::asio::execution::context);
  else
    return ex.context();
}

// The runtime behind ex; throws std::invalid_argument if there is none, and
// boost::asio::execution::bad_executor if ex is an empty polymorphic executor
// (a default-constructed any_io_executor): it has no context to ask, and
// Asio 1.26's own I/O objects dereference null there.
template <class Executor>
runtime& runtime_of_executor(const Executor& ex, const char* what)
{
  if constexpr (std::is_constructible_v<bool, const Executor&>)
    if (!static_cast<bool>(ex))
      boost::asio::detail::throw_exception(boost::asio::execution::bad_executor());
  if (runtime* rt = find_runtime(context_of(ex)))
    return *rt;
  throw std::invalid_argument(std::string(what) +
                              ": the executor's execution context is not a nanorun::runtime (nanorun's I/O "
                              "objects run only on nanorun; use boost::asio's for other contexts)");
}

template <class Handler, class IoExecutor>
class handler_work
{
public:
  using handler_executor = boost::asio::associated_executor_t<Handler, IoExecutor>;
  using tracked_executor = std::decay_t<decltype(boost::asio::prefer(
      std::declval<const handler_executor&>(), boost::asio::execution::outstanding_work.tracked))>;

  handler_work(const Handler& h, const IoExecutor& io_ex, const runtime& rt)
  {
    const handler_executor ex = boost::asio::get_associated_executor(h, io_ex);
    if (!is_plain_executor_of(ex, rt))
      work_.emplace(boost::asio::prefer(ex, boost::asio::execution::outstanding_work.tracked));
  }

  // Calls h with args: directly, or through the tracked executor.
  template <class... Args>
  void complete(Handler& h, Args&&... args)
  {
    if (!work_)
    {
      std::move(h)(std::forward<Args>(args)...);
      return;
    }
    boost::asio::dispatch(*work_, bind(std::move(h), std::forward<Args>(args)...));
  }

private:
  // Asio's binders keep the handler's associated executor and allocator
  // visible; the move binder carries move-only results (an accepted socket).
  template <class... Args>
  static auto bind(Handler&& h, Args&&... args)
  {
    if constexpr (sizeof...(Args) == 2 && !(std::is_copy_constructible_v<std::decay_t<Args>> && ...))
      return bind_move(std::move(h), std::forward<Args>(args)...);
    else
      return boost::asio::detail::bind_handler(std::move(h), std::forward<Args>(args)...);
  }

  template <class A1, class A2>
  static auto bind_move(Handler&& h, A1&& a1, A2&& a2)
  {
    return boost::asio::detail::move_binder2<Handler, std::decay_t<A1>, std::decay_t<A2>>(0, std::move(h), a1,
                                                                                          std::move(a2));
  }

  static bool is_plain_executor_of(const handler_executor& ex, const runtime& rt) noexcept
  {
    using plain = runtime::executor_type;
    if constexpr (std::is_same_v<handler_executor, plain>)
      return &boost::asio::query(ex, boost::asio::execution::context) == &rt;
    else if constexpr (std::is_same_v<handler_executor, boost::asio::any_io_executor>)
    {
      const plain* p = ex.template target<plain>();
      return p && &boost::asio::query(*p, boost::asio::execution::context) == &rt;
    }
    else
      return false;
  }

  std::optional<tracked_executor> work_;
};

} // namespace nanorun::detail
