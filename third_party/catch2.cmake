# Catch2 for the tests. Debian 12 ships v2 (apt-get install catch2), found with find_package.
find_package(Catch2 2 CONFIG QUIET)
if(NOT Catch2_FOUND)
  find_package(Catch2 3 CONFIG QUIET)
  if(Catch2_FOUND)
    message(FATAL_ERROR "weft's tests use Catch2 v2 (single header); found v3. Install v2 "
                        "(Debian: apt-get install catch2) or configure with -DWEFT_BUILD_TESTS=OFF")
  endif()
  message(FATAL_ERROR "Catch2 v2 not found: install it (Debian: apt-get install catch2, or run "
                      "third_party/install-deps.sh) or configure with -DWEFT_BUILD_TESTS=OFF")
endif()
include(Catch)
