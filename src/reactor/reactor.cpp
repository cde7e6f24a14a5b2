// io_reactor: descriptor states, speculative attempts and event dispatch.
// The protocol is described in reactor.hpp.
#include "reactor/reactor.hpp"
#include "sys/perturb.hpp"

#include <boost/asio/error.hpp>

#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace nanorun::detail {

namespace {

constexpr std::uint32_t dir_bit(io_dir d) noexcept
{
  return d == io_dir::read ? sys::ready_read : d == io_dir::write ? sys::ready_write : sys::ready_error;
}

// Whether a finished attempt leaves its direction to wait for a new event: it
// moved less than it asked for (the socket is drained), and the direction was
// never reported final (end of file, hang-up and errors are reported once).
bool waits_for_next_event(const descriptor_state* s, const reactor_op* op, std::uint32_t bit) noexcept
{
  return op->drained && !(s->stays_ready & bit);
}

void abort_all(op_queue& from, op_queue& to) noexcept
{
  while (operation* o = from.pop())
  {
    static_cast<reactor_op*>(o)->ec = boost::asio::error::operation_aborted;
    to.push(o);
  }
}

} // namespace

io_reactor::io_reactor(std::unique_ptr<reactor_backend> backend)
    : backend_(std::move(backend)), edge_(backend_->edge_triggered())
{
}

io_reactor::~io_reactor() = default;

descriptor_state* io_reactor::register_descriptor(native_handle fd, std::error_code& ec)
{
  descriptor_state* s;
  {
    std::lock_guard lock(pool_mutex_);
    if (free_)
    {
      s = free_;
      free_ = s->next_free;
    }
    else
    {
      states_.push_back(std::make_unique<descriptor_state>());
      s = states_.back().get();
    }
    s->live = true;
  }
  {
    std::lock_guard lock(s->mutex);
    s->fd = fd;
    // Unknown until the first attempt: assume ready, so the first read or
    // write is tried at once.
    s->may_be_ready = sys::ready_directions;
    s->armed = 0;
    s->stays_ready = 0;
    s->event_error = 0;
  }
  // Edge-triggered backends watch both directions from the start; one-shot
  // ones are armed per direction when an operation has to wait.
  ec = edge_ ? backend_->add(fd, s, sys::ready_read | sys::ready_write) : backend_->add(fd, s, 0);
  if (ec)
  {
    std::lock_guard lock(pool_mutex_);
    s->live = false;
    s->next_free = free_;
    free_ = s;
    return nullptr;
  }
  live_count_.fetch_add(1, std::memory_order_relaxed);
  return s;
}

void io_reactor::fork_child()
{
  backend_->fork_child();
  std::lock_guard pool(pool_mutex_);
  for (external_watch* w : externals_)
    w->fd = invalid_native_handle; // its owner watches its renewed descriptor again
  for (const auto& owned : states_)
  {
    descriptor_state* s = owned.get();
    if (!s->live)
      continue;
    std::lock_guard lock(s->mutex);
    if (s->fd == invalid_native_handle)
      continue;
    // Readiness may have changed unseen: let the next operation try.
    s->may_be_ready = sys::ready_directions;
    const std::error_code ec =
        edge_ ? backend_->add(s->fd, s, sys::ready_read | sys::ready_write) : backend_->add(s->fd, s, s->armed);
    if (ec)
      throw std::system_error(ec, "nanorun: re-registering a descriptor after fork");
  }
}

void io_reactor::deregister_descriptor(descriptor_state* s, op_queue& aborted)
{
  NANORUN_PERTURB_POINT();
  {
    std::lock_guard lock(s->mutex);
    for (op_queue& q : s->ops)
      abort_all(q, aborted);
    backend_->remove(s->fd);
    s->fd = invalid_native_handle;
    s->may_be_ready = 0;
    s->armed = 0;
    s->stays_ready = 0;
    s->event_error = 0;
  }
  std::lock_guard lock(pool_mutex_);
  s->live = false;
  s->next_free = free_;
  free_ = s;
  live_count_.fetch_sub(1, std::memory_order_relaxed);
}

