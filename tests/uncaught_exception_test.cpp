// Exceptions escaping fibers nobody joins (detached, or whose handle was dropped): the fiber's
// id, name and exception are printed, then std::terminate. Each runs in a child process.
#include <cstdio>
#include <stdexcept>
#include <string>

#include <catch2/catch.hpp>

#include <weft/weft.hpp>

#include "support/child_process.hpp"

using Catch::Matchers::Contains;

// Child processes (run_child_test) run these hidden test cases.
TEST_CASE("child_detached_exception", "[.child]") {
  weft_test::reset_fatal_signals();
  weft::executor ex;
  ex.spawn([] {
    weft::this_fiber::set_name("doomed-fiber");
    std::fprintf(stderr, "ID=%llu\n", static_cast<unsigned long long>(weft::this_fiber::id()));
    weft::this_fiber::yield();
    throw std::runtime_error("boom from a detached fiber");
  }).detach();
  ex.run();
  std::printf("run returned\n");  // must not happen
}

TEST_CASE("child_dropped_handle_exception", "[.child]") {
  weft_test::reset_fatal_signals();
  weft::executor ex;
  {
    auto dropped = ex.spawn([] {
      weft::this_fiber::set_name("dropped");
      throw std::logic_error("unseen");
    });
  }
  ex.run();
  std::printf("run returned\n");  // must not happen
}

TEST_CASE("child_handle_dropped_after_failure", "[.child]") {
  weft_test::reset_fatal_signals();
  weft::executor ex;
  auto h = ex.spawn([] {
    weft::this_fiber::set_name("failed-first");
    throw std::logic_error("unseen");
  });
  ex.run();
  h = {};
  std::printf("handle dropped\n");  // must not happen
}

TEST_CASE("an exception escaping a detached fiber prints its id and name, then terminates",
          "[executor][fault]") {
  auto r = weft_test::run_child_test("child_detached_exception");
  INFO("child stderr: " << r.err);
  CHECK(r.aborted());
  CHECK_FALSE(r.sanitizer_report());
  CHECK(r.out.find("run returned") == std::string::npos);
  const auto at = r.err.find("ID=");
  REQUIRE(at != std::string::npos);
  const std::string id = r.err.substr(at + 3, r.err.find('\n', at) - at - 3);
  CHECK_THAT(r.err, Contains("fiber " + id + " \"doomed-fiber\""));
  // The exception's type as written in C++, and its what().
  CHECK_THAT(r.err, Contains("std::runtime_error: boom from a detached fiber"));
}

TEST_CASE("an exception escaping a fiber whose handle was dropped terminates",
          "[executor][fault]") {
  // Dropping the handle detaches the fiber; the exception then has nowhere to go.
  auto r = weft_test::run_child_test("child_dropped_handle_exception");
  INFO("child stderr: " << r.err);
  CHECK(r.aborted());
  CHECK_FALSE(r.sanitizer_report());
  CHECK_THAT(r.err, Contains("\"dropped\" (detached)"));
  CHECK_THAT(r.err, Contains("std::logic_error: unseen"));
  CHECK(r.out.find("run returned") == std::string::npos);

  // Same, but the handle is dropped after the fiber failed.
  auto r2 = weft_test::run_child_test("child_handle_dropped_after_failure");
  INFO("child stderr: " << r2.err);
  CHECK(r2.aborted());
  CHECK_FALSE(r2.sanitizer_report());
  CHECK_THAT(r2.err, Contains("\"failed-first\" (its handle was dropped)"));
  CHECK_THAT(r2.err, Contains("std::logic_error: unseen"));  // once lost: only the fiber was named
  CHECK(r2.out.find("handle dropped") == std::string::npos);
}
