# Header syntax test: every public header under include/nanorun (not detail/
# or impl/) compiles on its own, twice in a row (so it is self-contained and
# guarded), with the warning set nanorun itself builds with.
#
# One .cpp per header is generated at configure time into the build tree; they
# form the OBJECT library nanorun_header_syntax, left out of `all` so that the
# ctest test nanorun_header_syntax is what builds it.
file(GLOB_RECURSE _headers CONFIGURE_DEPENDS RELATIVE "${PROJECT_SOURCE_DIR}/include"
  "${PROJECT_SOURCE_DIR}/include/nanorun/*.hpp")
list(FILTER _headers EXCLUDE REGEX "^nanorun/(.*/)?(detail|impl)/")

set(_sources)
foreach(_header IN LISTS _headers)
  string(REGEX REPLACE "[/.]" "_" _name "${_header}")
  set(_cpp "${CMAKE_CURRENT_BINARY_DIR}/syntax/${_name}.cpp")
  # file(CONFIGURE) rewrites the file only when its content changes.
  file(CONFIGURE OUTPUT "${_cpp}" CONTENT "#include <${_header}>\n#include <${_header}>\n")
  list(APPEND _sources "${_cpp}")
endforeach()

add_library(nanorun_header_syntax OBJECT EXCLUDE_FROM_ALL ${_sources})
target_link_libraries(nanorun_header_syntax PRIVATE nanorun::nanorun nanorun_warnings)

add_test(NAME nanorun_header_syntax
  COMMAND ${CMAKE_COMMAND} --build "${PROJECT_BINARY_DIR}" --target nanorun_header_syntax --config $<CONFIG>)
# It runs the build tool in the build tree, as the install test does: never both at once.
set_tests_properties(nanorun_header_syntax PROPERTIES
  RESOURCE_LOCK nanorun_build_tree
  LABELS "packaging"
  TIMEOUT 900)
