# shellcheck shell=bash disable=SC2154 # wrk_* globals: set by the sourcing script, listed below
# bench/wrk_common.sh: what http_wrk.sh and beast_wrk.sh share (sourced, not
# run). The caller sets, before calling wrk_compare:
#   wrk_script    its own name, for messages
#   wrk_seconds   seconds per wrk run
#   wrk_conns     wrk connections
#   wrk_nanorun   array: the command line of the server on nanorun
#   wrk_asio      array: the command line of the server on boost::asio::io_context
#   wrk_strict    1: a server that does not exit 0 on SIGINT fails the script;
#                 0: it only gets a warning on stderr
# A server must print "listening on ADDRESS:PORT" on stdout once it accepts,
# and stop on SIGINT.

# One measurement: starts the server ("$@"), waits for its "listening on"
# line, runs wrk against GET / on 127.0.0.1, stops the server with SIGINT and
# checks how it ended, prints requests/s. Runs in a $(...) subshell, so a
# failure is an exit of that subshell, which ends the caller under set -e.
wrk_measure() {
  local out pid port report rps rc=0
  out=$(mktemp)
  "$@" >"$out" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    grep -q "listening on" "$out" && break
    sleep 0.05
  done
  port=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$out")
  if [[ -z $port ]]; then
    kill -KILL "$pid" 2>/dev/null || true
    cat "$out" >&2
    rm -f "$out"
    echo "$wrk_script: server did not start: $*" >&2
    exit 1
  fi
  report=$(wrk -t1 -c "$wrk_conns" -d "${wrk_seconds}s" "http://127.0.0.1:$port/")
  kill -INT "$pid"
  # Give it 10 s to stop by itself; a server that ignores SIGINT would
  # otherwise hang the script.
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    echo "$wrk_script: $* still running 10 s after SIGINT; killed" >&2
  fi
  wait "$pid" || rc=$?
  if ((rc != 0)); then
    echo "$wrk_script: $* exited with status $rc after SIGINT; its output:" >&2
    sed 's/^/  /' "$out" >&2
    if ((wrk_strict)); then
      rm -f "$out"
      exit 1
    fi
  fi
  rm -f "$out"
  # Every request is a GET / that must succeed: a server answering with
  # errors would look fast.
  if grep -q "Non-2xx" <<<"$report"; then
    echo "$wrk_script: $*: $(grep "Non-2xx" <<<"$report" | sed 's/^ *//')" >&2
    exit 1
  fi
  if grep -q "Socket errors" <<<"$report"; then
    echo "$wrk_script: warning, $*: $(grep "Socket errors" <<<"$report" | sed 's/^ *//')" >&2
  fi
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$report")
  [[ -n $rps ]] || { echo "$wrk_script: wrk printed no rate" >&2; exit 1; }
  echo "$rps"
}

# The median of the numbers on stdin, one a line.
wrk_median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }

# wrk_compare TITLE LABEL ROUNDS [TARGET]: ROUNDS rounds, each measuring both
# servers in turn (the order alternates between rounds, so neither always
# goes first); prints every round, then a table of the medians with
# nanorun's median as a ratio of io_context's, then, given TARGET, whether
# that ratio reaches it (informational: it never changes the exit status).
wrk_compare() {
  local title=$1 label=$2 rounds=$3 target=${4:-} r n a mn ma ratio
  local nano=() asio=()
  command -v wrk >/dev/null || { echo "$wrk_script: wrk is not installed (apt-get install wrk)" >&2; exit 2; }
  echo "# $title under wrk: $rounds rounds x ${wrk_seconds}s, $wrk_conns connections, $label, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
  for ((r = 1; r <= rounds; ++r)); do
    # `|| exit 1`: a failed measurement ends the script even where the
    # caller's set -e does not reach (e.g. `wrk_compare ... || ...`).
    if ((r % 2)); then
      n=$(wrk_measure "${wrk_nanorun[@]}") || exit 1
      a=$(wrk_measure "${wrk_asio[@]}") || exit 1
    else
      a=$(wrk_measure "${wrk_asio[@]}") || exit 1
      n=$(wrk_measure "${wrk_nanorun[@]}") || exit 1
    fi
    nano+=("$n") asio+=("$a")
    echo "round $r: nanorun $n req/s, io_context $a req/s"
  done
  echo "load at end $(cut -d' ' -f1-3 /proc/loadavg)"
  mn=$(printf '%s\n' "${nano[@]}" | wrk_median)
  ma=$(printf '%s\n' "${asio[@]}" | wrk_median)
  ratio=$(awk -v n="$mn" -v a="$ma" 'BEGIN {printf "%.2f", n / a}')
  echo
  echo "| server ($label) | requests/s, median of $rounds | vs io_context |"
  echo "|---|--:|--:|"
  printf '| io_context | %.0f | 1.00x |\n' "$ma"
  printf '| nanorun | %.0f | %sx |\n' "$mn" "$ratio"
  if [[ -n $target ]]; then
    echo
    echo "target: nanorun / io_context >= ${target}x: $(awk -v q="$ratio" -v t="$target" 'BEGIN {print (q >= t) ? "PASS" : "MISS"}') (informational)"
  fi
}
