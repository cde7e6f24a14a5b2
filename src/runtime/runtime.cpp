// The runtime layer: nanorun::runtime's non-template members.
//
// The runtime is an Asio execution_context that owns one scheduler (the
// executor layer). Its one subtle duty is destruction, in the order that
// leaves nothing behind (io_context's, see asio#1245):
//   0. where the Asio bridge is not supported (asio_bridge.cpp) and Asio's
//      own I/O objects were used on this runtime, stop and join the
//      scheduler thread Asio started for their reactor (on Windows, the
//      thread of Asio's IOCP scheduler, win_iocp_io_context): it completes
//      operations, and it must not while the services below go away (it
//      would otherwise run against a reactor already shut down). With the
//      bridge, Asio's scheduler has no thread, and shuts down in its turn;
//   1. shut down the services, newest first; they may destroy their pending
//      operations, and destroying an awaitable handler posts the destruction
//      of its coroutine frame back to us; then destroy every pending timer
//      wait the same way;
//   2. destroy every queued operation without invoking it, repeating until
//      none is left (destroying one may post another);
//   3. destroy the services;
//   4. drain once more, then let the scheduler go.
#include <nanorun/detail/runtime_service.hpp>
#include <nanorun/runtime.hpp>

#include "executor/scheduler.hpp"
#include "runtime/asio_bridge.hpp"

#include <boost/asio/io_context.hpp> // detail::io_context_impl: Asio's scheduler on this OS

namespace nanorun {

void detail::runtime_service::notify_fork(boost::asio::execution_context::fork_event event)
{
  if (event == boost::asio::execution_context::fork_child && owner_)
    owner_->scheduler_impl().fork_child();
}

runtime* detail::find_runtime(boost::asio::execution_context& ctx) noexcept
{
  // The last runtime this thread found, by its context's address. The
  // runtime_ref's generation tells a live runtime from whatever was built at
  // that address after it was destroyed (an io_context, or another runtime),
  // so a hit is never stale; only runtimes are cached, so a context that is
  // not one always asks the registry.
  struct last_found
  {
    boost::asio::execution_context* ctx = nullptr;
    runtime_ref ref;
  };
  static thread_local last_found last;
  if (last.ctx == &ctx)
    if (runtime* rt = last.ref.get())
      return rt;
  if (!boost::asio::has_service<runtime_service>(ctx))
    return nullptr;
  runtime* rt = boost::asio::use_service<runtime_service>(ctx).owner();
  if (rt)
    last = {&ctx, rt->ref()};
  return rt;
}

runtime::runtime() : runtime(0) {}

runtime::runtime(int concurrency_hint) : impl_(std::make_unique<detail::scheduler>(concurrency_hint))
{
  boost::asio::add_service(*this, new detail::runtime_service(*this, this));
  detail::install_asio_scheduler(*this, concurrency_hint);
}

runtime::~runtime()
{
  impl_->stop();
#if !defined(BOOST_ASIO_HAS_IOCP)
  // Without the bridge, Asio's reactor scheduler runs a thread of its own:
  // stop and join it before the services below close sockets, so that it
  // never completes an operation while they are being torn down.
  // Not with IOCP: win_iocp_io_context::shutdown() waits until every
  // overlapped operation has come back, which only happens once the socket
  // services (shut down first by shutdown() below) have closed the sockets;
  // until then its thread only moves completions to nanorun's queue, which
  // drain() destroys without running them.
  using asio_scheduler = boost::asio::detail::io_context_impl;
  if (!detail::asio_bridge_supported() && boost::asio::has_service<asio_scheduler>(*this))
    boost::asio::use_service<asio_scheduler>(*this).shutdown();
#endif
  shutdown();
  impl_->shutdown_timers();
  impl_->shutdown_io();
  impl_->drain();
  destroy();
  impl_->shutdown_timers();
  impl_->shutdown_io();
  impl_->drain();
}

runtime::count_type runtime::run()
{
  return impl_->run(static_cast<std::size_t>(-1), true, nullptr);
}

runtime::count_type runtime::run_one()
{
  return impl_->run(1, true, nullptr);
}

runtime::count_type runtime::poll()
{
  return impl_->run(static_cast<std::size_t>(-1), false, nullptr);
}

runtime::count_type runtime::poll_one()
{
  return impl_->run(1, false, nullptr);
}

runtime::count_type runtime::run_steady(std::size_t max_handlers, bool block, const steady_time* deadline)
{
  return impl_->run(max_handlers, block, deadline);
}

void runtime::stop()
{
  impl_->stop();
}

bool runtime::stopped() const noexcept
{
  return impl_->stopped();
}

void runtime::restart()
{
  impl_->restart();
}

void runtime::capture_current_exception() noexcept
{
  impl_->capture_current_exception();
}

runtime::count_type runtime::run_until_done(const std::atomic<bool>& done)
{
  // The caller's task holds work until it sets `done`, so a stop for lack of
  // work seen before then is stale: another thread's last work finished just
  // before the caller added its own (io_context would stay stopped, but
  // block_on promises to run its task). Only a stop() call ends this early.
  count_type n = 0;
  while (!done.load(std::memory_order_acquire) && impl_->restart_if_work())
    n += impl_->run(static_cast<std::size_t>(-1), true, nullptr, &done);
  return n;
}

runtime_metrics runtime::metrics() const
{
  runtime_metrics m;
  impl_->snapshot(m);
  return m;
}

void runtime::enable_metrics(bool on) noexcept
{
  impl_->enable_metrics(on);
}

void runtime::interrupt() noexcept
{
  impl_->wake_all();
}

std::size_t runtime::concurrency() const noexcept
{
  return impl_->concurrency();
}

} // namespace nanorun
