// Convenience header: everything public in nanorun.
#pragma once

#include <nanorun/basic_waitable_timer.hpp>
#include <nanorun/block_on.hpp>
#include <nanorun/executor.hpp>
#include <nanorun/high_resolution_timer.hpp>
#include <nanorun/ip/tcp.hpp>
#include <nanorun/ip/udp.hpp>
#include <nanorun/io_context.hpp>
#include <nanorun/join_handle.hpp>
#include <nanorun/runtime.hpp>
#include <nanorun/sleep.hpp>
#include <nanorun/spawn.hpp>
#include <nanorun/steady_timer.hpp>
#include <nanorun/system_timer.hpp>
#include <nanorun/task_executor.hpp>
#include <nanorun/thread_pool.hpp>
#include <nanorun/timeout.hpp>
#include <nanorun/yield_now.hpp>
