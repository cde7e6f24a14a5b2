// The OS-neutral contract for signal delivery, implemented by
// sys/posix/signals.cpp and sys/windows/signals.cpp; the runtime layer's
// signal service (runtime/signal_service.cpp) is its only user.
//
// POSIX: a process-wide self-pipe. The handler that signal_catch() installs
// with sigaction() does nothing but write(2) the signal number into the pipe
// (the only async-signal-safe way out of a handler), saving and restoring
// errno; every runtime with signal sets watches the read end with its reactor
// and reads the numbers with signal_pipe_read(). The pipe is opened on first
// use and kept for the life of the process: a handler running on another
// thread may be about to write when the last set goes, and a closed and reused
// descriptor would receive its bytes. Only a forked child renews it.
//
// Windows: the C runtime's signal(), as Asio does there. The CRT's own console
// control handler turns CTRL_C_EVENT into SIGINT and the other console events
// into SIGBREAK, and raise() calls the handler directly; the handler (on the
// console control thread, or inside raise()) is an ordinary function, so it
// hands the number to the sink set with signal_set_sink() at once. There is
// no pipe: signal_pipe_open() returns invalid_native_handle.
//
// Every function here is called with the signal service's registry mutex held
// (one caller at a time), except the handler itself.
#pragma once

#include <nanorun/detail/native_handle.hpp>

#include <cstddef>
#include <system_error>

namespace nanorun::sys {

using detail::invalid_native_handle;
using detail::native_handle;

// One past the highest signal number the OS has (NSIG).
int signal_limit() noexcept;

// The flags nanorun::signal_set_base names, as this contract takes them; each
// OS maps them to its own (SA_RESTART, SA_NOCLDSTOP, SA_NOCLDWAIT). A negative
// value means "don't care": the handler is installed with no flags, as Asio
// 1.26 installs it.
enum signal_flag : int
{
  signal_flag_restart = 1,
  signal_flag_no_child_stop = 2,
  signal_flag_no_child_wait = 4,
};

// Whether signal_catch() honours flags (sigaction); Windows' signal() has none.
bool signal_flags_supported() noexcept;

// Installs the handler for signo. The error is the OS's (errno), or
// std::errc::invalid_argument where the OS gives no reason (Windows).
std::error_code signal_catch(int signo, int flags) noexcept;

// Restores signo's default disposition.
std::error_code signal_default(int signo) noexcept;

// Opens the pipe if it is not open and returns its read end (non-blocking,
// close-on-exec); invalid_native_handle where signals do not travel through a
// descriptor (Windows). Throws std::system_error if the pipe cannot be made.
native_handle signal_pipe_open();

// In a forked child: replaces an open pipe (shared with the parent) with a new
// one and returns its read end, as signal_pipe_open(). Throws std::system_error.
native_handle signal_pipe_renew();

// Reads at most n signal numbers from the pipe's read end into out; returns how
// many (0 when the pipe is empty). Never blocks.
std::size_t signal_pipe_read(native_handle read_end, int* out, std::size_t n) noexcept;

// Where the handler delivers on systems without a pipe (Windows); ignored
// elsewhere. Set once, before the first signal_catch().
void signal_set_sink(void (*sink)(int)) noexcept;

} // namespace nanorun::sys
