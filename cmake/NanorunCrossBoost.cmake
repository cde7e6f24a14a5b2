# Boost for a cross build (cmake/mingw-w64-wine.cmake): Asio, Boost.System and
# Boost.Test are used header-only, from the build host's Boost headers. Not
# through find_package(Boost): the host's BoostConfig would add /usr/include,
# whose glibc headers break a mingw build. Only the boost/ directory is
# exposed, through a symlink in the build tree.
set(NANORUN_HOST_BOOST_INCLUDE /usr/include/boost CACHE PATH "Boost headers used by the cross build")
if(NOT EXISTS "${NANORUN_HOST_BOOST_INCLUDE}/asio.hpp")
  message(FATAL_ERROR "nanorun: no Boost headers at ${NANORUN_HOST_BOOST_INCLUDE} (Debian: libboost1.81-dev)")
endif()
set(_boost_only "${CMAKE_BINARY_DIR}/boost-only-include")
file(MAKE_DIRECTORY "${_boost_only}")
file(CREATE_LINK "${NANORUN_HOST_BOOST_INCLUDE}" "${_boost_only}/boost" SYMBOLIC)
add_library(Boost::headers INTERFACE IMPORTED)
set_target_properties(Boost::headers PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_boost_only}")
# Boost.Test header-only: test/test_main.cpp includes the runner
# (boost/test/included/unit_test.hpp) when BOOST_TEST_DYN_LINK is not set.
add_library(Boost::unit_test_framework INTERFACE IMPORTED)
set_target_properties(Boost::unit_test_framework PROPERTIES INTERFACE_LINK_LIBRARIES Boost::headers)
set(Boost_FOUND TRUE)
