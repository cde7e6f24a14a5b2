// The join half of a spawned task: the outcome, and whoever waits for it.
//
// PROTOCOL. One atomic word, three bits, no lock:
//   done     set once by the completer (the task's completion handler, or its
//            destructor when the task is destroyed unrun), after it has stored
//            the outcome;
//   taken    set once by the consumer (async_join/co_await, or get());
//   waiting  set by the consumer after it has stored its waiter.
// Both sides publish what they stored with the fetch_or that sets their bit
// (acq_rel) and read the other side's data only after seeing the other's bit.
// Whichever of done and waiting is set second completes the waiter, so a
// waiter is completed exactly once, by the completer or by the consumer. An
// asynchronous waiter completes by posting to its executor, never from inside
// the initiating call. get() registers a waiter on its own stack (a mutex, a
// condition variable and a flag, notified under the lock); only a task
// somebody blocks on makes a futex call. (Not std::atomic::wait: mingw-w64's
// libstdc++ 12 implements it with a condition variable notified outside its
// mutex, which can lose the wake-up.)
//
// The waiter of a co_await or a small callback lives inside the task's own
// allocation (waiter_inline_bytes); a larger one is allocated.
//
// LIFETIME. join_core is intrusively counted through add_ref()/release(),
// which the object that embeds it implements (a spawned task shares its count
// with its task queue). The join_handle holds one reference and the task's
// completion handler another, so the state outlives whichever goes first.
#pragma once

#include <nanorun/detail/join_await.hpp>
#include <nanorun/detail/run_marker.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/system/system_error.hpp>

#include <atomic>
#include <cassert>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

// Schedule perturbation (a test build; see src/sys/perturb.hpp) in the
// windows of the protocol.
#if defined(NANORUN_PERTURB)
namespace nanorun::sys {
void perturb_point() noexcept;
} // namespace nanorun::sys
#define NANORUN_JOIN_PERTURB() ::nanorun::sys::perturb_point()
#else
#define NANORUN_JOIN_PERTURB() static_cast<void>(0)
#endif

namespace nanorun::detail {

// T's storage; void tasks store nothing.
template <class T>
struct join_value
{
  std::optional<T> value;
};
template <>
struct join_value<void>
{
};

template <class T>
class join_waiter
{
public:
  // Posts the waiting handler with the outcome, then destroys itself.
  virtual void complete(std::exception_ptr e, join_value<T>&& v) = 0;

protected:
  ~join_waiter() = default;
};

// AsResult: deliver one join_result<T> (the co_await path) instead of
// (exception_ptr[, T]). Inline: constructed in a join_core's buffer (only
// destroyed when done) rather than allocated (deleted when done).
template <class T, class Handler, bool AsResult>
class join_waiter_impl final : public join_waiter<T>
{
public:
  join_waiter_impl(Handler&& h, bool in_place)
      : handler_(std::move(h)),
        work_(boost::asio::prefer(boost::asio::get_associated_executor(handler_),
                                  boost::asio::execution::outstanding_work.tracked)),
        in_place_(in_place)
  {
  }

  void complete(std::exception_ptr e, join_value<T>&& v) override
  {
    auto ex = boost::asio::get_associated_executor(handler_);
    Handler h(std::move(handler_));
    auto work = std::move(work_);
    // Free our storage before posting, so the post may reuse it.
    const auto dispose = [this] {
      if (in_place_)
        this->~join_waiter_impl();
      else
        delete this;
    };
    if constexpr (AsResult)
    {
      join_result<T> r;
      r.error = e;
      if constexpr (!std::is_void_v<T>)
        if (v.value)
          r.value.emplace(std::move(*v.value));
      dispose();
      boost::asio::post(ex, [h = std::move(h), r = std::move(r), w = std::move(work)]() mutable {
        std::move(h)(std::move(r));
      });
    }
    else if constexpr (std::is_void_v<T>)
    {
      dispose();
      boost::asio::post(ex, [h = std::move(h), e, w = std::move(work)]() mutable { std::move(h)(e); });
    }
    else
    {
      std::optional<T> value(std::move(v.value));
      dispose();
      boost::asio::post(ex, [h = std::move(h), e, value = std::move(value), w = std::move(work)]() mutable {
        if (value)
          std::move(h)(e, std::move(*value));
        else
          std::move(h)(e, T{});
      });
    }
  }

private:
  Handler handler_;
  std::decay_t<decltype(boost::asio::prefer(std::declval<boost::asio::associated_executor_t<Handler>>(),
                                            boost::asio::execution::outstanding_work.tracked))>
      work_;
  bool in_place_;
};

// Completes a handler with std::logic_error(what), posted like any outcome.
template <class T, bool AsResult, class Handler>
void fail_join(Handler&& h, const char* what)
{
  auto* w = new join_waiter_impl<T, std::decay_t<Handler>, AsResult>(std::forward<Handler>(h), false);
  w->complete(std::make_exception_ptr(std::logic_error(what)), {});
}

// Room for the waiter of `co_await std::move(handle)` (a frame pointer, a
// result pointer and a tracked any_io_executor) and of most callbacks.
inline constexpr std::size_t waiter_inline_bytes = 96;

template <class T>
class join_core
{
public:
  virtual void add_ref() noexcept = 0;
  virtual void release() noexcept = 0;

