#!/usr/bin/env bash
# Runs one network example server in the background and checks it with a
# separate client process, then stops it with SIGTERM. ctest runs it.
#
#   run_example_test.sh echo    EXAMPLE_CLIENT  SERVER [ARGS...]
#   run_example_test.sh chat    EXAMPLE_CLIENT  SERVER [ARGS...]
#   run_example_test.sh timeout TIMEOUT_CLIENT  SERVER [ARGS...]   (a line echo server)
#   run_example_test.sh http    CURL            SERVER [ARGS...]   (--asio: Asio backend)
#
# The server binds port 0 and prints "... listening on ADDRESS:PORT ...".
# Fails if the server does not start, a check fails, or the server does not
# exit with status 0 within 10 s of SIGTERM. Never leaves the server behind.
#
# Windows programs (the cross build) run under NANORUN_EXAMPLE_LAUNCHER
# (cmake/wine-run.sh), and are stopped with NANORUN_EXAMPLE_STOP_SIGNAL
# (INT: Wine turns SIGINT into the console's Ctrl+C, which the C runtime
# raises as SIGINT; SIGTERM would end the process without running it).
# Native clients (curl) run as they are.
set -euo pipefail

mode=$1
shift
launch=()
[[ -n ${NANORUN_EXAMPLE_LAUNCHER:-} ]] && launch=("$NANORUN_EXAMPLE_LAUNCHER")
stop_signal=${NANORUN_EXAMPLE_STOP_SIGNAL:-TERM}
client=("$1")
[[ $1 == *.exe ]] && client=("${launch[@]}" "$1")
shift
server=("$@")
[[ $1 == *.exe ]] && server=("${launch[@]}" "$@")

work=$(mktemp -d)
log=$work/server.log
server_pid=
cleanup() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAILED: $*"
  echo "--- server output ---"
  cat "$log" || true
  exit 1
}

"${server[@]}" --port 0 >"$log" 2>&1 &
server_pid=$!

port=
for _ in $(seq 1 200); do
  port=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)
  [[ -n $port ]] && break
  kill -0 "$server_pid" 2>/dev/null || fail "server exited before listening"
  sleep 0.05
done
[[ -n $port ]] || fail "server did not print its port within 10 s"
echo "server ${server[*]} listening on port $port"

status=0
case $mode in
  echo | chat)
    "${client[@]}" "$mode" "$port" || status=$?
    ;;
  timeout)
    "${client[@]}" --port "$port" || status=$?
    ;;
  http)
    backend=nanorun
    for arg in "${server[@]}"; do [[ $arg == --asio ]] && backend=boost::asio; done
    url=http://127.0.0.1:$port
    check() { # what, got, want
      if [[ $2 == "$3" ]]; then echo "  ok: $1: $2"; else echo "  FAILED: $1: got '$2', want '$3'"; status=1; fi
    }
    check "GET / body" "$("${client[@]}" -sf --max-time 10 "$url/" || echo "curl failed ($?)")" "Hello from $backend"
    check "GET /missing status" "$("${client[@]}" -s --max-time 10 -o /dev/null -w '%{http_code}' "$url/missing")" 404
    check "POST / status" "$("${client[@]}" -s --max-time 10 -o /dev/null -w '%{http_code}' -d x "$url/")" 405
    check "HTTP/1.0 GET / body" "$("${client[@]}" -sf -0 --max-time 10 "$url/" || echo "curl failed ($?)")" \
      "Hello from $backend"
    # Keep-alive: curl reuses the connection for the next URL (0 new connects);
    # no -f here: with it curl drops the connection after the 404.
    check "keep-alive: new connections per request" \
      "$("${client[@]}" -s --max-time 10 -o /dev/null -o /dev/null -o /dev/null -w '%{num_connects} ' \
        "$url/" "$url/missing" "$url/" || true)" "1 0 0 "
    # Concurrent clients.
    pids=()
    for i in $(seq 1 16); do
      "${client[@]}" -sf --max-time 10 -o "$work/body.$i" "$url/" &
      pids+=($!)
    done
    ok=0
    for i in "${!pids[@]}"; do
      if wait "${pids[$i]}" && [[ $(cat "$work/body.$((i + 1))") == "Hello from $backend" ]]; then ok=$((ok + 1)); fi
    done
    check "16 concurrent GET / answered" "$ok" 16
    ;;
  *)
    fail "unknown mode $mode"
    ;;
esac

kill -"$stop_signal" "$server_pid"
for _ in $(seq 1 100); do
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$server_pid" 2>/dev/null && fail "server still running 10 s after SIG$stop_signal"
server_status=0
wait "$server_pid" || server_status=$?
server_pid=
[[ $server_status == 0 ]] || fail "server exited with status $server_status"
[[ $status == 0 ]] || fail "client checks failed (status $status)"
echo "--- server output ---"
cat "$log"
echo "PASSED: $mode"
