// The state a spawned task shares with its join_handle.
//
// The task's completion handler stores the outcome here; the handle takes it,
// either by blocking (get) or asynchronously (a waiter, posted to the waiting
// handler's own executor). A mutex guards everything: it is taken once by
// each side, so it is never contended for long.
//
// If the task is destroyed without completing (its runtime was destroyed), the
// completion handler's destructor completes the state with operation_aborted,
// so a waiter is never left hanging and no reference cycle outlives it.
#pragma once

#include <nanorun/detail/join_await.hpp>
#include <nanorun/detail/run_marker.hpp>

#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/system/system_error.hpp>

#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

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
  virtual ~join_waiter() = default;
  // Posts the waiting handler with the outcome; then deletes itself.
  virtual void complete(std::exception_ptr e, join_value<T>&& v) = 0;
};

// AsResult: deliver one join_result<T> (the co_await path) instead of
// (exception_ptr[, T]).
template <class T, class Handler, bool AsResult>
class join_waiter_impl final : public join_waiter<T>
{
public:
  explicit join_waiter_impl(Handler&& h)
      : handler_(std::move(h)),
        work_(boost::asio::prefer(boost::asio::get_associated_executor(handler_),
                                  boost::asio::execution::outstanding_work.tracked))
  {
  }

  void complete(std::exception_ptr e, join_value<T>&& v) override
  {
    auto ex = boost::asio::get_associated_executor(handler_);
    Handler h(std::move(handler_));
    auto work = std::move(work_);
    if constexpr (AsResult)
    {
      join_result<T> r;
      r.error = e;
      if constexpr (!std::is_void_v<T>)
        if (v.value)
          r.value.emplace(std::move(*v.value));
      delete this;
      boost::asio::post(ex, [h = std::move(h), r = std::move(r), w = std::move(work)]() mutable {
        std::move(h)(std::move(r));
      });
    }
    else if constexpr (std::is_void_v<T>)
    {
      delete this;
      boost::asio::post(ex, [h = std::move(h), e, w = std::move(work)]() mutable { std::move(h)(e); });
    }
    else
    {
      std::optional<T> value(std::move(v.value));
      delete this;
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
};

template <class T>
class join_state
{
public:
  // `runtime_marker` is the scheduler the task runs on when it is a nanorun
  // runtime (see run_marker.hpp), so get() can refuse to block one of its own
  // workers; null otherwise.
  explicit join_state(const void* runtime_marker = nullptr) noexcept : runtime_marker_(runtime_marker) {}

  // Called once, by the task's completion handler (or its destructor).
  void set(std::exception_ptr e, join_value<T>&& v)
  {
    std::unique_lock lock(mutex_);
    if (done_)
      return;
    done_ = true;
    if (waiter_)
    {
      join_waiter<T>* w = waiter_;
      waiter_ = nullptr;
      lock.unlock();
      w->complete(e, std::move(v));
      return;
    }
    error_ = e;
    value_ = std::move(v);
    lock.unlock();
    cv_.notify_all();
  }

  // Registers an asynchronous waiter; completes it (by posting) if the
  // outcome is already known.
  template <bool AsResult, class Handler>
  void wait_async(Handler&& h)
  {
    auto* w = new join_waiter_impl<T, std::decay_t<Handler>, AsResult>(std::forward<Handler>(h));
    std::unique_lock lock(mutex_);
    if (taken_ || waiter_)
    {
      lock.unlock();
      w->complete(std::make_exception_ptr(std::logic_error("nanorun::join_handle: already awaited")), {});
      return;
    }
    taken_ = true;
    if (!done_)
    {
      waiter_ = w;
      return;
    }
    std::exception_ptr e = error_;
    join_value<T> v = std::move(value_);
    lock.unlock();
    w->complete(e, std::move(v)); // posts: never completes inside the initiating call
  }

  // Blocks until the outcome is known and takes it.
  join_value<T> wait_blocking(std::exception_ptr& e)
  {
    if (runtime_marker_ && running_in(runtime_marker_) && !done())
      throw std::logic_error("nanorun::join_handle::get: called from a thread inside the task's own runtime; "
                             "use co_await instead");
    std::unique_lock lock(mutex_);
    if (taken_ || waiter_)
      throw std::logic_error("nanorun::join_handle: already awaited");
    cv_.wait(lock, [&] { return done_; });
    taken_ = true;
    e = error_;
    return std::move(value_);
  }

  // `s`, or if it is null a state already failed with std::logic_error, so
  // misuse reaches a waiter the way every other outcome does.
  static std::shared_ptr<join_state> or_failed(std::shared_ptr<join_state> s)
  {
    if (s)
      return s;
    auto failed = std::make_shared<join_state>();
    failed->set(std::make_exception_ptr(std::logic_error("nanorun::join_handle: no task to join (moved from, "
                                                         "detached or already joined)")),
                {});
    return failed;
  }

  bool done() const
  {
    std::lock_guard lock(mutex_);
    return done_;
  }

  ~join_state() { delete waiter_; }

private:
  const void* runtime_marker_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;              // guarded by mutex_
  bool taken_ = false;             // guarded by mutex_: the outcome has a consumer
  join_waiter<T>* waiter_ = nullptr; // guarded by mutex_
  std::exception_ptr error_;       // guarded by mutex_
  join_value<T> value_;            // guarded by mutex_
};

// co_spawn's completion handler for a spawned task.
template <class T>
class join_completion
{
public:
  explicit join_completion(std::shared_ptr<join_state<T>> s) noexcept : state_(std::move(s)) {}
  join_completion(join_completion&&) noexcept = default;
  join_completion& operator=(join_completion&&) = delete;

  ~join_completion()
  {
    if (state_)
      state_->set(std::make_exception_ptr(boost::system::system_error(boost::asio::error::operation_aborted,
                                                                      "nanorun::spawn: task destroyed")),
                  {});
  }

  template <class... Args>
  void operator()(std::exception_ptr e, Args&&... args)
  {
    join_value<T> v;
    if constexpr (!std::is_void_v<T>)
      if (!e)
        v.value.emplace(std::forward<Args>(args)...);
    auto s = std::move(state_);
    s->set(e, std::move(v));
  }

private:
  std::shared_ptr<join_state<T>> state_;
};

} // namespace nanorun::detail
