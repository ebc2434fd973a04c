// sleep_for and sleep_until: never early, in deadline order, with either clock, zero,
// negative, past and huge durations, on two workers, and other fibers running meanwhile.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/weft.hpp>

#include "support/child_process.hpp"
#include "support/counters.hpp"

using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using weft_test::raii_counter;

TEST_CASE("sleep_for never wakes early", "[executor][sleep]") {
  using clock = std::chrono::steady_clock;
  weft::run([] {
    for (auto d : {1ms, 2ms, 5ms, 10ms}) {
      const auto start = clock::now();
      weft::this_fiber::sleep_for(d);
      CHECK(clock::now() - start >= d);
    }
    // Other units, converted by rounding up.
    const auto start = clock::now();
    weft::this_fiber::sleep_for(std::chrono::microseconds(1500));
    CHECK(clock::now() - start >= std::chrono::microseconds(1500));
    const auto start2 = clock::now();
    weft::this_fiber::sleep_for(std::chrono::duration<double, std::milli>(2.5));
    CHECK(clock::now() - start2 >= std::chrono::duration<double, std::milli>(2.5));
  });
}

namespace {
using steady = std::chrono::steady_clock;
struct sleeper_record {
  int tag;                        // duration in ms, or another label
  steady::time_point registered;  // read right before the sleep call
  steady::time_point deadline;    // as the test knows it (at most a little before the real one)
  steady::time_point woke;
  int wake_index = -1;
};

// Checks wake order against deadlines without assuming how fast fibers got to their sleep
// call. If a's deadline was still ahead when a asked and lies before b's by more than
// `slack`, a's timer was in the heap and due whenever b's was: a must wake first. Equal
// deadlines wake in the order they were asked for.
void check_deadline_order(const std::vector<sleeper_record>& s, steady::duration slack) {
  for (const auto& a : s) {
    REQUIRE(a.wake_index >= 0);
    for (const auto& b : s) {
      if (&a == &b) continue;
      const bool earlier = a.deadline + slack < b.deadline && a.registered < a.deadline;
      const bool same_asked_first = a.deadline == b.deadline && a.registered < b.registered;
      if (earlier || same_asked_first) {
        INFO("sleeper " << a.tag << " should wake before sleeper " << b.tag);
        CHECK(a.wake_index < b.wake_index);
      }
    }
  }
}
}  // namespace

TEST_CASE("sleep_for: sleepers wake in deadline order, never early", "[executor][sleep]") {
  std::vector<int> durations(20);
  std::iota(durations.begin(), durations.end(), 1);
  std::shuffle(durations.begin(), durations.end(), std::mt19937(2024));
  std::vector<sleeper_record> sleepers(durations.size());
  int woken = 0;
  weft::run([&] {
    for (std::size_t i = 0; i < durations.size(); ++i)
      weft::spawn([&, i] {  // starts at once and sleeps: all ask within a short time
        sleeper_record& r = sleepers[i];
        r.tag = durations[i];
        const auto d = std::chrono::milliseconds(r.tag);
        r.registered = steady::now();
        r.deadline = r.registered + d;
        weft::this_fiber::sleep_for(d);
        r.woke = steady::now();
        r.wake_index = woken++;
      });
  });
  REQUIRE(woken == static_cast<int>(durations.size()));
  for (const auto& r : sleepers) CHECK(r.woke >= r.deadline);  // never early
  // sleep_for's own deadline is at most a few microseconds after the one recorded here.
  check_deadline_order(sleepers, std::chrono::microseconds(500));
  // When every fiber asked within half a millisecond (the normal case: they are spawned one
  // after another), deadline order is duration order.
  auto [first, last] = std::minmax_element(
      sleepers.begin(), sleepers.end(),
      [](const auto& x, const auto& y) { return x.registered < y.registered; });
  if (last->registered - first->registered < std::chrono::microseconds(500)) {
    std::vector<int> by_wake(sleepers.size());
    for (const auto& r : sleepers) by_wake[static_cast<std::size_t>(r.wake_index)] = r.tag;
    CHECK(std::is_sorted(by_wake.begin(), by_wake.end()));
  }
}

TEST_CASE("sleep_until: sleepers with shuffled deadlines wake in deadline order",
          "[executor][sleep]") {
  std::vector<int> durations(20);
  std::iota(durations.begin(), durations.end(), 1);
  std::shuffle(durations.begin(), durations.end(), std::mt19937(7));
  for (int tag = 100; tag < 103; ++tag) durations.push_back(tag);  // equal deadlines
  std::vector<sleeper_record> sleepers(durations.size());
  int woken = 0;
  weft::executor ex;
  // A common base, far enough ahead that normally every fiber asks before the first deadline.
  const auto base = steady::now() + 30ms;
  for (std::size_t i = 0; i < durations.size(); ++i)
    ex.spawn([&, i] {
      sleeper_record& r = sleepers[i];
      r.tag = durations[i];
      r.deadline = base + std::chrono::milliseconds(r.tag < 100 ? r.tag : 25);
      r.registered = steady::now();
      weft::this_fiber::sleep_until(r.deadline);
      r.woke = steady::now();
      r.wake_index = woken++;
    });
  ex.run();
  REQUIRE(woken == static_cast<int>(durations.size()));
  for (const auto& r : sleepers) CHECK(r.woke >= r.deadline);  // never early
  check_deadline_order(sleepers, steady::duration::zero());    // exact deadlines here
}

