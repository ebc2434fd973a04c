# The consumer_find_package test (cmake -P): installs a weft build tree into a prefix inside
# that build tree, configures tests/consumer against it with find_package(weft CONFIG),
# builds and runs it, and checks that
#   - weft was found in that prefix, not elsewhere;
#   - the program prints the backend the build tree was configured with;
#   - every sanitizer the library was built with (WEFT_SANITIZE) reached the consumer through
#     the exported target: a deliberate error of each kind must be reported by it.
#
# Variables (-D): WEFT_BINARY_DIR, CONSUMER_SOURCE_DIR, WORK_DIR, GENERATOR, MAKE_PROGRAM,
# CXX_COMPILER, CXX_COMPILER_LAUNCHER (may be empty), BUILD_TYPE, EXPECTED_BACKEND,
# SANITIZERS (WEFT_SANITIZE's value, comma separated, may be empty).
cmake_minimum_required(VERSION 3.20)

foreach(var WEFT_BINARY_DIR CONSUMER_SOURCE_DIR WORK_DIR GENERATOR CXX_COMPILER EXPECTED_BACKEND)
  if("${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer_test.cmake: -D${var}=... is required")
  endif()
endforeach()
if("${BUILD_TYPE}" STREQUAL "")
  set(BUILD_TYPE Release)
endif()

set(prefix "${WORK_DIR}/prefix")
set(build "${WORK_DIR}/build")
file(REMOVE_RECURSE "${WORK_DIR}")

# run(<step> <command...>): runs the command; stops the test with its output if it fails.
# Leaves the combined output in `run_output` and the exit status in `run_result`.
function(run step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "consumer test: ${step} failed (${result}):\n  ${ARGN}\n${out}")
  endif()
  set(run_output "${out}" PARENT_SCOPE)
endfunction()

run("install" "${CMAKE_COMMAND}" --install "${WEFT_BINARY_DIR}" --prefix "${prefix}"
    --config "${BUILD_TYPE}")

set(configure_args
  -S "${CONSUMER_SOURCE_DIR}" -B "${build}" -G "${GENERATOR}"
  "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}"
  "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
  "-DCMAKE_PREFIX_PATH=${prefix}"
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
if(MAKE_PROGRAM)
  list(APPEND configure_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(CXX_COMPILER_LAUNCHER)
  list(APPEND configure_args "-DCMAKE_CXX_COMPILER_LAUNCHER=${CXX_COMPILER_LAUNCHER}")
endif()
run("configure" "${CMAKE_COMMAND}" ${configure_args})

# weft must come from the prefix just installed, not from a system-wide install.
file(STRINGS "${build}/CMakeCache.txt" weft_dir_line REGEX "^weft_DIR:")
string(REGEX REPLACE "^[^=]*=" "" weft_dir "${weft_dir_line}")
file(REAL_PATH "${prefix}" real_prefix)
file(REAL_PATH "${weft_dir}" real_weft_dir)
string(FIND "${real_weft_dir}/" "${real_prefix}/" at)
if(NOT at EQUAL 0)
  message(FATAL_ERROR "consumer test: weft was found in '${weft_dir}', not in '${prefix}'")
endif()

run("build" "${CMAKE_COMMAND}" --build "${build}" --config "${BUILD_TYPE}")

find_program(consumer weft_consumer PATHS "${build}" "${build}/${BUILD_TYPE}" NO_DEFAULT_PATH)
if(NOT consumer)
  message(FATAL_ERROR "consumer test: no weft_consumer executable under ${build}")
endif()

run("run" "${consumer}")
if(NOT run_output MATCHES "backend=([a-z]+)")
  message(FATAL_ERROR "consumer test: no 'backend=' line in the output:\n${run_output}")
endif()
if(NOT CMAKE_MATCH_1 STREQUAL EXPECTED_BACKEND)
  message(FATAL_ERROR "consumer test: the consumer reports backend '${CMAKE_MATCH_1}', "
                      "the build tree was configured with '${EXPECTED_BACKEND}'")
endif()
message(STATUS "consumer: backend=${CMAKE_MATCH_1} (weft from ${weft_dir})")

# Each sanitizer of the library must be active in the consumer, which only links weft::weft.
set(report_address "ERROR: AddressSanitizer")
set(report_undefined "runtime error:")
set(report_thread "WARNING: ThreadSanitizer: data race")
string(REPLACE "," ";" sanitizers "${SANITIZERS}")
list(TRANSFORM sanitizers STRIP)
list(REMOVE_ITEM sanitizers "")
foreach(name IN LISTS sanitizers)
  execute_process(COMMAND "${consumer}" probe "${name}"
                  RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE out)
  string(FIND "${out}" "${report_${name}}" found)
  if(result EQUAL 0 OR found EQUAL -1)
    message(FATAL_ERROR "consumer test: the consumer does not run with -fsanitize=${name} "
                        "(exit ${result}, expected a report with '${report_${name}}'); the "
                        "exported weft::weft target must carry the sanitizer flags:\n${out}")
  endif()
  message(STATUS "consumer: ${name} sanitizer inherited from weft::weft")
endforeach()