  // Called once, by the task's completion handler (or its destructor).
  void set(std::exception_ptr e, join_value<T>&& v)
  {
    error_ = std::move(e);
    value_ = std::move(v);
    NANORUN_JOIN_PERTURB();
    // AcqRel: releases the outcome to the consumer; acquires its waiter_.
    const std::uint32_t prev = state_.fetch_or(done, std::memory_order_acq_rel);
    assert(!(prev & done));
    if (prev & waiting)
      take_waiter()->complete(std::move(error_), std::move(value_));
  }

  // Registers an asynchronous waiter; completes it (by posting) at once if
  // the outcome is already known, except for `co_await std::move(handle)`,
  // which then resumes inside this call (see join_await.hpp).
  template <bool AsResult, class Handler>
  void wait_async(Handler&& h)
  {
    using waiter_type = join_waiter_impl<T, std::decay_t<Handler>, AsResult>;
    // AcqRel: the outcome, if done is already set (pairs with set()).
    std::uint32_t prev = state_.fetch_or(taken, std::memory_order_acq_rel);
    if (prev & taken)
    {
      fail_join<T, AsResult>(std::forward<Handler>(h), "nanorun::join_handle: already awaited");
      return;
    }
    if constexpr (AsResult && is_join_await_handler<std::decay_t<Handler>>::value)
    {
      if ((prev & done) && join_inline_depth < join_inline_max)
      {
        // The co_await of a finished task resumes at once (join_await.hpp).
        join_result<T> r;
        r.error = std::move(error_);
        if constexpr (!std::is_void_v<T>)
          if (value_.value)
            r.value.emplace(std::move(*value_.value));
        ++join_inline_depth;
        struct unnest
        {
          ~unnest() { --join_inline_depth; }
        } nested;
        std::forward<Handler>(h)(std::move(r));
        return;
      }
    }
    join_waiter<T>* w;
    if constexpr (sizeof(waiter_type) <= waiter_inline_bytes && alignof(waiter_type) <= alignof(std::max_align_t))
      w = ::new (static_cast<void*>(waiter_buf_)) waiter_type(std::forward<Handler>(h), true);
    else
      w = new waiter_type(std::forward<Handler>(h), false);
    if (prev & done)
    {
      w->complete(std::move(error_), std::move(value_)); // posts: never inside the initiating call
      return;
    }
    waiter_ = w;
    NANORUN_JOIN_PERTURB();
    // AcqRel: releases waiter_ to set(); acquires the outcome if set() came first.
    prev = state_.fetch_or(waiting, std::memory_order_acq_rel);
    if (prev & done) // set() saw no waiter: ours to complete
      take_waiter()->complete(std::move(error_), std::move(value_));
  }

  // Blocks until the outcome is known and takes it.
  join_value<T> wait_blocking(std::exception_ptr& e)
  {
    if (refuses_blocking())
      throw std::logic_error("nanorun::join_handle::get: called from a thread inside the task's own runtime; "
                             "use co_await instead");
    // AcqRel: as in wait_async.
    std::uint32_t prev = state_.fetch_or(taken, std::memory_order_acq_rel);
    if (prev & taken)
      throw std::logic_error("nanorun::join_handle: already awaited");
    if (!(prev & done))
    {
      blocking_waiter w;
      waiter_ = &w;
      NANORUN_JOIN_PERTURB();
      // AcqRel: as in wait_async.
      prev = state_.fetch_or(waiting, std::memory_order_acq_rel);
      if (!(prev & done))
        return w.wait(e); // set() completes w
      waiter_ = nullptr;  // set() saw no waiter: the outcome is ours to take
    }
    e = std::move(error_);
    return std::move(value_);
  }

