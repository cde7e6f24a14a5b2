// What each socket operation attempts when its descriptor may be ready, and
// how its handler is called (the Action of io_op). perform() makes one
// non-blocking attempt: false means "would block, wait for readiness".
#pragma once

#include <nanorun/detail/reactor_op.hpp>
#include <nanorun/detail/socket_ops.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/socket_base.hpp>

#include <cstddef>
#include <utility>

namespace nanorun::detail {

// The completion tokens of the socket operations, as Asio constrains them:
// reads and writes, and waits (wait, connect, accept into a socket).
template <class T>
concept transfer_token = boost::asio::completion_token_for<T, void(boost::system::error_code, std::size_t)>;
template <class T>
concept wait_token = boost::asio::completion_token_for<T, void(boost::system::error_code)>;

// A buffer sequence as the OS wants it: at most max_bufs pieces, as Asio.
class buffer_view
{
public:
  template <class Buffers>
  explicit buffer_view(const Buffers& buffers) noexcept
  {
    auto it = boost::asio::buffer_sequence_begin(buffers);
    const auto end = boost::asio::buffer_sequence_end(buffers);
    for (; it != end && n_ < socket_ops::max_bufs; ++it)
    {
      const auto b = *it;
      bufs_[n_].data = const_cast<void*>(static_cast<const void*>(b.data()));
      bufs_[n_].size = b.size();
      total_ += b.size();
      ++n_;
    }
  }
  const socket_ops::buf* data() const noexcept { return bufs_; }
  std::size_t count() const noexcept { return n_; }
  std::size_t total() const noexcept { return total_; }

private:
  socket_ops::buf bufs_[socket_ops::max_bufs];
  std::size_t n_ = 0;
  std::size_t total_ = 0;
};

// The result of one attempt: done unless it would block.
inline bool finish(reactor_op& op, std::ptrdiff_t r) noexcept
{
  if (r >= 0)
  {
    op.bytes = static_cast<std::size_t>(r);
    return true;
  }
  op.bytes = 0;
  return op.ec != boost::asio::error::would_block;
}

// Out-of-band data is waited for as an error-direction event (EPOLLPRI), as
// Asio waits for it; recv(MSG_OOB) with none pending fails instead of
// saying EAGAIN, so the attempt looks for urgent data first.
inline bool out_of_band(int flags) noexcept { return flags & boost::asio::socket_base::message_out_of_band; }
inline io_dir receive_dir(int flags) noexcept { return out_of_band(flags) ? io_dir::error : io_dir::read; }
// For an out-of-band receive: false while there is no urgent byte to read
// (wait for the next event); true when the receive can be attempted, or
// with op.ec set when looking failed.
inline bool urgent_data_pending(native_handle fd, reactor_op& op)
{
  return socket_ops::poll_ready(fd, 2, 0, op.ec) || op.ec;
}

// Whether a short read means the socket's buffer is empty: not after a peek
// (which leaves the data where it was) nor after reading the out-of-band
// byte (the normal data is still there). Marking those drained would make
// the next read wait for an edge that already came.
inline bool read_drains(bool stream, int flags) noexcept
{
  return stream && !(flags & (boost::asio::socket_base::message_peek | boost::asio::socket_base::message_out_of_band));
}

template <class Buffers>
struct receive_action
{
  native_handle fd;
  Buffers buffers;
  int flags;
  bool stream;

  bool perform(reactor_op& op)
  {
    if (out_of_band(flags) && (!urgent_data_pending(fd, op) || op.ec))
      return op.ec.failed();
    const buffer_view v(buffers);
    const bool done = finish(op, socket_ops::recv(fd, v.data(), v.count(), flags, stream, op.ec));
    op.drained = read_drains(stream, flags) && !op.ec && op.bytes < v.total();
    return done;
  }
  template <class Work, class Handler>
  void complete(Work& w, Handler& h, const boost::system::error_code& ec, std::size_t n)
  {
    w.complete(h, ec, n);
  }
};

template <class Buffers>
struct send_action
{
  native_handle fd;
  Buffers buffers;
  int flags;

  bool perform(reactor_op& op)
  {
    const buffer_view v(buffers);
    const bool done = finish(op, socket_ops::send(fd, v.data(), v.count(), flags, op.ec));
    op.drained = !op.ec && op.bytes < v.total();
    return done;
  }
  template <class Work, class Handler>
  void complete(Work& w, Handler& h, const boost::system::error_code& ec, std::size_t n)
  {
    w.complete(h, ec, n);
  }
};

template <class Buffers, class Endpoint>
struct receive_from_action
{
  native_handle fd;
  Buffers buffers;
  int flags;
  Endpoint* sender;

