// The schedule fuzzer's program logic, shared by the libFuzzer target (schedule_fuzzer.cpp) and
// the corpus replay executable (schedule_replay.cpp). See tests/fuzz/README.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace weft_fuzz {

struct harness_options {
  // Worker threads of the executor under test. With 1 the run's log is an exact linearisation
  // and every operation's outcome is checked against the reference model; with more, only the
  // schedule-independent invariants are (values conserved, joins, no fiber lost, deadlock iff
  // fibers remain).
  std::size_t workers = 1;
  // A program that has not finished after this long aborts the process (a hang is a bug).
  double watchdog_seconds = 10.0;
  // Print the decoded program before running it.
  bool verbose = false;
  // Run throw_catch(yield in handler) without the yield. Only for fuzzing for other bugs while
  // a failure of that check is being fixed; CI never sets it (WEFT_FUZZ_NO_HANDLER_YIELD=1).
  bool no_handler_yield = false;
};

// Reads defaults from the environment: WEFT_FUZZ_WORKERS, WEFT_FUZZ_WATCHDOG_S,
// WEFT_FUZZ_VERBOSE, WEFT_FUZZ_NO_HANDLER_YIELD.
harness_options options_from_environment();

// Decodes `data` into a program of fiber operations, runs it on a fresh executor and checks
// the run against the reference model. Returns normally when everything holds; on any
// violation it prints the program, the log and what went wrong on stderr, then aborts.
void run_schedule_program(const std::uint8_t* data, std::size_t size, const harness_options& o);

// The decoded program as text (for README examples and failure reports).
std::string describe_program(const std::uint8_t* data, std::size_t size);

}  // namespace weft_fuzz
