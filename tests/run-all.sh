#!/usr/bin/env bash
# weft's test command (CI runs exactly this): builds every configuration below into
# build/ci-<name> and runs its tests with ctest, skipping the `bench` label.
#
#   tests/run-all.sh              all configurations
#   tests/run-all.sh asm boost    only the named ones
#
# Ends with one line `N passed, N failed`, summed over the configurations; a configuration
# that does not configure or build counts as one failure. Exits non-zero if anything failed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

# One configuration per entry, fields separated by `|`:
#   name | cmake arguments | environment of its tests (VAR=value ...) | extra ctest arguments
#        [| build targets (default: all)]
# Arguments are split on whitespace. No suppression files anywhere: a sanitizer or valgrind
# report fails the test that caused it, and gets fixed, not hidden.
#
# Sanitizer and valgrind configurations skip the benchmarks (WEFT_BUILD_BENCH=OFF). The
# valgrind configuration runs the executor label only and builds just its three executables.
#
# clang-thread-safety builds everything with clang's -Wthread-safety analysis and -Werror
# (WEFT_THREAD_SAFETY=ON): the lock rules written as WEFT_GUARDED_BY, WEFT_REQUIRES, ...
# (include/weft/detail/thread_annotations.hpp) are checked, and every test runs on that build.
#
# Tests skipped under TSan only (@tsan_skip@ below), each for a limit of TSan's own runtime,
# not of weft; their logic runs at a smaller scale there through the other tests:
#  - more than 8128 fibers alive at once: every fiber is a TSan thread context, and TSan
#    dies past 8128 ("Thread limit (8128 threads) exceeded"): the full-scale
#    vm.max_map_count test (~33k fibers);
#  - exhausting the process's memory mappings: TSan's runtime maps memory for every new
#    fiber and aborts itself ("ThreadSanitizer failed to allocate") before weft's mmap fails.
tsan_skip='the default guarded-stack budget keeps more fibers|when mappings run out before the budget'
clang=(-DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_ASM_COMPILER=clang-14)
# aarch64-asm and aarch64-boost cross-build for 64-bit ARM (cmake/toolchains/aarch64-linux-gnu.cmake)
# and run the tests under qemu-aarch64 (user-mode emulation): the context tests, the executor
# tests (the scheduler, sync primitives, stress, the std vocabulary and tasks; asm builds all
# four executables, boost the first two) and the gdb tests (gdb-multiarch on qemu's gdb stub).
# Under emulation the tests run at full scale, one at a time (-j1, the later -j wins: an
# emulated core is slow enough that two test programs, each with several worker threads, on
# two cores made a sleep-ordering test miss its 0.5 ms margin); the rest (IO, tracing, fuzz,
# exhaustion, overflow reports) runs on x86-64 only.
aarch64_labels='context|executor|gdb'
aarch64_gdb='gdb_backtrace gdb_fibers gdb_inline'
aarch64=(-DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake -DCMAKE_BUILD_TYPE=Release
         -DWEFT_BUILD_BENCH=OFF)
configs=(
  "asm              | -DCMAKE_BUILD_TYPE=Release -DWEFT_CONTEXT_BACKEND=asm   |  |"
  "boost            | -DCMAKE_BUILD_TYPE=Release -DWEFT_CONTEXT_BACKEND=boost |  |"
  "asm-asan-ubsan   | -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_CONTEXT_BACKEND=asm
                      -DWEFT_SANITIZE=address,undefined -DWEFT_BUILD_BENCH=OFF
                    | ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 |"
  "boost-asan-ubsan | -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_CONTEXT_BACKEND=boost
                      -DWEFT_SANITIZE=address,undefined -DWEFT_BUILD_BENCH=OFF
                    | ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 |"
  "asm-tsan         | -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_CONTEXT_BACKEND=asm
                      -DWEFT_SANITIZE=thread -DWEFT_BUILD_BENCH=OFF
                    | TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:atexit_sleep_ms=0
                    | -E @tsan_skip@"
  "asm-valgrind     | -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_CONTEXT_BACKEND=asm
                      -DWEFT_VALGRIND=ON -DWEFT_TEST_VALGRIND=ON -DWEFT_BUILD_BENCH=OFF
                    |  | -L executor | executor_tests vocabulary_tests task_tests"
  "clang-thread-safety | -DCMAKE_BUILD_TYPE=Release -DWEFT_CONTEXT_BACKEND=asm ${clang[*]}
                      -DWEFT_THREAD_SAFETY=ON -DWEFT_BUILD_BENCH=OFF |  |"
  "fuzz             | -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_CONTEXT_BACKEND=asm ${clang[*]}
                      -DWEFT_SANITIZE=address,undefined -DWEFT_BUILD_FUZZER=ON
                      -DWEFT_FUZZ_RUNS=5000 -DWEFT_BUILD_BENCH=OFF
                    | ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
                    | -L fuzz | schedule_fuzzer schedule_replay"
  "aarch64-asm      | ${aarch64[*]} -DWEFT_CONTEXT_BACKEND=asm |  | -L @aarch64_labels@ -j1
                    | context_tests executor_tests vocabulary_tests task_tests ${aarch64_gdb}"
  "aarch64-boost    | ${aarch64[*]} -DWEFT_CONTEXT_BACKEND=boost |  | -L @aarch64_labels@ -j1
                    | context_tests executor_tests ${aarch64_gdb}"
)

