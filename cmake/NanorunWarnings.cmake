# nanorun_warnings: the warning set every nanorun target builds with.
add_library(nanorun_warnings INTERFACE)
target_compile_options(nanorun_warnings INTERFACE -Wall -Wextra -Werror -Wshadow)
# g++ 12 reports -Wmaybe-uninitialized inside Asio's parallel_group (its
# result storage is a union filled on completion) whenever the optimiser
# inlines a completion; the warning is a false positive there, and its
# diagnostics run to pages. clang (also in CI) keeps checking our own code for
# uninitialised reads.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(nanorun_warnings INTERFACE -Wno-maybe-uninitialized)
endif()
