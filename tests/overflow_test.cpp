// Stack overflow reports, as death tests: each case runs tests/overflow_child.cpp in a child
// process (no core dumps) and checks what it wrote on stderr and how it died.
#include <csignal>
#include <string>

#include <catch2/catch.hpp>

#include "support/child_process.hpp"
#include "support/sanitizers.hpp"

#ifndef WEFT_OVERFLOW_CHILD
#error "WEFT_OVERFLOW_CHILD (the path of overflow_child) must be defined"
#endif

namespace {

using weft_test::child_result;

child_result run_child(const char* mode) {
  return weft_test::run_program(WEFT_OVERFLOW_CHILD, {mode});
}

// The "fiber-id N" line the child writes before the fault.
std::string fiber_id(const child_result& d) {
  const auto at = d.err.find("fiber-id ");
  if (at == std::string::npos) return "?";
  return d.err.substr(at + 9, d.err.find('\n', at) - at - 9);
}

std::string overflow_line(const child_result& d, std::size_t stack_bytes = 65536) {
  return "weft: stack overflow in fiber " + fiber_id(d) + " \"deep\" (stack " +
         std::to_string(stack_bytes) + " bytes); raise weft::executor_options::stack_size";
}

}  // namespace

TEST_CASE("a fiber running into its guard page is reported, then aborts", "[overflow]") {
  for (const char* mode : {"overflow", "overflow-big-frames", "overflow-thread", "overflow-workers",
                           "overflow-user"}) {
    INFO("mode " << mode);
    const child_result d = run_child(mode);
    INFO(d.describe());
    CHECK(d.signaled(SIGABRT));
    CHECK(d.err.find(overflow_line(d)) != std::string::npos);
    CHECK(d.err.find("user handler") == std::string::npos);
  }
}

TEST_CASE("overflowing a stack sized by spawn_options reports that size", "[overflow]") {
  const child_result d = run_child("overflow-sized");
  INFO(d.describe());
  CHECK(d.signaled(SIGABRT));
  CHECK(d.err.find(overflow_line(d, 256 * 1024)) != std::string::npos);
}

TEST_CASE("an ordinary segfault stays an ordinary segfault", "[overflow]") {
  for (const char* mode : {"null-write", "null-write-main", "raise"}) {
    INFO("mode " << mode);
    const child_result d = run_child(mode);
    INFO(d.describe());
    CHECK(d.err.find("stack overflow") == std::string::npos);
#if defined(WEFT_TEST_ASAN) || defined(WEFT_TEST_TSAN)
    // The sanitizer installed its SIGSEGV handler before main(), before weft's; weft hands it
    // the fault, and it reports it.
    CHECK(d.err.find("Sanitizer: SEGV") != std::string::npos);
    CHECK_FALSE(d.exited(0));
#else
    CHECK(d.signaled(SIGSEGV));
#endif
  }
}

TEST_CASE("a SIGSEGV handler installed before weft's still gets other faults", "[overflow]") {
  const child_result d = run_child("user-handler");
  INFO(d.describe());
  CHECK(d.exited(42));
  CHECK(d.err.find("user handler: fault at") != std::string::npos);
  CHECK(d.err.find("stack overflow") == std::string::npos);
}
