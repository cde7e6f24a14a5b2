// The state every nanorun socket and acceptor shares: its executor, its
// runtime, the descriptor and its registration with the runtime's reactor,
// and the mode bits Asio keeps per socket (which non-blocking modes are set,
// enable_connection_aborted, whether the user set SO_LINGER).
//
// A socket may outlive its runtime (runtime_ref): the runtime's destruction
// destroyed its waiting operations and its reactor, registration included,
// so close(), release() and cancel() then only deal with the descriptor,
// which stays the socket's; synchronous operations go on working; opening,
// assigning and starting an asynchronous operation fail with
// operation_aborted.
#pragma once

#include <nanorun/detail/handler_work.hpp>
#include <nanorun/detail/io_op.hpp>
#include <nanorun/detail/io_service.hpp>
#include <nanorun/detail/socket_ops.hpp>
#include <nanorun/runtime.hpp>

#include <boost/asio/detail/socket_types.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/socket_base.hpp>

#include <cstddef>
#include <type_traits>
#include <utility>

namespace nanorun::detail {

template <class Executor>
class socket_core
{
public:
  socket_core(const Executor& ex, const char* what) : ex_(ex), rt_(runtime_of_executor(ex, what).ref()) {}

  socket_core(socket_core&& o) noexcept : ex_(o.ex_), rt_(o.rt_) { take(o); }

  template <class OtherExecutor>
  socket_core(socket_core<OtherExecutor>&& o) noexcept : ex_(o.ex_), rt_(o.rt_)
  {
    take(o);
  }

  // Closes what this core held as its destructor would (Asio's move
  // assignment destroys the target's implementation first).
  template <class OtherExecutor>
  void move_assign(socket_core<OtherExecutor>&& o) noexcept
  {
    if (static_cast<const void*>(this) == static_cast<const void*>(&o))
      return;
    boost::system::error_code ignored;
    close(ignored, true);
    ex_ = o.ex_;
    rt_ = o.rt_;
    take(o);
  }

  socket_core& operator=(socket_core&& o) noexcept
  {
    move_assign(std::move(o));
    return *this;
  }

  ~socket_core()
  {
    boost::system::error_code ignored;
    close(ignored, true);
  }

  const Executor& executor() const noexcept { return ex_; }
  native_handle fd() const noexcept { return fd_; }
  bool is_open() const noexcept { return fd_ != invalid_native_handle; }

  void open(int family, int type, int protocol, boost::system::error_code& ec)
  {
    if (is_open())
    {
      ec = boost::asio::error::already_open;
      return;
    }
    const native_handle fd = socket_ops::open(family, type, protocol, ec);
    if (fd == invalid_native_handle)
      return;
    assign(fd, true, ec);
    if (ec)
    {
      boost::system::error_code ignored;
      socket_ops::close(fd, ignored);
    }
  }

  // `non_blocking`: the descriptor is known to be in non-blocking mode (one
  // nanorun opened or accepted). A descriptor from the user may be blocking
  // (its mode is asked): it is switched before the first asynchronous
  // operation, as Asio does.
  void assign(native_handle fd, bool non_blocking, boost::system::error_code& ec)
  {
    if (is_open())
    {
      ec = boost::asio::error::already_open;
      return;
    }
    runtime* rt = rt_.get();
    if (!rt)
    {
      ec = boost::asio::error::operation_aborted;
      return;
    }
    descriptor_state* s = io_register(*rt, fd, ec);
    if (!s)
      return;
    fd_ = fd;
    state_ = s;
    bits_ = non_blocking || socket_ops::is_non_blocking(fd) ? native_nb : 0;
  }

