#!/usr/bin/env bash
# bench/http_wrk.sh: example/http_server (Boost.Beast) on nanorun and on
# boost::asio::io_context, the same code, measured with wrk in one run.
#
# Usage: bench/http_wrk.sh [BUILD_DIR] [ROUNDS] [SECONDS] [CONNECTIONS] [SERVER_THREADS]
#   defaults: build/release 5 5 100 2
# Each round starts both servers in turn (the order alternates between rounds
# so neither always goes first), runs `wrk -t1 -c CONNECTIONS -d SECONDS`
# against GET / on 127.0.0.1, and records requests/s. Prints every round, the
# medians, and nanorun's median as a ratio of io_context's. wrk itself takes
# one thread: on a 2-core machine it shares the cores with the server.
set -euo pipefail

build=${1:-build/release}
rounds=${2:-5}
seconds=${3:-5}
conns=${4:-100}
threads=${5:-2}
server="$build/example/http_server"

command -v wrk >/dev/null || { echo "http_wrk.sh: wrk is not installed (apt-get install wrk)" >&2; exit 2; }
[[ -x $server ]] || { echo "http_wrk.sh: $server not built (-DNANORUN_BUILD_EXAMPLES=ON, target http_server)" >&2; exit 2; }

# One measurement: starts the server, waits for its "listening on" line, runs
# wrk, stops the server, prints requests/s.
measure() {
  local flag=$1 out pid port rps
  out=$(mktemp)
  # shellcheck disable=SC2086
  "$server" $flag --threads "$threads" >"$out" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    grep -q "listening on" "$out" && break
    sleep 0.05
  done
  port=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$out")
  [[ -n $port ]] || { kill "$pid" 2>/dev/null; cat "$out" >&2; echo "http_wrk.sh: server did not start" >&2; exit 1; }
  rps=$(wrk -t1 -c "$conns" -d "${seconds}s" "http://127.0.0.1:$port/" | awk '/Requests\/sec/ {print $2}')
  kill -INT "$pid"
  wait "$pid" || true
  rm -f "$out"
  [[ -n $rps ]] || { echo "http_wrk.sh: wrk printed no rate" >&2; exit 1; }
  echo "$rps"
}

median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }

nano=() asio=()
echo "# http_server under wrk: $rounds rounds x ${seconds}s, $conns connections, $threads server threads, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 1; r <= rounds; ++r)); do
  if ((r % 2)); then
    n=$(measure "") a=$(measure --asio)
  else
    a=$(measure --asio) n=$(measure "")
  fi
  nano+=("$n") asio+=("$a")
  echo "round $r: nanorun $n req/s, io_context $a req/s"
done
mn=$(printf '%s\n' "${nano[@]}" | median)
ma=$(printf '%s\n' "${asio[@]}" | median)
echo
echo "| server (Beast, $threads threads) | requests/s, median of $rounds | vs io_context |"
echo "|---|--:|--:|"
printf '| io_context | %.0f | 1.00x |\n' "$ma"
printf '| nanorun | %.0f | %.2fx |\n' "$mn" "$(awk -v n="$mn" -v a="$ma" 'BEGIN {print n / a}')"
