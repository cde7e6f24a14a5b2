# check_layers.cmake: enforces nanorun's layering. Run with
#   cmake -D NANORUN_ROOT=<tree with src/ and include/> -P check_layers.cmake
# Prints each violation as file:line, then "layering: OK ..." or
# "layering: FAILED, N violation(s) ..." (and exits non-zero). The rules (see
# doc/architecture.md):
#  (a) The folders under src/ are layers, in this order:
#        runtime -> executor -> reactor -> time -> task        (then sys)
#      A file in a layer includes (#include "layer/...") only its own layer or
#      layers to its right. src/sys/ may be included from any layer and itself
#      includes only sys/. Any other folder under src/ is an error: add it to
#      `layers` below first.
#  (b) Only src/sys/<os>/ includes OS headers or makes raw OS calls (not even
#      src/sys/ itself, which holds the OS-neutral contract).
#  (c) Public headers (include/) include no OS headers and nothing from src/.
# Comment lines are not searched for raw OS calls.
cmake_minimum_required(VERSION 3.25)

if(NOT NANORUN_ROOT)
  message(FATAL_ERROR "usage: cmake -D NANORUN_ROOT=<dir> -P check_layers.cmake")
endif()

set(layers runtime executor reactor time task sys)

# OS headers (lower-cased; also caught between quotes when they end in .h).
string(JOIN "" os_header_re
  "^(sys/.*|unistd\\.h|fcntl\\.h|poll\\.h|netdb\\.h|ifaddrs\\.h|netinet/.*|arpa/.*|linux/.*|asm/.*"
  "|winsock2?\\.h|ws2tcpip\\.h|windows\\.h|mswsock\\.h|winternl\\.h|ntstatus\\.h|ioapiset\\.h|afunix\\.h)$")

# Raw OS calls: calls at global scope (::close(, but not asio::read( or
# s.close() and syscall().
string(JOIN "" raw_call_re
  "(^|[^A-Za-z0-9_:>.])("
  "::(epoll_[a-z_]+|eventfd[a-z_]*|read|write|close|readv|writev|pipe2?|ioctl|fcntl"
  "|socket|bind|listen|accept4?|connect|recv[a-z]*|send[a-z]*|shutdown|futex|WSA[A-Za-z]+"
  "|CreateIoCompletionPort|GetQueuedCompletionStatus[A-Za-z]*|PostQueuedCompletionStatus|NtDeviceIoControlFile)"
  "|(::)?syscall)[ \t]*\\(")

set(violations 0)

# Reads a file as a list of lines. ';', '[' and ']' would confuse CMake's
# list handling and none of the patterns needs them, so they are blanked.
function(read_lines file out)
  file(READ "${file}" text)
  string(REGEX REPLACE "[][;]" " " text "${text}")
  string(REPLACE "\n" ";" text "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

# Checks one file. `layer` is its folder under src/, or "" for include/;
# `os_allowed` is true in src/sys/<os>/.
function(check_file file layer os_allowed)
  file(RELATIVE_PATH rel "${NANORUN_ROOT}" "${file}")
  list(FIND layers "${layer}" own)
  read_lines("${file}" lines)
  set(n 0)
  set(found ${violations})
  foreach(line IN LISTS lines)
    math(EXPR n "${n} + 1")
    if(line MATCHES "^[ \t]*#[ \t]*include[ \t]*([<\"])([^>\"]+)[>\"]")
      set(kind "${CMAKE_MATCH_1}")
      set(path "${CMAKE_MATCH_2}")
      string(REGEX MATCH "^[^/]+" first "${path}")
      list(FIND layers "${first}" target)
      string(TOLOWER "${path}" lower) # <Windows.h> is <windows.h>
      set(msg "")
      if(lower MATCHES "${os_header_re}" AND (kind STREQUAL "<" OR lower MATCHES "\\.h$"))
        if(NOT os_allowed)
          set(msg "OS header ${path} outside src/sys/<os>/")
        endif()
      elseif(kind STREQUAL "<")
        # a standard, Boost or nanorun header
      elseif(path MATCHES "\\.\\./|(^|/)src/")
        set(msg "\"${path}\" climbs out of its folder: include \"<layer>/...\" instead")
      elseif(NOT path MATCHES "/" OR target EQUAL -1)
        # a file in the same folder, or not a layer
      elseif(layer STREQUAL "")
        set(msg "public header includes \"${path}\" from src/")
      elseif(layer STREQUAL "sys" AND NOT first STREQUAL "sys")
        set(msg "src/sys/ includes \"${path}\" from the ${first} layer")
      elseif(target LESS own)
        set(msg "the ${layer} layer includes \"${path}\" from the ${first} layer above it")
      endif()
      if(msg)
        message("${rel}:${n}: ${msg}")
        math(EXPR found "${found} + 1")
      endif()
    elseif(NOT os_allowed AND NOT line MATCHES "^[ \t]*(//|/\\*|\\*)" AND line MATCHES "${raw_call_re}")
      string(REGEX MATCH "(::)?[A-Za-z_0-9]+" call "${CMAKE_MATCH_0}")
      message("${rel}:${n}: raw OS call ${call}() outside src/sys/<os>/")
      math(EXPR found "${found} + 1")
    endif()
  endforeach()
  set(violations ${found} PARENT_SCOPE)
endfunction()

set(exts cpp hpp h ipp inl)
list(TRANSFORM exts PREPEND "${NANORUN_ROOT}/src/*." OUTPUT_VARIABLE src_globs)
list(TRANSFORM exts PREPEND "${NANORUN_ROOT}/include/*." OUTPUT_VARIABLE include_globs)
file(GLOB_RECURSE src_files ${src_globs})
file(GLOB_RECURSE include_files ${include_globs})

foreach(f IN LISTS src_files)
  file(RELATIVE_PATH rel "${NANORUN_ROOT}/src" "${f}")
  string(REGEX MATCH "^[^/]+" layer "${rel}")
  if(rel STREQUAL layer)
    message("src/${rel}: a file directly under src/: put it in a layer folder")
    math(EXPR violations "${violations} + 1")
  elseif(NOT layer IN_LIST layers)
    message("src/${rel}: src/${layer}/ is not a layer: add it to `layers` in check_layers.cmake")
    math(EXPR violations "${violations} + 1")
  else()
    string(REGEX MATCH "^sys/[^/]+/" os_allowed "${rel}")
    check_file("${f}" "${layer}" "${os_allowed}")
  endif()
endforeach()

foreach(f IN LISTS include_files)
  check_file("${f}" "" "")
endforeach()

list(LENGTH src_files n_src)
list(LENGTH include_files n_inc)
if(violations GREATER 0)
  message(FATAL_ERROR "layering: FAILED, ${violations} violation(s) in ${n_src} src/ and ${n_inc} include/ files")
endif()
message("layering: OK, ${n_src} src/ and ${n_inc} include/ files checked")