  // Whether wait_blocking() would refuse: the caller is a worker of the
  // task's runtime and the outcome is not known yet.
  bool refuses_blocking() const noexcept { return runtime_marker_ && running_in(runtime_marker_) && !is_done(); }

  bool is_done() const noexcept
  {
    // Acquire: pairs with set()'s fetch_or.
    return (state_.load(std::memory_order_acquire) & done) != 0;
  }

protected:
  explicit join_core(const void* runtime_marker) noexcept : runtime_marker_(runtime_marker) {}
  ~join_core() = default;

private:
  static constexpr std::uint32_t done = 1, taken = 2, waiting = 4;

  // get()'s waiter, on its stack. complete() notifies under the lock, so the
  // waiting thread cannot return (and destroy it) before complete() is done.
  class blocking_waiter final : public join_waiter<T>
  {
  public:
    void complete(std::exception_ptr e, join_value<T>&& v) override
    {
      std::lock_guard lock(mutex_);
      error_ = std::move(e);
      value_ = std::move(v);
      ready_ = true;
      cv_.notify_one();
    }
    join_value<T> wait(std::exception_ptr& e)
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [this] { return ready_; });
      e = std::move(error_);
      return std::move(value_);
    }

  private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool ready_ = false;         // guarded by mutex_
    std::exception_ptr error_;   // guarded by mutex_
    join_value<T> value_;        // guarded by mutex_
  };

  join_waiter<T>* take_waiter() noexcept { return std::exchange(waiter_, nullptr); }

  // `runtime_marker_` is the scheduler the task runs on when it is a nanorun
  // runtime (see run_marker.hpp), so get() can refuse to block one of its own
  // workers; null otherwise.
  const void* runtime_marker_;
  std::atomic<std::uint32_t> state_{0};
  join_waiter<T>* waiter_ = nullptr; // written by the consumer before `waiting`
  std::exception_ptr error_;         // written by the completer before `done`
  join_value<T> value_;              // likewise
  alignas(std::max_align_t) unsigned char waiter_buf_[waiter_inline_bytes];
};

// The join state of a task that does not run on a nanorun runtime (spawned on
// another execution context's strand): counted on its own.
template <class T>
class standalone_join final : public join_core<T>
{
public:
  explicit standalone_join(const void* marker) noexcept : join_core<T>(marker) {}
  void add_ref() noexcept override { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept override
  {
    // AcqRel: the last owner sees every other owner's writes before deleting.
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1)
      delete this;
  }

private:
  std::atomic<std::size_t> refs_{1};
};

// An owning reference to a join_core.
template <class T>
class join_ref
{
public:
  join_ref() noexcept = default;
  explicit join_ref(join_core<T>* adopted) noexcept : p_(adopted) {}
  join_ref(join_ref&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  // Copyable because some completion tokens copy an initiation object.
  join_ref(const join_ref& o) noexcept : p_(o.p_)
  {
    if (p_)
      p_->add_ref();
  }
  join_ref& operator=(join_ref o) noexcept
  {
    o.swap(*this);
    return *this;
  }
  ~join_ref()
  {
    if (p_)
      p_->release();
  }
  void swap(join_ref& o) noexcept { std::swap(p_, o.p_); }
  join_core<T>* get() const noexcept { return p_; }
  join_core<T>* operator->() const noexcept { return p_; }
  explicit operator bool() const noexcept { return p_ != nullptr; }
  void reset() noexcept { join_ref().swap(*this); }

private:
  join_core<T>* p_ = nullptr;
};

// co_spawn's completion handler for a spawned task.
template <class T>
class join_completion
{
public:
  explicit join_completion(join_core<T>& c) noexcept : core_(&c) { c.add_ref(); }
  join_completion(join_completion&& o) noexcept : core_(std::exchange(o.core_, nullptr)) {}
  join_completion& operator=(join_completion&&) = delete;

  ~join_completion()
  {
    if (core_)
    {
      join_ref<T> keep(std::exchange(core_, nullptr));
      keep->set(std::make_exception_ptr(boost::system::system_error(boost::asio::error::operation_aborted,
                                                                    "nanorun::spawn: task destroyed")),
                {});
    }
  }

  template <class... Args>
  void operator()(std::exception_ptr e, Args&&... args)
  {
    join_value<T> v;
    if constexpr (!std::is_void_v<T>)
      if (!e)
        v.value.emplace(std::forward<Args>(args)...);
    // Released even if completing a waiter throws (its executor's post).
    join_ref<T> keep(std::exchange(core_, nullptr));
    keep->set(std::move(e), std::move(v));
  }

private:
  join_core<T>* core_;
};

} // namespace nanorun::detail
