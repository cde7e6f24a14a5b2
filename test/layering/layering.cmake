# Layering tests (rules in check_layers.cmake):
#   nanorun_layering            the real tree must pass
#   nanorun_layering_selftest   a tree that breaks every rule must fail with
#                               exactly its 14 violations, so the check can't
#                               silently pass (or start flagging allowed code)
set(_checker "${CMAKE_CURRENT_SOURCE_DIR}/layering/check_layers.cmake")

add_test(NAME nanorun_layering
  COMMAND ${CMAKE_COMMAND} -D "NANORUN_ROOT=${PROJECT_SOURCE_DIR}" -P "${_checker}")

# The checker exits non-zero here; the expected summary line is what counts.
add_test(NAME nanorun_layering_selftest
  COMMAND ${CMAKE_COMMAND} -D "NANORUN_ROOT=${CMAKE_CURRENT_SOURCE_DIR}/layering/bad_fixture" -P "${_checker}")
set_tests_properties(nanorun_layering_selftest PROPERTIES
  PASS_REGULAR_EXPRESSION "layering: FAILED, 14 violation\\(s\\)")

set_tests_properties(nanorun_layering nanorun_layering_selftest PROPERTIES LABELS "layering" TIMEOUT 60)