jobs=$(nproc)
common_args=(-G Ninja)
if command -v ccache >/dev/null 2>&1; then
  common_args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
ctest_args=(--output-on-failure -j2 -LE bench --timeout 900)

trim() { local s=$*; s=${s#"${s%%[![:space:]]*}"}; printf '%s' "${s%"${s##*[![:space:]]}"}"; }

names=()
for entry in "${configs[@]}"; do
  names+=("$(trim "${entry%%|*}")")
done
selected=("$@")
if [ ${#selected[@]} -eq 0 ]; then
  selected=("${names[@]}")
fi
for want in "${selected[@]}"; do
  found=0
  for name in "${names[@]}"; do [ "$name" = "$want" ] && found=1; done
  if [ $found -eq 0 ]; then
    echo "run-all: unknown configuration '$want'; choose from: ${names[*]}" >&2
    exit 2
  fi
done

total_passed=0
total_failed=0
results=()

# run_config <name> <cmake args> <env> <ctest args> <targets>: configures, builds and tests
# one configuration, adding its counts to the totals.
run_config() {
  local name=$1 dir=build/ci-$1 log=build/ci-$1.ctest.log
  local -a cmake_argv env_argv extra_argv target_argv=()
  read -ra cmake_argv <<<"$2"
  read -ra env_argv <<<"$3"
  read -ra extra_argv <<<"$4"
  # @tsan_skip@ and @aarch64_labels@ stand for regexes with spaces or `|`, which the fields
  # cannot hold.
  local i
  for i in "${!extra_argv[@]}"; do
    [ "${extra_argv[$i]}" = "@tsan_skip@" ] && extra_argv[$i]=$tsan_skip
    [ "${extra_argv[$i]}" = "@aarch64_labels@" ] && extra_argv[$i]=$aarch64_labels
  done
  local t
  for t in $5; do target_argv+=(--target "$t"); done
  local start=$SECONDS passed=0 failed=0 note=""

  echo
  echo "=== [$name] cmake ${cmake_argv[*]}"
  if ! cmake -S . -B "$dir" "${common_args[@]}" "${cmake_argv[@]}"; then
    failed=1 note="configure failed"
  elif ! cmake --build "$dir" -j"$jobs" "${target_argv[@]}"; then
    failed=1 note="build failed"
  else
    echo "=== [$name] ${env_argv[*]:+${env_argv[*]} }ctest ${ctest_args[*]} ${extra_argv[*]}"
    set +e
    (cd "$dir" && env "${env_argv[@]}" ctest "${ctest_args[@]}" "${extra_argv[@]}") 2>&1 | tee "$log"
    set -e
    # ctest: "97% tests passed, 1 tests failed out of 40"; "No tests were found!!!" is a failure.
    local line
    line=$(grep -Eo '[0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1 || true)
    if [ -n "$line" ]; then
      local total
      read -r failed _ _ _ _ total <<<"$line"
      passed=$((total - failed))
      [ "$total" -gt 0 ] || { failed=1 note="no tests"; }
    else
      failed=1 note="ctest ran no tests"
    fi
  fi

  local secs=$((SECONDS - start))
  results+=("$(printf '%-20s %4d passed, %3d failed  %5ds %s' "$name" "$passed" "$failed" "$secs" "$note")")
  echo "=== [$name] $passed passed, $failed failed${note:+ ($note)} in ${secs}s"
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
}

mkdir -p build
for entry in "${configs[@]}"; do
  IFS='|' read -r name cmake_field env_field ctest_field targets_field \
    <<<"$(tr '\n' ' ' <<<"$entry")"
  name=$(trim "$name")
  for want in "${selected[@]}"; do
    if [ "$want" = "$name" ]; then
      run_config "$name" "$cmake_field" "$env_field" "$ctest_field" "$targets_field"
    fi
  done
done

echo
echo "=== summary (wall time per configuration; ${SECONDS}s in all)"
printf '%s\n' "${results[@]}"
echo "$total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
