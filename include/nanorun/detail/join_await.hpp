// Lets `co_await std::move(handle)` yield T or rethrow, on Boost 1.81.
//
// Asio 1.26 awaits an asynchronous operation through awaitable_async_op_handler,
// specialised by completion signature; its specialisations for
// void(std::exception_ptr) and void(std::exception_ptr, T) do not compile
// (resume() dereferences the wrong level of pointer). A join_handle therefore
// presents the co_await path with the one-argument signature
// void(join_result<T>), and this file adds the matching specialisation, which
// rethrows the stored exception or returns the value.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace nanorun::detail {

template <class T>
struct join_result
{
  std::exception_ptr error;
  std::optional<std::conditional_t<std::is_void_v<T>, char, T>> value;

  T get()
  {
    if (error)
      std::rethrow_exception(std::exchange(error, nullptr));
    if constexpr (!std::is_void_v<T>)
      return std::move(*value);
  }
};

} // namespace nanorun::detail

namespace boost::asio::detail {

template <typename R, typename T, typename Executor>
class awaitable_async_op_handler<R(nanorun::detail::join_result<T>), Executor> : public awaitable_thread<Executor>
{
public:
  using result_type = nanorun::detail::join_result<T>*;

  awaitable_async_op_handler(awaitable_thread<Executor>* h, result_type& result)
      : awaitable_thread<Executor>(std::move(*h)), result_(result)
  {
  }

  void operator()(nanorun::detail::join_result<T> r)
  {
    // r lives on this stack frame until pump() has resumed the coroutine and
    // the coroutine has taken the outcome in resume().
    result_ = &r;
    this->entry_point()->top_of_stack_->attach_thread(this);
    this->entry_point()->top_of_stack_->clear_cancellation_slot();
    this->pump();
  }

  static T resume(result_type& result) { return result->get(); }

private:
  result_type& result_;
};

} // namespace boost::asio::detail

namespace nanorun::detail {

// The handler `co_await std::move(handle)` passes to the join: the coroutine
// itself, suspended (Asio runs the initiation after the suspension), on a
// thread that runs its executor. For that handler alone a finished task's
// outcome is delivered inside the initiating call (join_core::wait_async):
// nothing of the user's is on the stack between the suspension and the
// resumption, so nothing can observe it, and a post would only cost a trip
// through the scheduler per join (a fan-out that joins a million finished
// tasks makes a million of them).
template <class Handler>
struct is_join_await_handler : std::false_type
{
};
template <class R, class T, class Executor>
struct is_join_await_handler<boost::asio::detail::awaitable_async_op_handler<R(join_result<T>), Executor>>
    : std::true_type
{
};

// Each inline delivery resumes the coroutine one level deeper on this
// thread's stack (Asio's pump runs inside the initiation), until its next
// real suspension. So at most this many nest; the next join is posted, which
// also lets other work run now and then during a long run of joins, as a
// yield would.
inline constexpr unsigned join_inline_max = 16;
inline thread_local unsigned join_inline_depth = 0;

} // namespace nanorun::detail
