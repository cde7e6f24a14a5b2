// The state every nanorun socket and acceptor shares: its executor, its
// runtime, the descriptor and its registration with the runtime's reactor.
#pragma once

#include <nanorun/detail/handler_work.hpp>
#include <nanorun/detail/io_op.hpp>
#include <nanorun/detail/io_service.hpp>
#include <nanorun/detail/socket_ops.hpp>
#include <nanorun/runtime.hpp>

#include <boost/asio/error.hpp>

#include <type_traits>
#include <utility>

namespace nanorun::detail {

template <class Executor>
class socket_core
{
public:
  socket_core(const Executor& ex, const char* what) : ex_(ex), rt_(&runtime_of_executor(ex, what)) {}

  socket_core(socket_core&& o) noexcept
      : ex_(o.ex_), rt_(o.rt_), fd_(std::exchange(o.fd_, -1)), state_(std::exchange(o.state_, nullptr)),
        user_non_blocking_(std::exchange(o.user_non_blocking_, false))
  {
  }

  template <class OtherExecutor>
  socket_core(socket_core<OtherExecutor>&& o) noexcept
      : ex_(o.ex_), rt_(o.rt_), fd_(std::exchange(o.fd_, -1)), state_(std::exchange(o.state_, nullptr)),
        user_non_blocking_(std::exchange(o.user_non_blocking_, false))
  {
  }

  socket_core& operator=(socket_core&& o) noexcept
  {
    if (this != &o)
    {
      boost::system::error_code ignored;
      close(ignored);
      ex_ = o.ex_;
      rt_ = o.rt_;
      fd_ = std::exchange(o.fd_, -1);
      state_ = std::exchange(o.state_, nullptr);
      user_non_blocking_ = std::exchange(o.user_non_blocking_, false);
    }
    return *this;
  }

  ~socket_core()
  {
    boost::system::error_code ignored;
    close(ignored);
  }

  const Executor& executor() const noexcept { return ex_; }
  runtime& rt() const noexcept { return *rt_; }
  int fd() const noexcept { return fd_; }
  bool is_open() const noexcept { return fd_ >= 0; }

  void open(int family, int type, int protocol, boost::system::error_code& ec)
  {
    if (is_open())
    {
      ec = boost::asio::error::already_open;
      return;
    }
    const int fd = socket_ops::open(family, type, protocol, ec);
    if (fd < 0)
      return;
    assign(fd, ec);
    if (ec)
    {
      boost::system::error_code ignored;
      socket_ops::close(fd, ignored);
    }
  }

  void assign(int fd, boost::system::error_code& ec)
  {
    if (is_open())
    {
      ec = boost::asio::error::already_open;
      return;
    }
    descriptor_state* s = io_register(*rt_, fd, ec);
    if (!s)
      return;
    fd_ = fd;
    state_ = s;
    user_non_blocking_ = false;
  }

  // Waiting operations complete with operation_aborted, then the descriptor
  // is closed.
  void close(boost::system::error_code& ec)
  {
    ec.clear();
    if (!is_open())
      return;
    io_deregister(*rt_, state_);
    socket_ops::close(fd_, ec);
    fd_ = -1;
    state_ = nullptr;
    user_non_blocking_ = false;
  }

  int release(boost::system::error_code& ec)
  {
    if (!is_open())
    {
      ec = boost::asio::error::bad_descriptor;
      return -1;
    }
    io_deregister(*rt_, state_);
    state_ = nullptr;
    ec.clear();
    return std::exchange(fd_, -1);
  }

  void cancel(boost::system::error_code& ec)
  {
    if (!is_open())
    {
      ec = boost::asio::error::bad_descriptor;
      return;
    }
    io_cancel(*rt_, state_);
    ec.clear();
  }

  bool user_non_blocking() const noexcept { return user_non_blocking_; }
  void user_non_blocking(bool v, boost::system::error_code& ec)
  {
    if (!is_open())
    {
      ec = boost::asio::error::bad_descriptor;
      return;
    }
    user_non_blocking_ = v;
    ec.clear();
  }

  // Starts an asynchronous operation; a closed socket completes it with
  // bad_descriptor (queued, not inline).
  template <class Action, class Handler>
  void start(Handler&& h, io_dir dir, Action action)
  {
    using op_type = io_op<std::decay_t<Handler>, Executor, Action>;
    op_type* op = op_type::create(std::forward<Handler>(h), ex_, *rt_, std::move(action));
    if (!state_)
      op->ec = boost::asio::error::bad_descriptor;
    op_type::start(op, *rt_, state_, dir);
  }

  // Completes an asynchronous operation at once (queued) with ec.
  template <class Action, class Handler>
  void fail(Handler&& h, Action action, const boost::system::error_code& ec)
  {
    using op_type = io_op<std::decay_t<Handler>, Executor, Action>;
    op_type* op = op_type::create(std::forward<Handler>(h), ex_, *rt_, std::move(action));
    op->ec = ec;
    op_type::start(op, *rt_, nullptr, io_dir::read);
  }

  // Synchronous operations: retries attempt() until it does not would_block,
  // waiting for readiness in between, unless the user asked for
  // non-blocking behaviour.
  template <class Attempt>
  auto blocking(io_dir dir, boost::system::error_code& ec, Attempt attempt)
  {
    for (;;)
    {
      auto r = attempt();
      if (ec != boost::asio::error::would_block || user_non_blocking_)
        return r;
      if (!socket_ops::poll_ready(fd_, static_cast<int>(dir), -1, ec))
        return r;
    }
  }

private:
  template <class>
  friend class socket_core;

  Executor ex_;
  runtime* rt_;
  int fd_ = -1;
  descriptor_state* state_ = nullptr;
  bool user_non_blocking_ = false;
};

} // namespace nanorun::detail
