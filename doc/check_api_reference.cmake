# The api_reference_complete test (doc/CMakeLists.txt): runs Doxygen on the
# public headers with every documentation warning enabled and fails, listing
# the warnings, if there is any. An undocumented class, member, typedef or
# function, a function with an undocumented parameter, or a malformed comment
# each produce one.
#
#   cmake -DDOXYGEN=... -DDOXYFILE=... -DOUTPUT_DIR=... -DWARN_LOG=... -P check_api_reference.cmake

foreach(var DOXYGEN DOXYFILE OUTPUT_DIR WARN_LOG)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "check_api_reference.cmake: -D${var}=... is required")
  endif()
endforeach()

# A fresh run: no stale log from an earlier run may pass or fail this one.
file(REMOVE_RECURSE "${OUTPUT_DIR}")
file(MAKE_DIRECTORY "${OUTPUT_DIR}")

execute_process(
  COMMAND "${DOXYGEN}" "${DOXYFILE}"
  RESULT_VARIABLE rc
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "doxygen failed (exit status ${rc}):\n${out}\n${err}")
endif()
if(NOT EXISTS "${WARN_LOG}")
  # Doxygen creates the log even when there is nothing to report: a missing
  # one means it did not run as configured, which must not count as a pass.
  message(FATAL_ERROR "doxygen wrote no warning log at ${WARN_LOG}:\n${out}\n${err}")
endif()
if(NOT EXISTS "${OUTPUT_DIR}/html/index.html")
  message(FATAL_ERROR "doxygen rendered nothing into ${OUTPUT_DIR}/html:\n${out}\n${err}")
endif()

file(STRINGS "${WARN_LOG}" lines)
set(warnings "")
set(count 0)
foreach(line IN LISTS lines)
  if(line MATCHES "^[ \t]*$")
    continue()
  endif()
  string(APPEND warnings "  ${line}\n")
  if(line MATCHES "warning:")
    math(EXPR count "${count} + 1")
  endif()
endforeach()

if(NOT warnings STREQUAL "")
  message(FATAL_ERROR
    "API reference incomplete: ${count} Doxygen warning(s) "
    "(undocumented entities, parameters or return values, or malformed comments).\n"
    "Document each entry below in its header (see doc/api-reference.md):\n${warnings}")
endif()
message(STATUS "API reference complete: no Doxygen warnings (${WARN_LOG})")
