#!/bin/sh
# Runs a Windows executable under Wine for CTest (CMAKE_CROSSCOMPILING_EMULATOR)
# and passes its exit status through.
#
# Wine's first use of a prefix starts background processes (services.exe,
# winedevice.exe, explorer.exe, ...). Started by the test itself they would
# inherit its stdout/stderr, and CTest waits for those pipes to close: each
# test would take seconds, or hang when a persistent wineserver is around.
# So the wineserver and the prefix are brought up first with every standard
# stream on /dev/null, serialized with flock so that parallel tests do not
# race to create the prefix; the lock descriptor is closed for those children
# (9>&-), or they would hold the lock for as long as they live. The server
# exits by itself 30 s after its last client.
: "${WINEPREFIX:=${XDG_CACHE_HOME:-$HOME/.cache}/nanorun-wineprefix-$(id -u)}"
export WINEPREFIX
export WINEDEBUG="${WINEDEBUG:--all}"
export WINEDLLOVERRIDES="${WINEDLLOVERRIDES:-mscoree,mshtml=}" # never offer Mono/Gecko
unset DISPLAY WAYLAND_DISPLAY                                   # console programs need no X
mkdir -p "$(dirname "$WINEPREFIX")"
(
  flock 9
  wineserver -p 30 </dev/null >/dev/null 2>&1 9>&- || true # 2 if already running
  wine wineboot </dev/null >/dev/null 2>&1 9>&-
) 9>"$WINEPREFIX.lock"
exec wine "$@"
