// FAULT INJECTION: a seam for a test build, empty in every other.
//
// The OS calls a server depends on fail in production in ways a test machine
// rarely shows: a signal interrupts a call (EINTR), a transfer moves fewer
// bytes than asked, a peer resets (ECONNRESET, EPIPE), the process runs out
// of descriptors (EMFILE, ENFILE) or the kernel of memory (ENOMEM, ENOBUFS).
// Each raw call in src/sys/<os>/ that can fail that way asks this seam first:
// NANORUN_SYSCALL(call, expr) makes the call `expr` unless the seam fails it,
// and then yields -1 with the injected errno, as the call would have;
// NANORUN_FAULT(call) gives the injected code itself (0: none) for calls
// that report failures otherwise (getaddrinfo), and fault_short() may
// shorten a stream transfer. In the fault build (cmake -DNANORUN_FAULTS=ON) a test
// sets rules per call: fail every n-th call, or each call with a probability
// drawn from a seeded generator, with a given errno; shorten transfers at
// random. Elsewhere both macros are constants and cost nothing.
//
// Only faults the kernel can produce are worth injecting. In particular a
// spurious EAGAIN, or a transfer cut short, from a descriptor that still has
// data or space would hide readiness from an edge-triggered reactor for good:
// like Asio's, nanorun's reactor takes a transfer that moves less than asked
// to mean the socket is drained, and waits for the next edge; a real kernel
// only says so when it is, and then an edge follows. Tests inject those two
// on the level-triggered poll(2) backend only, and EINTR everywhere.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>

#ifndef NANORUN_FAULTS
#define NANORUN_FAULTS 0
#endif

namespace nanorun::sys {

// The calls that consult the seam.
enum class fault_call : unsigned
{
  socket,    // creating a socket (and a pipe or eventfd is not one of them)
  accept,
  connect,
  recv,      // recvmsg on any socket
  send,      // sendmsg on any socket
  poll_ctl,  // registering or re-arming a descriptor with the poller (epoll_ctl)
  wake,      // the reactor's wake-up write (eventfd or self-pipe)
  resolve,   // getaddrinfo; the rule's `error` is an EAI_ code, not an errno
  count
};

#if NANORUN_FAULTS

struct fault_rule
{
  int error = 0;             // the errno to fail with; 0: none
  unsigned every = 0;        // fail every n-th call (1: all); 0: not by count
  unsigned per_mille = 0;    // fail each call with this probability (0..1000)
  unsigned short_per_mille = 0; // transfers only: shorten with this probability
};

// Sets the rule for one call (replacing the previous one) and restarts its
// count. Any thread; takes effect at the call's next use.
void set_fault(fault_call call, const fault_rule& rule) noexcept;

// Removes every rule.
void clear_faults() noexcept;

// Seeds the generator behind per_mille and short_per_mille.
void seed_faults(std::uint64_t seed) noexcept;

// How many faults (failures and shortened transfers) were injected into a
// call since its rule was set.
std::uint64_t faults_injected(fault_call call) noexcept;

// The code to fail this use of `call` with, or 0 to make the call.
int fault_error(fault_call call) noexcept;

// Whether to fail this use of `call`; if so, errno holds the injected error.
inline bool fault_sets_errno(fault_call call) noexcept
{
  if (const int e = fault_error(call))
  {
    errno = e;
    return true;
  }
  return false;
}

// The length to transfer instead of n (n: no fault).
std::size_t fault_short(fault_call call, std::size_t n) noexcept;

} // namespace nanorun::sys

#define NANORUN_FAULT(call) ::nanorun::sys::fault_error(::nanorun::sys::fault_call::call)
#define NANORUN_SYSCALL(call, expr)                                                                                  \
  (::nanorun::sys::fault_sets_errno(::nanorun::sys::fault_call::call) ? -1 : (expr))

#else

} // namespace nanorun::sys

#define NANORUN_FAULT(call) 0
#define NANORUN_SYSCALL(call, expr) (expr)

#endif