void io_reactor::arm(descriptor_state* s, io_dir dir, op_queue& done)
{
  // Caller holds s->mutex.
  const std::uint32_t bit = dir_bit(dir);
  if (edge_ || (s->armed & bit))
    return;
  s->armed |= bit;
  if (std::error_code ec = backend_->modify(s->fd, s, s->armed))
  {
    // Cannot wait for it: fail whatever waits in that queue.
    s->armed &= ~bit;
    while (operation* o = s->ops[static_cast<int>(dir)].pop())
    {
      static_cast<reactor_op*>(o)->ec.assign(ec.value(), boost::system::system_category());
      done.push(o);
    }
  }
}

void io_reactor::start_op(descriptor_state* s, io_dir dir, reactor_op* op, op_queue& done)
{
  NANORUN_PERTURB_POINT();
  std::lock_guard lock(s->mutex);
  if (s->fd == invalid_native_handle)
  {
    op->ec = boost::asio::error::bad_descriptor;
    done.push(op);
    return;
  }
  op_queue& q = s->ops[static_cast<int>(dir)];
  const std::uint32_t bit = dir_bit(dir);
  if (q.empty() && (s->may_be_ready & bit))
  {
    op->event_error = s->event_error;
    if (op->perform())
    {
      if (waits_for_next_event(s, op, bit))
        s->may_be_ready &= ~bit;
      done.push(op);
      return;
    }
    s->may_be_ready &= ~bit;
    // Between the attempt that found nothing and arming: readiness that
    // arrives now must still reach this operation.
    NANORUN_PERTURB_POINT();
  }
  q.push(op);
  arm(s, dir, done);
}

void io_reactor::process(descriptor_state* s, const sys::ready_event& ev, op_queue& done)
{
  std::uint32_t ready = ev.ready;
  NANORUN_PERTURB_POINT();
  std::lock_guard lock(s->mutex);
  if (s->fd == invalid_native_handle)
    return; // a stale event for a closed descriptor
  if (ev.error != 0)
    s->event_error = ev.error;
  if (ready & sys::ready_final)
    s->stays_ready |= ready & sys::ready_directions;
  ready &= sys::ready_directions;
  if (!edge_)
    s->armed &= ~ready;
  s->may_be_ready |= ready;
  for (int d = 0; d < io_dir_count; ++d)
  {
    const io_dir dir = static_cast<io_dir>(d);
    const std::uint32_t bit = dir_bit(dir);
    // A failure is reported as every direction: each op's next attempt
    // returns the error itself.
    if (!(ready & bit))
      continue;
    op_queue& q = s->ops[d];
    while (operation* o = q.front())
    {
      auto* op = static_cast<reactor_op*>(o);
      op->event_error = s->event_error;
      if (!op->perform())
      {
        s->may_be_ready &= ~bit;
        break;
      }
      q.pop();
      done.push(o);
      if (waits_for_next_event(s, op, bit))
      {
        // Later ops in the queue wait for the next event (edge-triggered),
        // or get re-armed below (one-shot).
        s->may_be_ready &= ~bit;
        break;
      }
    }
    if (!q.empty())
      arm(s, dir, done);
  }
}

void io_reactor::cancel_ops(descriptor_state* s, op_queue& aborted)
{
  std::lock_guard lock(s->mutex);
  for (op_queue& q : s->ops)
    abort_all(q, aborted);
}

void io_reactor::cancel_key(descriptor_state* s, const void* key, op_queue& aborted)
{
  std::lock_guard lock(s->mutex);
  for (op_queue& q : s->ops)
  {
    op_queue keep;
    while (operation* o = q.pop())
    {
      auto* op = static_cast<reactor_op*>(o);
      if (op->cancel_key == key)
      {
        op->ec = boost::asio::error::operation_aborted;
        aborted.push(op);
      }
      else
        keep.push(op);
    }
    q.splice(keep);
  }
}

