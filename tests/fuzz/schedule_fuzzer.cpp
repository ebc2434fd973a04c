// libFuzzer target: every input is a program of fiber operations (see README.md), run on
// weft's executor and checked against the reference model; a violation aborts with a report.
// Built with clang and -fsanitize=fuzzer (WEFT_BUILD_FUZZER=ON); schedule_replay.cpp runs
// the same logic over the seed corpus in every build.
#include <cstddef>
#include <cstdint>

#include "schedule_harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const weft_fuzz::harness_options options = weft_fuzz::options_from_environment();
  weft_fuzz::run_schedule_program(data, size, options);
  return 0;
}
