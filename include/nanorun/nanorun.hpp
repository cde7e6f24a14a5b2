// Convenience header: everything public in nanorun.
#pragma once

/// @file
/// Convenience header: includes every public header of nanorun.

/**
 * @namespace nanorun
 * @brief A work-stealing execution context with the interface of
 * boost::asio::io_context, and the I/O objects, executors and coroutine
 * helpers that run on it.
 *
 * The classes mirror Asio's: runtime (alias io_context) mirrors
 * boost::asio::io_context, thread_pool boost::asio::thread_pool, the sockets,
 * acceptor, resolver and timers Asio's basic_* templates. Each class's entry
 * says where it differs. Names in nanorun::detail are implementation details.
 */

#include <nanorun/basic_waitable_timer.hpp>
#include <nanorun/block_on.hpp>
#include <nanorun/executor.hpp>
#include <nanorun/high_resolution_timer.hpp>
#include <nanorun/ip/tcp.hpp>
#include <nanorun/ip/udp.hpp>
#include <nanorun/io_context.hpp>
#include <nanorun/join_handle.hpp>
#include <nanorun/runtime.hpp>
#include <nanorun/runtime_metrics.hpp>
#include <nanorun/signal_set.hpp>
#include <nanorun/sleep.hpp>
#include <nanorun/spawn.hpp>
#include <nanorun/spawn_blocking.hpp>
#include <nanorun/steady_timer.hpp>
#include <nanorun/system_timer.hpp>
#include <nanorun/task_executor.hpp>
#include <nanorun/thread_pool.hpp>
#include <nanorun/timeout.hpp>
#include <nanorun/yield_now.hpp>