std::size_t io_reactor::run(std::int64_t timeout_ns, op_queue& done)
{
  constexpr std::size_t batch = 128;
  sys::ready_event events[batch];
  const std::size_t n = backend_->wait(events, batch, timeout_ns);
  for (std::size_t i = 0; i < n; ++i)
  {
    const auto key = reinterpret_cast<std::uintptr_t>(events[i].key);
    if (key & 1)
    {
      auto* w = reinterpret_cast<external_watch*>(key & ~std::uintptr_t{1});
      // AcqRel: pairs with the owner's release store of false, so that the
      // owner's use of the operation is over before we queue it again.
      NANORUN_PERTURB_POINT();
      if (!w->queued.exchange(true, std::memory_order_acq_rel))
        done.push(w);
      continue;
    }
    process(static_cast<descriptor_state*>(events[i].key), events[i], done);
  }
  return n;
}

namespace {
void* external_key(external_watch* w) noexcept
{
  static_assert(alignof(external_watch) > 1 && alignof(descriptor_state) > 1);
  return reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(w) | 1);
}
} // namespace

void io_reactor::watch_external(external_watch* w, native_handle fd)
{
  std::lock_guard pool(pool_mutex_);
  // One-shot, even on an edge-triggered backend: an edge of Asio's epoll
  // instance can be consumed by a worker whose poll of Asio finds the task
  // taken by another worker that has already read its events, and then
  // nobody would handle the events that came in between. Re-armed by each
  // run of the watch before it polls, the watch reports again whenever the
  // descriptor is still readable.
  if (std::error_code ec = backend_->add(fd, external_key(w), sys::ready_read | sys::ready_oneshot))
    throw std::system_error(ec, "nanorun: watching a descriptor for a layer above the reactor");
  w->fd = fd;
  if (std::find(externals_.begin(), externals_.end(), w) == externals_.end())
  {
    if (externals_.size() == max_externals)
    {
      backend_->remove(fd);
      w->fd = invalid_native_handle;
      throw std::length_error("nanorun: too many external watches");
    }
    external_list_[externals_.size()].store(w, std::memory_order_release);
    externals_.push_back(w);
    external_count_.store(externals_.size(), std::memory_order_release);
  }
}

void io_reactor::unwatch_external(external_watch* w) noexcept
{
  std::lock_guard pool(pool_mutex_);
  const auto it = std::find(externals_.begin(), externals_.end(), w);
  if (it == externals_.end())
    return;
  if (w->fd != invalid_native_handle)
    backend_->remove(w->fd);
  w->fd = invalid_native_handle;
  externals_.erase(it);
  external_count_.store(externals_.size(), std::memory_order_release);
  for (std::size_t i = 0; i < max_externals; ++i)
    external_list_[i].store(i < externals_.size() ? externals_[i] : nullptr, std::memory_order_release);
}

std::error_code io_reactor::rearm_external(external_watch* w) noexcept
{
  NANORUN_PERTURB_POINT();
  std::lock_guard pool(pool_mutex_);
  if (w->fd == invalid_native_handle)
    return {};
  return backend_->modify(w->fd, external_key(w), sys::ready_read | sys::ready_oneshot);
}

bool io_reactor::external_busy() const noexcept
{
  for (const auto& slot : external_list_)
  {
    // Acquire: pairs with the release stores in watch_external(); a watch
    // stays alive while it is listed.
    const external_watch* w = slot.load(std::memory_order_acquire);
    if (!w)
      break;
    if (!w->busy || w->busy(w))
      return true;
  }
  return false;
}

void io_reactor::shutdown(op_queue& out)
{
  std::lock_guard pool(pool_mutex_);
  for (auto& s : states_)
  {
    std::lock_guard lock(s->mutex);
    for (op_queue& q : s->ops)
      out.splice(q);
  }
}

} // namespace nanorun::detail
