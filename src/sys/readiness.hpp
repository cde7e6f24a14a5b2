// The OS-neutral vocabulary shared by every readiness backend in src/sys/<os>/
// and the reactor layer above them: what a wait reports and how interest is
// named. Nothing here touches the OS.
#pragma once

#include <cstdint>

namespace nanorun::sys {

// Directions a descriptor can be ready in. `error` is reported together with
// both directions by every backend, so a waiting operation retries its call
// and receives the error itself.
enum readiness : std::uint32_t
{
  ready_read = 1,
  ready_write = 2,
  ready_error = 4,
};

// One entry of a wait's result: the key given at registration and what became
// ready. A backend never reports its own wake-up signal.
struct ready_event
{
  void* key;
  std::uint32_t ready;
};

} // namespace nanorun::sys
