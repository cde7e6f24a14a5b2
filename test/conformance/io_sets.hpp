// Side-by-side conformance of nanorun's I/O objects with Asio's: the two
// type sets, and a recorder. A scenario is a generic lambda that takes a
// type set and a record; same_on_both() runs it on Asio's types, then on
// nanorun's, and checks that both recorded the same values in the same
// order (error codes by category and value). `expect` also pins the value
// Asio documents, so that a scenario fails even if both libraries agreed on
// a wrong answer.
#pragma once

#include <nanorun/io_context.hpp>
#include <nanorun/ip/tcp.hpp>
#include <nanorun/ip/udp.hpp>
#include <nanorun/steady_timer.hpp>
#include <nanorun/system_timer.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/system_timer.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace io_sets {

namespace asio = boost::asio;
using boost::system::error_code;

struct asio_set
{
  static constexpr const char* name = "asio";
  using context = asio::io_context;
  using tcp = asio::ip::tcp;
  using udp = asio::ip::udp;
  using steady_timer = asio::steady_timer;
  using system_timer = asio::system_timer;
};

struct nanorun_set
{
  static constexpr const char* name = "nanorun";
  using context = nanorun::io_context;
  using tcp = nanorun::ip::tcp;
  using udp = nanorun::ip::udp;
  using steady_timer = nanorun::steady_timer;
  using system_timer = nanorun::system_timer;
};

using both_sets = std::tuple<asio_set, nanorun_set>;

// The type set whose sockets hand their native handle out with release().
// Asio's IOCP sockets detach the handle from their completion port with
// FileReplaceCompletionInformation (Windows 8.1 and later), which Wine does
// not implement: there release() fails with operation_not_supported, and a
// scenario that needs a released handle takes it from a nanorun socket.
template <class S>
struct release_source
{
  using type = S;
};
#if defined(_WIN32)
template <>
struct release_source<asio_set>
{
  using type = nanorun_set;
};
#endif

// Bounds every run: an operation still pending after it is a failure (its
// handler did not run), never a hang. Not a timing assertion.
inline constexpr auto limit = std::chrono::seconds(10);

inline asio::ip::tcp::endpoint loopback(unsigned short port = 0) { return {asio::ip::address_v4::loopback(), port}; }
inline asio::ip::udp::endpoint udp_loopback(unsigned short port = 0)
{
  return {asio::ip::address_v4::loopback(), port};
}

// Runs what is queued on ctx (bounded by `limit`).
template <class Context>
void run(Context& ctx)
{
  ctx.restart();
  ctx.run_for(limit);
}

inline std::string text(const error_code& ec)
{
  if (!ec)
    return "ok";
  return std::string(ec.category().name()) + ":" + std::to_string(ec.value()) + " (" + ec.message() + ")";
}

class record
{
public:
  struct entry
  {
    std::string label;
    std::string value;
    bool compared = true; // false: see expect_unless_iocp
  };

  void operator()(const std::string& label, const error_code& ec) { add(label, text(ec)); }
  void operator()(const std::string& label, bool b) { add(label, b ? "true" : "false"); }
  void operator()(const std::string& label, const std::string& s) { add(label, s); }
  void operator()(const std::string& label, const char* s) { add(label, s); }
  template <class T>
    requires(std::is_integral_v<T> && !std::is_same_v<T, bool>)
  void operator()(const std::string& label, T v)
  {
    add(label, std::to_string(v));
  }

  // Records ec and checks it is `expected`.
  void expect(const std::string& label, const error_code& ec, const error_code& expected)
  {
    (*this)(label, ec);
    BOOST_TEST(ec == expected, set_ << ": " << label << ": " << text(ec) << ", expected " << text(expected));
  }
  // Records b and checks it is `expected`.
  void expect(const std::string& label, bool b, bool expected)
  {
    (*this)(label, b);
    BOOST_TEST(b == expected, set_ << ": " << label << ": " << b << ", expected " << expected);
  }

  // Where Asio's own Windows sockets (IOCP, with a select() reactor for
  // waits) differ from its reactor sockets, nanorun keeps the reactor
  // behaviour on every OS (doc/migrating-from-io_context.md, "On Windows").
  // There nanorun's value is checked against `expected`, Asio's is only
  // recorded, and the entry is left out of the comparison. Elsewhere this is
  // expect().
  template <class T, class U>
  void expect_unless_iocp(const std::string& label, const T& value, const U& expected)
  {
#if defined(_WIN32)
    if (std::string(set_) == asio_set::name)
      (*this)(label, value);
    else
      expect(label, value, expected);
    entries_.back().compared = false;
#else
    expect(label, value, expected);
#endif
  }

  // What the OS itself answers, passed through by both libraries, where
  // Windows and POSIX answer differently.
  template <class T, class U>
  void expect_os(const std::string& label, const T& value, const U& on_posix, const U& on_windows)
  {
#if defined(_WIN32)
    (void)on_posix;
    expect(label, value, on_windows);
#else
    (void)on_windows;
    expect(label, value, on_posix);
#endif
  }

  void set_name(const char* n) { set_ = n; }
  const std::vector<entry>& entries() const noexcept { return entries_; }

private:
  void add(const std::string& label, std::string value) { entries_.push_back({label, std::move(value)}); }

  const char* set_ = "";
  std::vector<entry> entries_;
};

// Runs scenario(set, record) on both type sets and compares the records.
template <class Scenario>
void same_on_both(Scenario scenario)
{
  record a, n;
  a.set_name(asio_set::name);
  n.set_name(nanorun_set::name);
  scenario(asio_set{}, a);
  scenario(nanorun_set{}, n);
  BOOST_TEST_REQUIRE(a.entries().size() == n.entries().size());
  for (std::size_t i = 0; i < a.entries().size(); ++i)
  {
    const auto& x = a.entries()[i];
    const auto& y = n.entries()[i];
    BOOST_TEST(x.label == y.label);
    if (x.compared && y.compared)
      BOOST_TEST(y.value == x.value, y.label << ": nanorun " << y.value << ", asio " << x.value);
  }
}

// A connected TCP pair, made synchronously (the context need not run).
template <class S>
struct tcp_pair
{
  explicit tcp_pair(typename S::context& ctx) : acceptor(ctx, loopback()), client(ctx), server(ctx)
  {
    client.connect(acceptor.local_endpoint());
    acceptor.accept(server);
  }
  typename S::tcp::acceptor acceptor;
  typename S::tcp::socket client;
  typename S::tcp::socket server;
};

} // namespace io_sets
