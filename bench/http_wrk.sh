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
# The rounds, the checks and the table are in wrk_common.sh.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=wrk_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/wrk_common.sh"

build=${1:-build/release}
rounds=${2:-5}
wrk_seconds=${3:-5}
wrk_conns=${4:-100}
threads=${5:-2}
server="$build/example/http_server"
wrk_script=http_wrk.sh
wrk_strict=0

[[ -x $server ]] || { echo "http_wrk.sh: $server not built (-DNANORUN_BUILD_EXAMPLES=ON, target http_server)" >&2; exit 2; }

wrk_nanorun=("$server" --threads "$threads")
wrk_asio=("$server" --asio --threads "$threads")
wrk_compare http_server "Beast, $threads threads" "$rounds"
