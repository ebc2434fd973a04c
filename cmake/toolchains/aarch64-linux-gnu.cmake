# Cross-building weft for 64-bit ARM Linux with Debian's g++-aarch64-linux-gnu, its libraries
# (Boost.Context, fmt) from the arm64 multiarch packages, and its programs run under qemu-user:
#
#   cmake -S . -B build/aarch64 -G Ninja \
#     -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake
#
# CTest (and Catch2's test discovery) then runs every test executable through `qemu-aarch64`.
# Programs run with the arm64 multiarch C library (Debian's libc6:arm64, /lib/aarch64-linux-gnu),
# not the cross toolchain's copy in /usr/aarch64-linux-gnu: the two are different builds of
# glibc 2.36, and that copy's ld.so with the multiarch libc.so.6 (which Boost and fmt pull in)
# hangs the first pthread_create. third_party/install-deps.sh installs all of it.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_ASM_COMPILER aarch64-linux-gnu-gcc)

# The arm64 multiarch libraries live in /usr/lib/aarch64-linux-gnu, their headers (shared with
# the host's) in /usr/include.
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu /usr)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

find_program(WEFT_QEMU_AARCH64 qemu-aarch64)
if(WEFT_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${WEFT_QEMU_AARCH64})
endif()
