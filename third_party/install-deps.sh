#!/usr/bin/env bash
# Installs everything weft needs to build, test and benchmark on Debian 12 (run as root).
# Idempotent: when every package is already installed it touches neither apt nor the network.
# See third_party/README.md for what each package provides and how CMake finds it.
set -euo pipefail

packages=(
  build-essential g++        # compiler, make, libc headers
  cmake ninja-build ccache   # build system, generator, compiler cache
  pkg-config                 # the consumer_pkg_config test (weft.pc)
  libboost-context-dev       # WEFT_CONTEXT_BACKEND=boost
  libboost-fiber-dev         # benchmark baseline (Boost.Fiber)
  libboost-dev               # Boost headers: Boost.Asio, the IO benchmark's baseline server
  wrk nginx-light            # the IO benchmark (bench/io_bench): load generator, peer server
  libfmt-dev                 # trace output formatting
  catch2                     # tests (Catch2 v2)
  gdb valgrind               # debugging; valgrind/valgrind.h for WEFT_VALGRIND
  clang libclang-rt-14-dev   # fuzzer and sanitizer runtimes for clang
  python3                    # helper scripts
)
# --aarch64 adds the aarch64 cross builds of tests/run-all.sh: compiler, emulator, and the arm64
# libraries (multiarch: `dpkg --add-architecture arm64` below), whose libc6:arm64 the programs
# run on under qemu-aarch64, and gdb-multiarch for the gdb tests there.
aarch64_packages=(g++-aarch64-linux-gnu qemu-user gdb-multiarch libboost-context-dev:arm64
                  libfmt-dev:arm64)
case "${1:-}" in
  --aarch64) packages+=("${aarch64_packages[@]}") ;;
  "") ;;
  *) echo "usage: install-deps.sh [--aarch64]" >&2; exit 2 ;;
esac

# A name without an architecture means the host's copy (or an architecture-independent one):
# dpkg-query lists every architecture's copy it knows, one line each.
is_installed() {
  case "$1" in
    *:*) dpkg-query -W -f='${db:Status-Status}\n' "$1" 2>/dev/null | grep -qx installed ;;
    *) dpkg-query -W -f='${db:Status-Status} ${Architecture}\n' "$1" 2>/dev/null |
         grep -Eqx "installed ($(dpkg --print-architecture)|all)" ;;
  esac
}

missing=()
for p in "${packages[@]}"; do
  is_installed "$p" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing ${missing[*]}; run this script as root" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if [ "${1:-}" = "--aarch64" ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  dpkg --add-architecture arm64
fi
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
echo "install-deps: done"
