# Migration tests: Asio programs in the style of Asio's and Beast's examples
# (programs/), built three times: as written against boost::asio, with the
# context type replaced by nanorun::io_context, and with Asio's tcp, udp and
# steady_timer replaced by nanorun's too (migrate.cmake does the replacing,
# as a user's search and replace would). Every build is checked the same way
# by a real client in another process: example_client, migration_client,
# curl, or its expected output. Included by test/CMakeLists.txt when the
# examples are built (the echo checks use example/example_client).
set(migration_dir ${CMAKE_CURRENT_LIST_DIR})
set(migration_programs coro_echo_server async_echo_server udp_echo_server strand_timers sync_echo_client
    beast_http_server)
file(GLOB migration_sources CONFIGURE_DEPENDS ${migration_dir}/programs/*.cpp)

foreach(level IN ITEMS asio context full)
  set(programs ${migration_programs})
  if(level STREQUAL "full")
    # beast::tcp_stream (basic_stream) is built on Asio's own
    # basic_stream_socket; a Beast program that uses it migrates its context
    # only, and its sockets run on the runtime through the Asio bridge. See
    # doc/migrating-from-io_context.md.
    list(REMOVE_ITEM programs beast_http_server)
  endif()
  set(out ${CMAKE_CURRENT_BINARY_DIR}/migration_${level}.cpp)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DLEVEL=${level} -DDIR=${migration_dir}/programs "-DPROGRAMS=${programs}" -DOUT=${out}
            -P ${migration_dir}/migrate.cmake
    DEPENDS ${migration_dir}/migrate.cmake ${migration_sources}
    COMMENT "Migrating the Asio programs (${level})"
    VERBATIM)
  add_executable(migration_${level} ${out})
  target_link_libraries(migration_${level} PRIVATE nanorun::nanorun nanorun_warnings)
  set_target_properties(migration_${level} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
endforeach()

add_executable(migration_client ${migration_dir}/migration_client.cpp)
target_link_libraries(migration_client PRIVATE Boost::headers Threads::Threads nanorun_warnings)
target_compile_features(migration_client PRIVATE cxx_std_20)

set(run ${migration_dir}/run_migration_test.sh)
find_program(NANORUN_MIGRATION_CURL curl)
foreach(level IN ITEMS asio context full)
  set(exe $<TARGET_FILE:migration_${level}>)
  add_test(NAME migration_${level}_coro_echo_server
           COMMAND bash ${run} echo ${exe} coro_echo_server $<TARGET_FILE:example_client>)
  add_test(NAME migration_${level}_async_echo_server
           COMMAND bash ${run} echo ${exe} async_echo_server $<TARGET_FILE:example_client>)
  add_test(NAME migration_${level}_udp_echo_server
           COMMAND bash ${run} udp ${exe} udp_echo_server $<TARGET_FILE:migration_client>)
  add_test(NAME migration_${level}_strand_timers
           COMMAND bash ${run} output ${exe} strand_timers ${migration_dir}/expected_strand_timers.txt)
  # The migrated blocking client against the original Asio echo server.
  add_test(NAME migration_${level}_sync_echo_client
           COMMAND bash ${run} client ${exe} sync_echo_client ${migration_dir}/expected_sync_echo_client.txt
                   $<TARGET_FILE:migration_asio> coro_echo_server)
  set(tests migration_${level}_coro_echo_server migration_${level}_async_echo_server
      migration_${level}_udp_echo_server migration_${level}_strand_timers migration_${level}_sync_echo_client)
  if(NANORUN_MIGRATION_CURL AND NOT level STREQUAL "full")
    add_test(NAME migration_${level}_beast_http_server
             COMMAND bash ${run} http ${exe} beast_http_server ${NANORUN_MIGRATION_CURL})
    list(APPEND tests migration_${level}_beast_http_server)
  endif()
  set_tests_properties(${tests} PROPERTIES LABELS "migration" TIMEOUT 120)
endforeach()
