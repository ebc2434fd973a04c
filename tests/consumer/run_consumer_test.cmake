# The consumer tests (cmake -P): install a weft build tree into a prefix inside that build
# tree, build tests/consumer against it, run it, and check that
#   - weft was found in that prefix, not elsewhere;
#   - the program prints the backend the build tree was configured with;
#   - every sanitizer the library was built with (WEFT_SANITIZE) reached the consumer through
#     what the install exports: a deliberate error of each kind must be reported by it.
# MODE says how the consumer is built:
#   find_package  CMake, tests/consumer/CMakeLists.txt: find_package(weft CONFIG), weft::weft
#   pkg-config    make, tests/consumer/Makefile: pkg-config --cflags --libs weft
#
# Variables (-D): MODE, WEFT_BINARY_DIR, CONSUMER_SOURCE_DIR, WORK_DIR, GENERATOR,
# MAKE_PROGRAM, CXX_COMPILER, CXX_COMPILER_LAUNCHER (may be empty), BUILD_TYPE, LIBDIR (the
# install's library directory, CMAKE_INSTALL_LIBDIR), EXPECTED_BACKEND, SANITIZERS
# (WEFT_SANITIZE's value, comma separated, may be empty).
cmake_minimum_required(VERSION 3.20)

foreach(var MODE WEFT_BINARY_DIR CONSUMER_SOURCE_DIR WORK_DIR GENERATOR CXX_COMPILER LIBDIR
            EXPECTED_BACKEND)
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

# Whether `found` (a directory weft was taken from) lies inside the prefix just installed:
# weft must come from there, not from a system-wide install.
function(require_in_prefix found)
  file(REAL_PATH "${prefix}" real_prefix)
  file(REAL_PATH "${found}" real_found)
  string(FIND "${real_found}/" "${real_prefix}/" at)
  if(NOT at EQUAL 0)
    message(FATAL_ERROR "consumer test: weft was found in '${found}', not in '${prefix}'")
  endif()
endfunction()

if(MODE STREQUAL "find_package")
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
  file(STRINGS "${build}/CMakeCache.txt" weft_dir_line REGEX "^weft_DIR:")
  string(REGEX REPLACE "^[^=]*=" "" weft_dir "${weft_dir_line}")
  require_in_prefix("${weft_dir}")
  run("build" "${CMAKE_COMMAND}" --build "${build}" --config "${BUILD_TYPE}")
elseif(MODE STREQUAL "pkg-config")
  find_program(make_program NAMES make gmake REQUIRED)
  find_program(pkg_config pkg-config REQUIRED)
  set(ENV{PKG_CONFIG_PATH} "${prefix}/${LIBDIR}/pkgconfig")
  run("pkg-config" "${pkg_config}" --variable=libdir weft)
  string(STRIP "${run_output}" weft_dir)
  require_in_prefix("${weft_dir}")
  file(MAKE_DIRECTORY "${build}")
  run("build" "${make_program}" -f "${CONSUMER_SOURCE_DIR}/Makefile" "BUILD_DIR=${build}"
      "CXX=${CXX_COMPILER}")
else()
  message(FATAL_ERROR "run_consumer_test.cmake: MODE must be find_package or pkg-config, not '${MODE}'")
endif()

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
