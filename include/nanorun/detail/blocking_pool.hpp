// The pool behind nanorun::spawn_blocking: threads of its own per execution
// context, off the workers. Defined in src/runtime/blocking_pool.cpp.
#pragma once

#include <nanorun/detail/operation.hpp>

#include <boost/asio/execution_context.hpp>

#include <chrono>
#include <cstddef>

namespace nanorun::detail {

// Runs job->complete() on a thread of ctx's blocking pool: an idle one, a new
// one if none is idle and the pool is below its limit, else the first to
// become free. Never blocks the caller beyond a short lock (and, when the
// pool grows, the creation of a thread). Jobs still queued when ctx shuts
// down are destroyed (job->destroy()) without running; running ones are
// waited for. Throws std::system_error if a thread cannot be created while
// none exists to run the job (the job is then not taken).
void blocking_submit(boost::asio::execution_context& ctx, operation* job);

void blocking_set_limits(boost::asio::execution_context& ctx, std::size_t max_threads,
                         std::chrono::nanoseconds keep_alive);
std::size_t blocking_threads(boost::asio::execution_context& ctx);

} // namespace nanorun::detail