  bool perform(reactor_op& op)
  {
    if (out_of_band(flags) && (!urgent_data_pending(fd, op) || op.ec))
      return op.ec.failed();
    const buffer_view v(buffers);
    std::size_t len = sender->capacity();
    const std::ptrdiff_t r = socket_ops::recvfrom(fd, v.data(), v.count(), flags, sender->data(), &len, op.ec);
    if (r >= 0)
      sender->resize(len);
    return finish(op, r);
  }
  template <class Work, class Handler>
  void complete(Work& w, Handler& h, const boost::system::error_code& ec, std::size_t n)
  {
    w.complete(h, ec, n);
  }
};

template <class Buffers, class Endpoint>
struct send_to_action
{
  native_handle fd;
  Buffers buffers;
  int flags;
  Endpoint destination;

  bool perform(reactor_op& op)
  {
    const buffer_view v(buffers);
    return finish(op, socket_ops::sendto(fd, v.data(), v.count(), flags, destination.data(),
                                         destination.size(), op.ec));
  }
  template <class Work, class Handler>
  void complete(Work& w, Handler& h, const boost::system::error_code& ec, std::size_t n)
  {
    w.complete(h, ec, n);
  }
};

// Waits (async_wait) and connects: no bytes in the completion.
struct wait_action
{
  native_handle fd;
  int dir; // 0 read, 1 write, 2 error

  bool perform(reactor_op& op) { return socket_ops::wait_ready(fd, dir, op.event_error, op.ec) || op.ec; }
  template <class Work, class Handler>
  void complete(Work& w, Handler& h, const boost::system::error_code& ec, std::size_t)
  {
    w.complete(h, ec);
  }
};

struct connect_action
{
  native_handle fd;

  bool perform(reactor_op& op) { return socket_ops::connect_finished(fd, op.event_error, op.ec); }
  template <class Work, class Handler>
  void complete(Work& w, Handler& h, const boost::system::error_code& ec, std::size_t)
  {
    w.complete(h, ec);
  }
};

// An accepted descriptor not yet owned by a socket is closed with the action.
class accepted_fd
{
public:
  accepted_fd() noexcept = default;
  accepted_fd(accepted_fd&& o) noexcept : fd_(std::exchange(o.fd_, invalid_native_handle)) {}
  accepted_fd& operator=(accepted_fd&&) = delete;
  ~accepted_fd()
  {
    if (fd_ != invalid_native_handle)
    {
      boost::system::error_code ignored;
      socket_ops::close(fd_, ignored);
    }
  }
  void reset(native_handle fd) noexcept { fd_ = fd; }
  native_handle release() noexcept { return std::exchange(fd_, invalid_native_handle); }

private:
  native_handle fd_ = invalid_native_handle;
};

template <class Endpoint>
bool perform_accept(native_handle fd, bool report_aborted, accepted_fd& out, Endpoint* peer, reactor_op& op)
{
  std::size_t len = peer ? peer->capacity() : 0;
  const native_handle nfd =
      socket_ops::accept(fd, peer ? peer->data() : nullptr, peer ? &len : nullptr, report_aborted, op.ec);
  if (nfd == invalid_native_handle)
    return op.ec != boost::asio::error::would_block; // EMFILE and the like end the op
  out.reset(nfd);
  if (peer)
    peer->resize(len);
  return true;
}

// Hands an accepted descriptor to a socket; it stays with `fd` (and is
// closed with it) if the socket cannot take it.
template <class Socket, class Protocol>
void adopt(Socket& s, const Protocol& protocol, accepted_fd& fd, boost::system::error_code& ec)
{
  const native_handle nfd = fd.release();
  s.adopt_accepted(protocol, nfd, ec);
  if (ec)
    fd.reset(nfd);
}

// async_accept(token): the handler gets a new socket of type Socket.
template <class Socket, class Endpoint>
struct accept_action
{
  native_handle fd;
  bool report_aborted;
  typename Socket::executor_type executor;
  typename Socket::protocol_type protocol;
  Endpoint* peer;
  accepted_fd accepted{};

  bool perform(reactor_op& op) { return perform_accept(fd, report_aborted, accepted, peer, op); }
  template <class Work, class Handler>
  void complete(Work& w, Handler& h, boost::system::error_code ec, std::size_t)
  {
    Socket s(executor);
    if (!ec)
      adopt(s, protocol, accepted, ec);
    w.complete(h, ec, std::move(s));
  }
};

// async_accept(peer, token): the new descriptor goes into an existing socket.
template <class Socket, class Endpoint>
struct accept_into_action
{
  native_handle fd;
  bool report_aborted;
  Socket* into;
  typename Socket::protocol_type protocol;
  Endpoint* peer;
  accepted_fd accepted{};

  bool perform(reactor_op& op) { return perform_accept(fd, report_aborted, accepted, peer, op); }
  template <class Work, class Handler>
  void complete(Work& w, Handler& h, boost::system::error_code ec, std::size_t)
  {
    if (!ec)
      adopt(*into, protocol, accepted, ec);
    w.complete(h, ec);
  }
};

} // namespace nanorun::detail
