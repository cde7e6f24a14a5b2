# User and maintainer options. All carry the NANORUN_ prefix.
include(GNUInstallDirs)

option(NANORUN_BUILD_TESTS "Build the test suite" ${PROJECT_IS_TOP_LEVEL})
option(NANORUN_BUILD_EXAMPLES "Build the examples" ${PROJECT_IS_TOP_LEVEL})
option(NANORUN_BUILD_BENCH "Build the side-by-side benchmark" ${PROJECT_IS_TOP_LEVEL})
option(NANORUN_INSTALL "Generate the install target" ON)
# The API reference (doc/CMakeLists.txt): the nanorun_api_docs target renders it
# with Doxygen, and with tests on, ctest checks that no public entity lacks an
# entry. ON requires doxygen; the default builds it only if doxygen is found.
set(NANORUN_BUILD_DOCS AUTO CACHE STRING "Build the API reference: ON, OFF or AUTO (if doxygen is found)")
option(NANORUN_STRESS "Shrink queues and work batches to hit wrap-around and overflow paths" OFF)
option(NANORUN_FAULTS "Compile the fault injection seam into the library's OS calls (a test build; see src/sys/fault.hpp)" OFF)
option(NANORUN_PERTURB "Compile schedule perturbation points into the library (a test build; see src/sys/perturb.hpp)" OFF)
set(NANORUN_PERTURB_BUDGET 120 CACHE STRING "Seconds the perturbation test (ctest label 'perturbation') runs seeds for")
set(NANORUN_SANITIZE "" CACHE STRING "Sanitizers for the whole build: '', 'address,undefined' or 'thread'")

if(NANORUN_SANITIZE)
  add_compile_options(-fsanitize=${NANORUN_SANITIZE} -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=${NANORUN_SANITIZE})
  if(NANORUN_SANITIZE MATCHES "thread" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # Asio uses std::atomic_thread_fence, which g++ warns TSan cannot model.
    # nanorun's own code avoids fences under TSan (src/executor/park.cpp).
    add_compile_options(-Wno-tsan)
  endif()
  if(NANORUN_SANITIZE MATCHES "undefined")
    add_compile_options(-fno-sanitize-recover=undefined)
  endif()
endif()
