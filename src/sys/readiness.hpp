// The OS-neutral vocabulary shared by every readiness backend in src/sys/<os>/
// and the reactor layer above them: what a wait reports and how interest is
// named. Nothing here touches the OS.
#pragma once

#include <nanorun/detail/native_handle.hpp>

#include <cstdint>

namespace nanorun::sys {

// A socket or descriptor as the backends take it (see native_handle.hpp).
using detail::native_handle;
using detail::invalid_native_handle;

// Directions a descriptor can be ready in. `error` is the exceptional
// condition (out-of-band data: what wait_error waits for). A failure (a
// pending error, hang-up) is reported as every direction at once, so each
// waiting operation retries its call and receives the error itself.
//
// `final` marks the directions reported with it as ready for good: end of
// file, hang-up or a pending error never become "would block" again. An
// edge-triggered backend reports such a transition once, so the reactor must
// remember it rather than wait for another edge.
//
// `oneshot` is interest only, never reported: the descriptor is watched by
// level, reported once, and then not again until modify() re-arms it (when
// it is reported at once if it is still ready). One-shot backends are always
// like that; an edge-triggered one uses it for descriptors whose edges can be
// consumed without their readiness being used (an epoll instance nested in
// ours, whose events the thread that reads them may not be the one to
// handle).
enum readiness : std::uint32_t
{
  ready_read = 1,
  ready_write = 2,
  ready_error = 4,
  ready_final = 8,
  ready_oneshot = 16,
};
inline constexpr std::uint32_t ready_directions = ready_read | ready_write | ready_error;

// One entry of a wait's result: the key given at registration, what became
// ready and, if the backend learnt it with the event, the OS error it is
// about (0 if none). Only Windows' AFD poll reports one: a failed connect's
// status comes with the event, where POSIX systems leave it in SO_ERROR.
// A backend never reports its own wake-up signal.
//
// No default member initializers: the reactor keeps an array of 128 of these
// on its stack for every poll, and an initializer would make each poll write
// all of them first (60% of io_reactor::run's time on a one-connection echo).
// Backends fill every field of the entries they report.
struct ready_event
{
  void* key;
  std::uint32_t ready;
  int error;
};

} // namespace nanorun::sys
