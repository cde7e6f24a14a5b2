// Windows signals (contract: sys/signals.hpp): the C runtime's signal(), as
// Asio uses on Windows. The CRT installs its own console control handler and
// maps CTRL_C_EVENT to SIGINT and the other console events to SIGBREAK; raise()
// calls the handler on the raising thread. The handler runs as an ordinary
// function (on the console control thread, or inside raise()), so it delivers
// through the sink at once: there is no self-pipe here.
#include "sys/signals.hpp"

#include <atomic>
#include <csignal>

namespace nanorun::sys {

namespace {

std::atomic<void (*)(int)> sink{nullptr};

extern "C" void __cdecl nanorun_signal_handler(int signo)
{
  // The CRT resets the disposition to SIG_DFL before it calls a handler:
  // install it again first, so that a second CTRL_C soon after does not end
  // the process. (Asio does it after delivering.)
  std::signal(signo, &nanorun_signal_handler);
  // Acquire: pairs with the release store in signal_set_sink().
  if (void (*f)(int) = sink.load(std::memory_order_acquire))
    f(signo);
}

} // namespace

int signal_limit() noexcept { return NSIG; }

bool signal_flags_supported() noexcept { return false; }

std::error_code signal_catch(int signo, int) noexcept
{
  // The CRT says nothing about why (errno is EINVAL at best): Asio reports
  // invalid_argument.
  if (std::signal(signo, &nanorun_signal_handler) == SIG_ERR)
    return std::make_error_code(std::errc::invalid_argument);
  return {};
}

std::error_code signal_default(int signo) noexcept
{
  if (std::signal(signo, SIG_DFL) == SIG_ERR)
    return std::make_error_code(std::errc::invalid_argument);
  return {};
}

native_handle signal_pipe_open() { return invalid_native_handle; }

native_handle signal_pipe_renew() { return invalid_native_handle; }

std::size_t signal_pipe_read(native_handle, int*, std::size_t) noexcept { return 0; }

void signal_set_sink(void (*f)(int)) noexcept { sink.store(f, std::memory_order_release); }

} // namespace nanorun::sys
