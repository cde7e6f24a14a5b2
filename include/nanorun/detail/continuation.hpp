// Whether a completion handler continues the code that started its operation.
//
// An operation that finishes inside its initiating call must still be queued
// (Asio 1.26 has no immediate executor), and where it is queued matters:
// io_context queues a continuation on the initiating thread, behind the
// handler now running, and a fork where any thread may take it at once.
// nanorun does the same with its LIFO slot and local queue. Two kinds of
// handler are continuations:
//   * the next step of a composed operation (async_read's read_op and the
//     like), which Asio marks through asio_handler_is_continuation;
//   * the resumption of a coroutine: with use_awaitable the initiating call
//     runs while the coroutine is already suspended, and the thread returns to
//     the runtime as soon as it ends. Wrappers that tokens add around the
//     coroutine's handler (as_tuple, redirect_error, bound executors,
//     cancellation slots, allocators) are looked through.
#pragma once

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/detail/handler_cont_helpers.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <type_traits>

namespace nanorun::detail {

template <class Handler>
struct is_coroutine_resumption : std::false_type
{
};

template <class Executor, class... Ts>
struct is_coroutine_resumption<boost::asio::detail::awaitable_handler<Executor, Ts...>> : std::true_type
{
};

template <class Handler>
struct is_coroutine_resumption<boost::asio::detail::as_tuple_handler<Handler>> : is_coroutine_resumption<Handler>
{
};

template <class Handler>
struct is_coroutine_resumption<boost::asio::detail::redirect_error_handler<Handler>>
    : is_coroutine_resumption<Handler>
{
};

template <class Handler, class Executor>
struct is_coroutine_resumption<boost::asio::executor_binder<Handler, Executor>> : is_coroutine_resumption<Handler>
{
};

template <class Handler, class Slot>
struct is_coroutine_resumption<boost::asio::cancellation_slot_binder<Handler, Slot>>
    : is_coroutine_resumption<Handler>
{
};

template <class Handler, class Allocator>
struct is_coroutine_resumption<boost::asio::allocator_binder<Handler, Allocator>> : is_coroutine_resumption<Handler>
{
};

template <class Handler>
bool is_continuation_handler(Handler& h)
{
  if constexpr (is_coroutine_resumption<Handler>::value)
    return true;
  else
    return boost_asio_handler_cont_helpers::is_continuation(h);
}

} // namespace nanorun::detail
