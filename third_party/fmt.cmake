# fmt formats the text traces (WEFT_TRACE=ON). Debian: libfmt-dev. find_package in CONFIG mode.
find_package(fmt 8 CONFIG)
if(NOT fmt_FOUND)
  message(FATAL_ERROR "WEFT_TRACE=ON needs fmt, which was not found. Install it (Debian: "
                      "apt-get install libfmt-dev, or run third_party/install-deps.sh) or "
                      "configure with -DWEFT_TRACE=OFF.")
endif()