TEST_CASE("sleep_until with the system clock", "[executor][sleep]") {
  weft::run([] {
    const auto deadline = std::chrono::system_clock::now() + 5ms;
    const auto steady_start = std::chrono::steady_clock::now();
    weft::this_fiber::sleep_until(deadline);
    CHECK(std::chrono::steady_clock::now() - steady_start >= 5ms);
    // A time point in the past returns (after letting others run).
    weft::this_fiber::sleep_until(std::chrono::system_clock::now() - 1h);
    // Coarse durations of the time point work too.
    weft::this_fiber::sleep_until(
        std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()));
  });
}

TEST_CASE("zero, negative and past sleeps return", "[executor][sleep]") {
  std::vector<std::string> trace;
  weft::run([&] {
    weft::this_fiber::sleep_for(0ms);
    weft::this_fiber::sleep_for(-5ms);
    weft::this_fiber::sleep_for(std::chrono::nanoseconds::min());
    weft::this_fiber::sleep_until(std::chrono::steady_clock::now());
    weft::this_fiber::sleep_until(std::chrono::steady_clock::now() - 1h);
    weft::this_fiber::sleep_until(std::chrono::steady_clock::time_point::min());
    trace.push_back("returned");
  });
  CHECK(trace == std::vector<std::string>{"returned"});
}

TEST_CASE("child_passed_deadlines_on_two_workers", "[.child]") {
  weft::executor_options options;
  options.workers = 2;
  long total = 0;
  for (int round = 0; round < 100; ++round) {
    weft::executor ex(options);
    std::atomic<long> n{0};
    std::vector<weft::join_handle<void>> hs;
    for (int f = 0; f < 8; ++f)
      hs.push_back(ex.spawn([&n] {
        for (int i = 0; i < 1000; ++i) {
          weft::this_fiber::sleep_for(std::chrono::nanoseconds(i % 3 == 0 ? 1 : 0));
          ++n;
        }
      }));
    ex.run();
    for (auto& h : hs) h.join();
    total += n;
  }
  std::printf("sleeps=%ld\n", total);
}

TEST_CASE("sleeps whose deadline has passed, on two workers", "[executor][sleep]") {
  // Found with this test: a sleeper whose own timer fired inside suspend() was queued while
  // still running, so the other worker could steal it and resume a stale context (SIGSEGV).
  // In a child process, so that a regression fails this test instead of the whole run.
  auto r = weft_test::run_child_test("child_passed_deadlines_on_two_workers");
  INFO("child stdout: " << r.out << "\nchild stderr: " << r.err);
  REQUIRE(r.exited_ok());
  CHECK_FALSE(r.sanitizer_report());
  CHECK_THAT(r.out, Contains("sleeps=800000"));
}

TEST_CASE("huge sleep durations saturate instead of overflowing", "[executor][sleep]") {
  // A fiber sleeping "forever" is unwound by the executor's destruction; another fiber's
  // progress shows the huge duration did not wrap into the past.
  std::atomic<int> destroyed{0};
  bool woke = false;
  {
    weft::executor ex;
    ex.spawn([&] {
      raii_counter r(destroyed);
      weft::this_fiber::sleep_for(std::chrono::hours::max());
      woke = true;
    });
    ex.spawn([&] {
      raii_counter r(destroyed);
      weft::this_fiber::sleep_for(std::chrono::duration<double>(1e300));
      woke = true;
    });
    auto h = ex.spawn([] { weft::this_fiber::sleep_for(2ms); return 1; });
    CHECK(h.join() == 1);
    CHECK_FALSE(woke);
  }
  CHECK_FALSE(woke);
  CHECK(destroyed == 2);
}

TEST_CASE("other fibers run while one sleeps", "[executor][sleep]") {
  // The sleep is long enough for three yields even under valgrind on a loaded machine.
  std::vector<std::string> trace;
  weft::run([&] {
    auto sleeper = weft::spawn([&] {
      trace.push_back("sleep");
      weft::this_fiber::sleep_for(100ms);
      trace.push_back("woke");
    });
    for (int i = 0; i < 3; ++i) {
      trace.push_back("work");
      weft::this_fiber::yield();
    }
    sleeper.join();
  });
  CHECK(trace == std::vector<std::string>{"sleep", "work", "work", "work", "woke"});
}