  // Waiting operations complete with operation_aborted, then the descriptor
  // is closed. From a destructor, a linger the user set is turned off first
  // so that the close cannot block the thread (Asio does the same; call
  // close() explicitly to linger).
  void close(boost::system::error_code& ec, bool destruction = false)
  {
    ec.clear();
    if (!is_open())
      return;
    if (runtime* rt = rt_.get())
      io_deregister(*rt, state_);
    if (destruction && (bits_ & user_linger))
    {
      boost::asio::socket_base::linger off(false, 0);
      boost::system::error_code ignored;
      socket_ops::set_option(fd_, off.level(0), off.name(0), off.data(0), off.size(0), ignored);
    }
    socket_ops::close(fd_, ec);
    fd_ = invalid_native_handle;
    state_ = nullptr;
    bits_ = 0;
  }

  native_handle release(boost::system::error_code& ec)
  {
    if (!is_open())
    {
      ec = boost::asio::error::bad_descriptor;
      return invalid_native_handle;
    }
    if (runtime* rt = rt_.get())
      io_deregister(*rt, state_);
    state_ = nullptr;
    bits_ = 0;
    ec.clear();
    return std::exchange(fd_, invalid_native_handle);
  }

  void cancel(boost::system::error_code& ec)
  {
    if (!is_open())
    {
      ec = boost::asio::error::bad_descriptor;
      return;
    }
    if (runtime* rt = rt_.get())
      io_cancel(*rt, state_);
    ec.clear();
  }

  // non_blocking(): synchronous operations say would_block instead of waiting.
  bool user_non_blocking() const noexcept { return bits_ & user_nb; }
  void user_non_blocking(bool v, boost::system::error_code& ec)
  {
    if (!check_open(ec))
      return;
    if (v && !(bits_ & native_nb))
    {
      socket_ops::set_non_blocking(fd_, true, ec);
      if (ec)
        return;
      bits_ |= native_nb;
    }
    // Unlike Asio, clearing it leaves the descriptor non-blocking: nanorun's
    // own operations need it so, and its synchronous ones wait with poll().
    bits_ = v ? (bits_ | user_nb) : (bits_ & ~user_nb);
    ec.clear();
  }

  // native_non_blocking(): the descriptor's own mode.
  bool native_non_blocking() const noexcept { return bits_ & native_nb; }
  void native_non_blocking(bool v, boost::system::error_code& ec)
  {
    if (!check_open(ec))
      return;
    // Asio's rule: a blocking descriptor cannot give non_blocking() its
    // meaning, so the user must clear that first.
    if (!v && (bits_ & user_nb))
    {
      ec = boost::asio::error::invalid_argument;
      return;
    }
    socket_ops::set_non_blocking(fd_, v, ec);
    if (!ec)
      bits_ = v ? (bits_ | native_nb) : (bits_ & ~native_nb);
  }

  bool report_connection_aborted() const noexcept { return bits_ & conn_aborted; }

  void io_control(int cmd, void* arg, boost::system::error_code& ec)
  {
    if (!check_open(ec))
      return;
    socket_ops::io_control(fd_, cmd, arg, ec);
    // A FIONBIO sets both modes at once, as Asio records it.
    if (!ec && cmd == socket_ops::non_blocking_command())
      bits_ = *static_cast<const int*>(arg) ? (bits_ | user_nb | native_nb) : (bits_ & ~(user_nb | native_nb));
  }

  // Asio's options at Asio's levels. enable_connection_aborted (and its
  // always-failing test option) live at Asio's private level and are kept
  // here, never passed to the OS.
  void set_option(int level, int name, const void* data, std::size_t size, boost::system::error_code& ec)
  {
    if (!check_open(ec))
      return;
    namespace ad = boost::asio::detail;
    if (level == ad::custom_socket_option_level)
    {
      if (name != ad::enable_connection_aborted_option || size != sizeof(int))
      {
        ec = boost::asio::error::invalid_argument;
        return;
      }
      bits_ = *static_cast<const int*>(data) ? (bits_ | conn_aborted) : (bits_ & ~conn_aborted);
      ec.clear();
      return;
    }
    const boost::asio::socket_base::linger l;
    if (level == l.level(0) && name == l.name(0))
      bits_ |= user_linger;
    socket_ops::set_option(fd_, level, name, data, size, ec);
  }

