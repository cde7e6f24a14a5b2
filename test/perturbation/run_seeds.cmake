# run_seeds.cmake: the schedule perturbation driver (see src/sys/perturb.hpp).
#   cmake -D EXE=<nanorun_stress> -D BUDGET=<seconds> -D TESTS=<suite>,<suite>...
#         [-D SEED=<n>] [-D EINTR=<per mille>] -P run_seeds.cmake
# Runs one stress suite of TESTS per random seed, with NANORUN_PERTURB_SEED
# set, taking the suites in turn from a random one, until BUDGET seconds have
# passed (at least one seed). A whole pass of the suites takes minutes under
# perturbation; one suite per seed tries more seeds in the same budget. Each
# seed's line gives what its points did. A failing seed stops the run and
# prints the command that replays it. With SEED, runs that seed on every
# suite of TESTS at once. With EINTR (a fault build, src/sys/fault.hpp), that
# share of the library's transfers, accepts and wake-up writes is also
# interrupted, which must change nothing.
cmake_minimum_required(VERSION 3.25)

foreach(var EXE BUDGET TESTS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_seeds.cmake: -D ${var}=... is required")
  endif()
endforeach()

set(fault_env "")
if(DEFINED EINTR AND NOT EINTR STREQUAL "0")
  set(fault_env "NANORUN_FAULTS_EINTR=${EINTR}")
endif()
string(TIMESTAMP start "%s" UTC)
string(REPLACE "," ";" suites "${TESTS}")
list(LENGTH suites suite_count)
string(RANDOM LENGTH 2 ALPHABET 0123456789 turn)
math(EXPR turn "${turn} % ${suite_count}")
set(seeds 0)
set(points_total 0)
while(TRUE)
  if(DEFINED SEED)
    set(seed ${SEED})
    set(run "${TESTS}")
  else()
    list(GET suites ${turn} run)
    math(EXPR turn "(${turn} + 1) % ${suite_count}")
    # Nine decimal digits, never starting with 0 (0 would turn the points off).
    string(RANDOM LENGTH 1 ALPHABET 123456789 first)
    string(RANDOM LENGTH 8 ALPHABET 0123456789 rest)
    set(seed "${first}${rest}")
  endif()
  string(TIMESTAMP t0 "%s" UTC)
  execute_process(
    COMMAND ${CMAKE_COMMAND} -E env NANORUN_PERTURB_SEED=${seed} ${fault_env}
            ${EXE} --run_test=${run} --log_level=warning --report_level=short
    RESULT_VARIABLE status
    OUTPUT_VARIABLE out
    ERROR_VARIABLE out
    TIMEOUT 900)
  string(TIMESTAMP t1 "%s" UTC)
  math(EXPR took "${t1} - ${t0}")
  string(REGEX MATCH "perturbation: seed [0-9]+, ([0-9]+) points[^\n]*" line "${out}")
  set(points "${CMAKE_MATCH_1}")
  if(NOT status EQUAL 0)
    message("${out}")
    message(FATAL_ERROR
      "perturbation: seed ${seed} FAILED (${status}) after ${took} s.\n"
      "Replay: NANORUN_PERTURB_SEED=${seed} ${fault_env} ${EXE} --run_test=${run}")
  endif()
  if(NOT line)
    # The points must have been reached: a build without them (or a seed the
    # library did not read) would pass without perturbing anything.
    message("${out}")
    message(FATAL_ERROR "perturbation: seed ${seed}: the library reported no perturbation points")
  endif()
  math(EXPR seeds "${seeds} + 1")
  math(EXPR points_total "${points_total} + ${points}")
  string(REGEX REPLACE "^perturbation: seed [0-9]+, " "" what "${line}")
  if(out MATCHES "faults: ([0-9]+) injected")
    string(APPEND what ", ${CMAKE_MATCH_1} EINTR faults")
  endif()
  message("perturbation: seed ${seed} passed ${run} in ${took} s (${what})")
  math(EXPR elapsed "${t1} - ${start}")
  if(DEFINED SEED OR elapsed GREATER_EQUAL BUDGET)
    break()
  endif()
endwhile()
message("perturbation: ${seeds} seed(s) passed, ${points_total} points in all, in ${elapsed} s")
