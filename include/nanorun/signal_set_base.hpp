// nanorun::signal_set_base: the flags a signal set may register a signal with.
#pragma once

namespace nanorun {

/// The base class of basic_signal_set: the flags it may register a signal with.
/**
 * Asio 1.26 (Boost 1.81) has no flags: its signal sets install their handler
 * with none. nanorun offers the flags of Asio 1.27's
 * boost::asio::signal_set_base (Boost 1.82), with its rules, so that code
 * written for the newer Asio compiles and behaves the same; add(int) without
 * flags is Asio 1.26's add() and means flags::dont_care.
 *
 * The values are nanorun's own, not the OS's SA_* values: no OS header is
 * needed to name them. They are applied with sigaction() on POSIX; on Windows
 * any value but dont_care fails with operation_not_supported, as in Asio.
 */
class signal_set_base
{
public:
  /// Flags for the signal's handler, as sigaction()'s sa_flags.
  enum flags
  {
    /// No flags: the handler is installed with sa_flags 0.
    none = 0,
    /// SA_RESTART: system calls interrupted by the signal are restarted.
    restart = 1,
    /// SA_NOCLDSTOP: no SIGCHLD when a child stops or continues.
    no_child_stop = 2,
    /// SA_NOCLDWAIT: children do not become zombies.
    no_child_wait = 4,
    /// Accept whatever flags the signal is already registered with (or none).
    dont_care = -1
  };

  /// The type of a set of flags.
  using flags_t = flags;

protected:
  /// Protected: the class is a base class only.
  ~signal_set_base() = default;
};

/// The union of two sets of flags.
/// @param a the first set.
/// @param b the second set.
/// @returns the flags in either.
constexpr signal_set_base::flags operator|(signal_set_base::flags a, signal_set_base::flags b) noexcept
{
  return static_cast<signal_set_base::flags>(static_cast<int>(a) | static_cast<int>(b));
}

/// The intersection of two sets of flags.
/// @param a the first set.
/// @param b the second set.
/// @returns the flags in both.
constexpr signal_set_base::flags operator&(signal_set_base::flags a, signal_set_base::flags b) noexcept
{
  return static_cast<signal_set_base::flags>(static_cast<int>(a) & static_cast<int>(b));
}

/// The symmetric difference of two sets of flags.
/// @param a the first set.
/// @param b the second set.
/// @returns the flags in exactly one of them.
constexpr signal_set_base::flags operator^(signal_set_base::flags a, signal_set_base::flags b) noexcept
{
  return static_cast<signal_set_base::flags>(static_cast<int>(a) ^ static_cast<int>(b));
}

/// The complement of a set of flags.
/// @param a the set.
/// @returns every flag not in a.
constexpr signal_set_base::flags operator~(signal_set_base::flags a) noexcept
{
  return static_cast<signal_set_base::flags>(~static_cast<int>(a));
}

/// Adds the flags of b to a.
/// @param a the set to change.
/// @param b the flags to add.
/// @returns a.
constexpr signal_set_base::flags& operator|=(signal_set_base::flags& a, signal_set_base::flags b) noexcept
{
  return a = a | b;
}

/// Keeps in a only the flags also in b.
/// @param a the set to change.
/// @param b the flags to keep.
/// @returns a.
constexpr signal_set_base::flags& operator&=(signal_set_base::flags& a, signal_set_base::flags b) noexcept
{
  return a = a & b;
}

/// Toggles in a the flags of b.
/// @param a the set to change.
/// @param b the flags to toggle.
/// @returns a.
constexpr signal_set_base::flags& operator^=(signal_set_base::flags& a, signal_set_base::flags b) noexcept
{
  return a = a ^ b;
}

} // namespace nanorun
