# Cross-builds nanorun for 64-bit Windows with Debian's mingw-w64 (posix
# threads: the -win32 variant has no std::thread) and runs the test
# executables under Wine through CTest:
#   cmake -S . -B build/win -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-wine.cmake
# Executables are linked statically: a dynamically linked one needs
# libstdc++-6.dll and friends on Wine's path, and without them exits with
# rc 53 and no message under WINEDEBUG=-all.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc-posix)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++-posix)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
# add_test(COMMAND tgt) then runs `wine-run.sh tgt.exe ...`.
set(CMAKE_CROSSCOMPILING_EMULATOR ${CMAKE_CURRENT_LIST_DIR}/wine-run.sh)
# The host's Boost headers, and nothing else from /usr/include (which would
# bring glibc's headers in): see nanorun's CMakeLists.txt.
set(NANORUN_HOST_BOOST_INCLUDE /usr/include/boost CACHE PATH "Boost headers used by the cross build")
