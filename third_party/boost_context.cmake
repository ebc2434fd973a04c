# Boost.Context for the `boost` backend (Debian: libboost-context-dev).
# find_package first, in CONFIG mode (Boost >= 1.70 ships BoostConfig.cmake).
# There is no fallback: asking for the boost backend without Boost.Context is an error.
find_package(Boost 1.66 CONFIG COMPONENTS context)
if(NOT Boost_FOUND OR NOT TARGET Boost::context)
  message(FATAL_ERROR "WEFT_CONTEXT_BACKEND=boost needs Boost.Context, which was not found. "
                      "Install it (Debian: apt-get install libboost-context-dev, or run "
                      "third_party/install-deps.sh) or choose WEFT_CONTEXT_BACKEND=asm.")
endif()
