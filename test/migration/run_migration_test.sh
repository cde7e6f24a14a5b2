#!/usr/bin/env bash
# Runs one program of a migration level and checks it as the original Asio
# program is checked: the same client, the same expected output. ctest runs it.
#
#   run_migration_test.sh echo   EXE PROGRAM CLIENT       (example_client echo PORT)
#   run_migration_test.sh udp    EXE PROGRAM CLIENT       (migration_client udp PORT)
#   run_migration_test.sh http   EXE PROGRAM CURL
#   run_migration_test.sh output EXE PROGRAM EXPECTED     (stdout must equal the file)
#   run_migration_test.sh client EXE PROGRAM EXPECTED SERVER_EXE SERVER_PROGRAM
#
# A server binds port 0 and prints "listening on 127.0.0.1:PORT"; it must exit
# with status 0 within 10 s of SIGTERM. Never leaves a server behind.
set -euo pipefail

mode=$1 exe=$2 program=$3
shift 3

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
  if [[ -s $log ]]; then
    echo "--- server output ---"
    cat "$log"
  fi
  exit 1
}

start_server() { # EXE PROGRAM: sets port
  "$1" "$2" --port 0 >"$log" 2>&1 &
  server_pid=$!
  port=
  for _ in $(seq 1 200); do
    port=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)
    [[ -n $port ]] && break
    kill -0 "$server_pid" 2>/dev/null || fail "server $2 exited before listening"
    sleep 0.05
  done
  [[ -n $port ]] || fail "server $2 did not print its port within 10 s"
}

stop_server() {
  kill -TERM "$server_pid"
  for _ in $(seq 1 100); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$server_pid" 2>/dev/null && fail "server still running 10 s after SIGTERM"
  local status=0
  wait "$server_pid" || status=$?
  server_pid=
  [[ $status == 0 ]] || fail "server exited with status $status"
}

check() { # what, got, want
  if [[ $2 == "$3" ]]; then
    echo "  ok: $1: $2"
  else
    echo "  FAILED: $1: got '$2', want '$3'"
    status=1
  fi
}

status=0
case $mode in
  echo | udp)
    client=$1
    start_server "$exe" "$program"
    "$client" "$mode" "$port" || status=$?
    stop_server
    ;;
  http)
    curl=$1
    start_server "$exe" "$program"
    url=http://127.0.0.1:$port
    check "GET / body" "$("$curl" -sf --max-time 10 "$url/" || echo "curl failed ($?)")" "Hello, world!"
    check "GET /missing status" "$("$curl" -s --max-time 10 -o /dev/null -w '%{http_code}' "$url/missing")" 404
    check "POST / status" "$("$curl" -s --max-time 10 -o /dev/null -w '%{http_code}' -d x "$url/")" 400
    check "HTTP/1.0 GET / body" "$("$curl" -sf -0 --max-time 10 "$url/" || echo "curl failed ($?)")" "Hello, world!"
    check "keep-alive: new connections per request" \
      "$("$curl" -s --max-time 10 -o /dev/null -o /dev/null -o /dev/null -w '%{num_connects} ' \
        "$url/" "$url/missing" "$url/" || true)" "1 0 0 "
    pids=()
    for i in $(seq 1 16); do
      "$curl" -sf --max-time 10 -o "$work/body.$i" "$url/" &
      pids+=($!)
    done
    ok=0
    for i in "${!pids[@]}"; do
      if wait "${pids[$i]}" && [[ $(cat "$work/body.$((i + 1))") == "Hello, world!" ]]; then ok=$((ok + 1)); fi
    done
    check "16 concurrent GET / answered" "$ok" 16
    stop_server
    ;;
  output)
    expected=$1
    timeout 60 "$exe" "$program" >"$work/out.txt" 2>&1 || fail "$program exited with status $?: $(cat "$work/out.txt")"
    diff -u "$expected" "$work/out.txt" || fail "$program's output differs from $expected"
    ;;
  client)
    expected=$1 server_exe=$2 server_program=$3
    start_server "$server_exe" "$server_program"
    timeout 60 "$exe" "$program" --port "$port" >"$work/out.txt" 2>&1 || status=$?
    stop_server
    diff -u "$expected" "$work/out.txt" || fail "$program's output differs from $expected"
    ;;
  *)
    fail "unknown mode $mode"
    ;;
esac
[[ $status == 0 ]] || fail "checks failed (status $status)"
echo "PASSED: $mode $program ($(basename "$exe"))"
