# Shared by scripts/demo and scripts/test (sourced, not run).
#   NANORUN_BUILD_ROOT  where build trees go (default: build)
#   NANORUN_JOBS        parallel build jobs (default: 2)

nr_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
nr_build_root="${NANORUN_BUILD_ROOT:-build}"
nr_jobs="${NANORUN_JOBS:-2}"
cd "$nr_root"

# Installs the Debian 12 packages the build needs, if any is missing: one
# apt-get update, then one install. Needs root or sudo; a second run is a no-op.
# Extra package names may be given (the windows phase's cross compiler and
# Wine: see nr_windows_packages).
nr_ensure_packages() {
  local packages=(build-essential g++ clang cmake ninja-build libboost1.81-dev libboost-test1.81-dev curl doxygen pkgconf "$@")
  local missing=() p status
  for p in "${packages[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)"
    [[ "$status" == "install ok installed" ]] || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  local sudo=()
  if [[ "$(id -u)" -ne 0 ]]; then
    sudo=(sudo)
  fi
  echo "==> installing missing packages: ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

# What the windows phase adds: mingw-w64's C++ compiler with posix threads (the
# win32 variant has no std::thread) and Wine 8 (64-bit; no i386 multiarch is
# needed for x64 programs). Boost comes from libboost1.81-dev, header-only.
nr_windows_packages=(g++-mingw-w64-x86-64-posix wine wine64)

# The bench/ tree is written separately; build it only once it exists.
nr_bench_option() {
  if [[ -f bench/CMakeLists.txt ]]; then
    echo "-DNANORUN_BUILD_BENCH=ON"
  else
    echo "-DNANORUN_BUILD_BENCH=OFF"
  fi
}

# nr_configure_build <dir> <cmake options...>: configure with Ninja, then build.
nr_configure_build() {
  local dir="$1"
  shift
  cmake -S . -B "$dir" -G Ninja "$@"
  cmake --build "$dir" -j "$nr_jobs"
}

# nr_configure_preset <preset> <dir> <cmake options...>: configure with a
# preset of CMakePresets.json into <dir> (the preset's own build/<preset>
# unless NANORUN_BUILD_ROOT moves it), then build.
nr_configure_preset() {
  local preset="$1" dir="$2"
  shift 2
  cmake --preset "$preset" -B "$dir" "$@"
  cmake --build "$dir" -j "$nr_jobs"
}

nr_now() { date +%s; }
nr_elapsed() { # seconds -> "3m07s"
  printf '%dm%02ds' $(($1 / 60)) $(($1 % 60))
}