  void get_option(int level, int name, void* data, std::size_t* size, boost::system::error_code& ec) const
  {
    if (!check_open(ec))
      return;
    namespace ad = boost::asio::detail;
    if (level == ad::custom_socket_option_level)
    {
      if (name != ad::enable_connection_aborted_option || *size != sizeof(int))
      {
        ec = boost::asio::error::invalid_argument;
        return;
      }
      *static_cast<int*>(data) = (bits_ & conn_aborted) ? 1 : 0;
      ec.clear();
      return;
    }
    socket_ops::get_option(fd_, level, name, data, size, ec);
  }

  bool check_open(boost::system::error_code& ec) const
  {
    if (is_open())
      return true;
    ec = boost::asio::error::bad_descriptor;
    return false;
  }

  // Throws operation_aborted if the runtime is gone: for callers that would
  // otherwise act (connect, build a socket) before start() or fail() checks.
  void require_runtime(const char* what) const { (void)rt_.checked(what); }

  // Starts an asynchronous operation; a closed socket completes it with
  // bad_descriptor (queued, not inline). Throws if the runtime is gone.
  template <class Action, class Handler>
  void start(Handler&& h, io_dir dir, Action action)
  {
    using op_type = io_op<std::decay_t<Handler>, Executor, Action>;
    runtime& rt = rt_.checked("nanorun socket");
    op_type* op = op_type::create(std::forward<Handler>(h), ex_, rt, std::move(action));
    if (!state_)
      op->ec = boost::asio::error::bad_descriptor;
    else if (!prepare_async(op->ec))
      return op_type::start(op, rt_, nullptr, dir);
    op_type::start(op, rt_, state_, dir);
  }

  // Completes an asynchronous operation at once (queued) with ec.
  template <class Action, class Handler>
  void fail(Handler&& h, Action action, const boost::system::error_code& ec)
  {
    using op_type = io_op<std::decay_t<Handler>, Executor, Action>;
    runtime& rt = rt_.checked("nanorun socket");
    op_type* op = op_type::create(std::forward<Handler>(h), ex_, rt, std::move(action));
    op->ec = ec;
    op_type::start(op, rt_, nullptr, io_dir::read);
  }

  // Makes the descriptor non-blocking if the user made it blocking (or
  // assigned a blocking one): the reactor's attempts must never block a
  // worker.
  bool prepare_async(boost::system::error_code& ec)
  {
    if (bits_ & native_nb)
      return true;
    socket_ops::set_non_blocking(fd_, true, ec);
    if (ec)
      return false;
    bits_ |= native_nb;
    return true;
  }

  // Synchronous operations: retries attempt() until it does not would_block,
  // waiting for readiness in between, unless the user asked for
  // non-blocking behaviour. (On a descriptor the user made blocking, the
  // attempt itself waits, as Asio's does.)
  template <class Attempt>
  auto blocking(io_dir dir, boost::system::error_code& ec, Attempt attempt)
  {
    for (;;)
    {
      auto r = attempt();
      if (ec != boost::asio::error::would_block || user_non_blocking())
        return r;
      if (!socket_ops::poll_ready(fd_, static_cast<int>(dir), -1, ec))
        return r;
    }
  }

private:
  template <class>
  friend class socket_core;

  template <class Other>
  void take(Other& o) noexcept
  {
    fd_ = std::exchange(o.fd_, invalid_native_handle);
    state_ = std::exchange(o.state_, nullptr);
    bits_ = std::exchange(o.bits_, 0);
  }

  // Mode bits, as Asio's socket state.
  static constexpr unsigned user_nb = 1;      // non_blocking(true)
  static constexpr unsigned native_nb = 2;    // the descriptor is O_NONBLOCK
  static constexpr unsigned conn_aborted = 4; // enable_connection_aborted
  static constexpr unsigned user_linger = 8;  // the user set SO_LINGER

  Executor ex_;
  runtime_ref rt_;
  native_handle fd_ = invalid_native_handle;
  descriptor_state* state_ = nullptr;
  unsigned bits_ = 0;
};

} // namespace nanorun::detail
