// Names shared by the conformance tests.
#pragma once

#include <nanorun/runtime.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <stdexcept>

namespace conformance {

// Coroutines typed on nanorun's own executor (rather than any_io_executor)
// need the matching use_awaitable token.
using ex_t = nanorun::runtime::executor_type;
template <class T>
using n_awaitable = boost::asio::awaitable<T, ex_t>;
inline constexpr boost::asio::use_awaitable_t<ex_t> n_use_awaitable;

// Thrown by test coroutines to check exception propagation.
struct test_error : std::runtime_error
{
  using std::runtime_error::runtime_error;
};

} // namespace conformance
