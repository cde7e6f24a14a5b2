# Installs nanorun as a CMake package, so that a consumer can write
#   find_package(nanorun CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE nanorun::nanorun)
# Layout under the prefix (GNUInstallDirs):
#   include/nanorun/**                        public headers
#   lib/libnanorun.a                          the library
#   lib/cmake/nanorun/nanorunTargets*.cmake   exported target nanorun::nanorun
#   lib/cmake/nanorun/nanorunConfig.cmake     finds Boost and Threads, then the targets
#   lib/cmake/nanorun/nanorunConfigVersion.cmake  SameMajorVersion
include(CMakePackageConfigHelpers)

set(NANORUN_CONFIG_INSTALL_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/nanorun"
    CACHE STRING "Where nanorunConfig.cmake is installed, relative to the prefix")

# Everything under include/nanorun, detail/ and impl/ included: the public
# templates need them.
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/nanorun"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
        FILES_MATCHING PATTERN "*.hpp")

# The include directory travels with the target (its INSTALL_INTERFACE).
install(TARGETS nanorun EXPORT nanorunTargets
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")

install(EXPORT nanorunTargets
        NAMESPACE nanorun::
        DESTINATION "${NANORUN_CONFIG_INSTALL_DIR}")

configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/nanorunConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/nanorunConfig.cmake"
  INSTALL_DESTINATION "${NANORUN_CONFIG_INSTALL_DIR}")

# Not ARCH_INDEPENDENT: the package holds a compiled library.
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/nanorunConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMajorVersion)

install(FILES
          "${PROJECT_BINARY_DIR}/nanorunConfig.cmake"
          "${PROJECT_BINARY_DIR}/nanorunConfigVersion.cmake"
        DESTINATION "${NANORUN_CONFIG_INSTALL_DIR}")

# nanorun.pc for pkg-config users: `pkg-config --cflags --libs nanorun`.
# The prefix is computed from the .pc file's own location (pcfiledir), so an
# install moved with `cmake --install --prefix` stays correct.
file(RELATIVE_PATH _nanorun_pc_up "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
string(REGEX REPLACE "/$" "" _nanorun_pc_up "${_nanorun_pc_up}")
set(NANORUN_PC_PREFIX "\${pcfiledir}/${_nanorun_pc_up}")
set(NANORUN_PC_CFLAGS "-pthread")
set(NANORUN_PC_LIBS "-pthread")
if(WIN32)
  set(NANORUN_PC_LIBS "${NANORUN_PC_LIBS} -lws2_32 -lmswsock")
endif()
configure_file("${PROJECT_SOURCE_DIR}/cmake/nanorun.pc.in" "${PROJECT_BINARY_DIR}/nanorun.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/nanorun.pc" DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
