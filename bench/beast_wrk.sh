#!/usr/bin/env bash
# bench/beast_wrk.sh: bench/beast_async_server.cpp (Boost.Beast's asynchronous
# HTTP server shape on Asio's own sockets) on boost::asio::io_context and on
# nanorun::io_context, the same code, measured with wrk in one run.
#
# Usage: bench/beast_wrk.sh [BUILD_DIR] [ROUNDS] [SECONDS] [CONNECTIONS] [SERVER_THREADS]
#   defaults: build/release 5 5 100 2
# Each round starts both servers in turn (the order alternates between rounds
# so neither always goes first), runs `wrk -t1 -c CONNECTIONS -d SECONDS`
# against GET / on 127.0.0.1, records requests/s and stops the server with
# SIGINT. Prints every round, the medians, nanorun's median as a ratio of
# io_context's, and the target (at least 1.1x). Exit status 1 if a server
# failed to start, answered a request with an error or did not exit 0 on
# SIGINT; the target never changes it. wrk itself takes one thread: on a
# 2-core machine it shares the cores with the server.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=wrk_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/wrk_common.sh"

build=${1:-build/release}
rounds=${2:-5}
wrk_seconds=${3:-5}
wrk_conns=${4:-100}
threads=${5:-2}
server="$build/bench/nanorun_beast_async_server"
wrk_script=beast_wrk.sh
wrk_strict=1

[[ -x $server ]] || { echo "beast_wrk.sh: $server not built (-DNANORUN_BUILD_BENCH=ON, target nanorun_beast_async_server)" >&2; exit 2; }

wrk_nanorun=("$server" --context nanorun --threads "$threads" --port 0)
wrk_asio=("$server" --context asio --threads "$threads" --port 0)
wrk_compare beast_async_server "Beast async, Asio sockets, $threads threads" "$rounds" 1.10
