# Install test: install the built tree into a prefix under the build directory,
# then build and run a consumer project against it (find_package(nanorun)).
#
# This file has two roles:
# - included by test/CMakeLists.txt, it registers the two tests below;
# - run with `cmake -P` by the first test, it performs the install (see the end).
#
#   nanorun_install           build target nanorun, install into a fresh prefix
#   nanorun_install_consumer  ctest --build-and-test on test/install/consumer
#   nanorun_install_pkgconfig the consumer's main.cpp built with pkg-config's flags
# The second requires the first through the fixture nanorun_installed.

if(NOT CMAKE_SCRIPT_MODE_FILE)
  if(NOT NANORUN_INSTALL)
    return() # no install rules to test
  endif()

  set(_prefix "${CMAKE_CURRENT_BINARY_DIR}/install/prefix")
  set(_consumer_config "$<IF:$<BOOL:$<CONFIG>>,$<CONFIG>,Release>")

  add_test(NAME nanorun_install
    COMMAND ${CMAKE_COMMAND}
      -D "BINARY_DIR=${PROJECT_BINARY_DIR}"
      -D "PREFIX=${_prefix}"
      -D "CONSUMER_BINARY_DIR=${CMAKE_CURRENT_BINARY_DIR}/install/consumer"
      -D "CONFIG=$<CONFIG>"
      -P "${CMAKE_CURRENT_LIST_FILE}")
  # It runs the build tool in the build tree, as the header syntax test does:
  # never both at once.
  set_tests_properties(nanorun_install PROPERTIES
    FIXTURES_SETUP nanorun_installed
    RESOURCE_LOCK nanorun_build_tree
    LABELS "packaging"
    TIMEOUT 600)

  # The consumer is built with this build's compiler and flags (a sanitizer
  # build's library needs the sanitizer runtime at link time too).
  set(_consumer_flags "${CMAKE_CXX_FLAGS}")
  if(NANORUN_SANITIZE)
    string(APPEND _consumer_flags " -fsanitize=${NANORUN_SANITIZE}")
  endif()

  add_test(NAME nanorun_install_consumer
    COMMAND ${CMAKE_CTEST_COMMAND}
      --build-and-test
        "${CMAKE_CURRENT_SOURCE_DIR}/install/consumer"
        "${CMAKE_CURRENT_BINARY_DIR}/install/consumer"
      --build-generator "${CMAKE_GENERATOR}"
      --build-makeprogram "${CMAKE_MAKE_PROGRAM}"
      --build-project nanorun_consumer
      --build-config "${_consumer_config}"
      --build-options
        "-DCMAKE_PREFIX_PATH=${_prefix}"
        "-DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}"
        "-DCMAKE_CXX_FLAGS=${_consumer_flags}"
        "-DCMAKE_BUILD_TYPE=${_consumer_config}"
        "-DNANORUN_EXPECTED_VERSION=${PROJECT_VERSION}"
      --test-command nanorun_consumer)
  set_tests_properties(nanorun_install_consumer PROPERTIES
    FIXTURES_REQUIRED nanorun_installed
    LABELS "packaging"
    TIMEOUT 600)

  # The same consumer built by hand with pkg-config's flags (nanorun.pc).
  add_test(NAME nanorun_install_pkgconfig
    COMMAND ${CMAKE_COMMAND}
      -D "PREFIX=${_prefix}"
      -D "LIBDIR=${CMAKE_INSTALL_LIBDIR}"
      -D "CXX=${CMAKE_CXX_COMPILER}"
      -D "CXX_FLAGS=${_consumer_flags}"
      -D "SOURCE=${CMAKE_CURRENT_SOURCE_DIR}/install/consumer/main.cpp"
      -D "OUT=${CMAKE_CURRENT_BINARY_DIR}/install/pkgconfig_consumer"
      -P "${CMAKE_CURRENT_SOURCE_DIR}/install/pkgconfig.cmake")
  set_tests_properties(nanorun_install_pkgconfig PROPERTIES
    FIXTURES_REQUIRED nanorun_installed
    LABELS "packaging"
    TIMEOUT 600)
  return()
endif()

# Script mode: called as above with BINARY_DIR, PREFIX, CONSUMER_BINARY_DIR and CONFIG.
function(nanorun_run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    list(JOIN ARGN " " cmd)
    message(FATAL_ERROR "failed (${rc}): ${cmd}")
  endif()
endfunction()

set(config_args)
if(CONFIG)
  set(config_args --config "${CONFIG}")
endif()
# Start from an empty prefix and consumer build, so that a file no longer
# installed (or a cached find_package result) cannot make the consumer pass.
file(REMOVE_RECURSE "${PREFIX}" "${CONSUMER_BINARY_DIR}")
nanorun_run(${CMAKE_COMMAND} --build "${BINARY_DIR}" --target nanorun ${config_args})
nanorun_run(${CMAKE_COMMAND} --install "${BINARY_DIR}" --prefix "${PREFIX}" ${config_args})
message(STATUS "nanorun installed into ${PREFIX}")
