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
//     cancellation slots, allocators) are looked through, and so are Asio's
//     composed reads and writes (async_read, async_write, async_read_until)
//     whose final handler resumes a coroutine: each step's completion either
//     starts the next step or resumes the coroutine, which waits for nothing
//     else. Without this, the first step of every co_await async_write that
//     finished at once was a fork, announced to a parked driver that woke up
//     for nothing (an eventfd write and read per message in an echo server).
#pragma once

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/detail/handler_cont_helpers.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/write.hpp>
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

template <class Stream, class Buffers, class Iterator, class Condition, class Handler>
struct is_coroutine_resumption<boost::asio::detail::read_op<Stream, Buffers, Iterator, Condition, Handler>>
    : is_coroutine_resumption<Handler>
{
};

template <class Stream, class Buffers, class Iterator, class Condition, class Handler>
struct is_coroutine_resumption<boost::asio::detail::write_op<Stream, Buffers, Iterator, Condition, Handler>>
    : is_coroutine_resumption<Handler>
{
};

template <class Stream, class DynamicBuffer, class Handler>
struct is_coroutine_resumption<boost::asio::detail::read_until_delim_op_v1<Stream, DynamicBuffer, Handler>>
    : is_coroutine_resumption<Handler>
{
};

template <class Stream, class DynamicBuffer, class Handler>
struct is_coroutine_resumption<boost::asio::detail::read_until_delim_string_op_v1<Stream, DynamicBuffer, Handler>>
    : is_coroutine_resumption<Handler>
{
};

template <class Stream, class DynamicBuffer, class Handler>
struct is_coroutine_resumption<boost::asio::detail::read_until_delim_op_v2<Stream, DynamicBuffer, Handler>>
    : is_coroutine_resumption<Handler>
{
};

template <class Stream, class DynamicBuffer, class Handler>
struct is_coroutine_resumption<boost::asio::detail::read_until_delim_string_op_v2<Stream, DynamicBuffer, Handler>>
    : is_coroutine_resumption<Handler>
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
