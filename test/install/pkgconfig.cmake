# nanorun_install_pkgconfig: build and run the consumer's main.cpp against the
# installed tree with nothing but the compiler and `pkg-config --cflags --libs
# nanorun`, as a Makefile user would. Run with cmake -P, given PREFIX, LIBDIR, CXX,
# CXX_FLAGS (this build's, for sanitizer runtimes), SOURCE, OUT.
find_program(PKG_CONFIG NAMES pkg-config pkgconf REQUIRED)
set(ENV{PKG_CONFIG_PATH} "${PREFIX}/${LIBDIR}/pkgconfig")
execute_process(COMMAND ${PKG_CONFIG} --cflags --libs nanorun
                OUTPUT_VARIABLE flags OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config found no nanorun.pc under ${PREFIX}/${LIBDIR}/pkgconfig")
endif()
message(STATUS "pkg-config --cflags --libs nanorun: ${flags}")
separate_arguments(flags UNIX_COMMAND "${flags}")
separate_arguments(extra UNIX_COMMAND "${CXX_FLAGS}")
execute_process(COMMAND ${CXX} ${extra} ${SOURCE} -o ${OUT} ${flags} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "compiling ${SOURCE} with the flags from nanorun.pc failed")
endif()
execute_process(COMMAND ${OUT} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${OUT} exited with ${rc}")
endif()
