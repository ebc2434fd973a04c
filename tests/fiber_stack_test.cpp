// Fiber stacks: regions reused across spawns, callables too big for the stack, deeper
// recursion with bigger stacks, the guarded-stack budget (max_guarded_stacks, per executor)
// and the spare guarded regions a destroyed executor leaves to the next one.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/weft.hpp>

#include "support/child_process.hpp"
#include "support/internals.hpp"  // current_fiber()->guarded and ->region, spare_regions
#include "support/maps.hpp"
#include "support/sanitizers.hpp"

using Catch::Matchers::Contains;

TEST_CASE("sequential spawn and join cycles reuse stack regions", "[executor][stack]") {
  // An unusual stack size (19 pages), so the stack regions are the only mappings of their
  // size: a sanitizer runtime maps plenty of its own.
  weft::executor_options options;
  options.stack_size = 19 * 4096;
  weft::executor ex(options);
  ex.spawn([] {}).join();  // first region mapped
  const std::size_t regions_before = weft_test::mappings_of_size(options.stack_size);
  const std::size_t all_before = weft_test::mapping_count();
  CHECK(regions_before >= 1);
  // TSan makes each fiber cost most of a millisecond (its own fiber bookkeeping): fewer there.
  const long cycles = weft_test::under_tsan ? 1000 : 10000;
  long sum = 0;
  for (long i = 0; i < cycles; ++i) sum += ex.spawn([i] { return i; }).join();
  CHECK(sum == cycles * (cycles - 1) / 2);
  // Nested: one fiber spawning and joining children one after another (two regions live).
  long inner = ex.spawn([cycles] {
    long s = 0;
    for (long i = 0; i < cycles; ++i) s += weft::spawn([i] { return i; }).join();
    return s;
  }).join();
  CHECK(inner == cycles * (cycles - 1) / 2);
  const std::size_t regions_after = weft_test::mappings_of_size(options.stack_size);
  const std::size_t all_after = weft_test::mapping_count();
  INFO("stack regions before " << regions_before << ", after " << regions_after
       << "; all mappings before " << all_before << ", after " << all_after);
  CHECK(regions_after <= regions_before + 2);
  if (!weft_test::under_tsan) CHECK(all_after <= all_before + 16);  // TSan maps for itself
}

TEST_CASE("a callable too big for the stack throws std::length_error from spawn",
          "[executor][stack]") {
  weft::executor_options options;
  options.stack_size = 64 * 1024;
  weft::executor ex(options);
  auto big = std::make_unique<std::array<char, (1 << 20)>>();
  (*big)[0] = 'x';
  CHECK_THROWS_AS(ex.spawn([](const std::array<char, (1 << 20)>& a) { return a[0]; }, *big),
                  std::length_error);
  // Nearly the whole stack is also too much: less than a page would be left.
  auto almost = std::make_unique<std::array<char, 64 * 1024 - 100>>();
  CHECK_THROWS_AS(ex.spawn([](const std::array<char, 64 * 1024 - 100>& a) { return a[0]; },
                           *almost),
                  std::length_error);
  CHECK(ex.live_fibers() == 0);
  // The executor is fine afterwards, and a moderate capture works.
  auto small = std::make_unique<std::array<char, 16 * 1024>>();
  (*small)[100] = 'y';
  auto h = ex.spawn([](const std::array<char, 16 * 1024>& a) { return a[100]; }, *small);
  ex.run();
  CHECK(h.join() == 'y');
  // The message says why.
  try {
    ex.spawn([](const std::array<char, (1 << 20)>& a) { return a[0]; }, *big);
  } catch (const std::length_error& e) {
    CHECK_THAT(std::string(e.what()), Contains("stack"));
  }
}

TEST_CASE("bigger stacks allow deeper recursion", "[executor][stack]") {
  weft::executor_options options;
  options.stack_size = 1024 * 1024;
  auto depth = weft::run(
      [] {
        struct rec {
          static int go(int n) {
            volatile char pad[1024];
            pad[0] = static_cast<char>(n);
            return n == 0 ? pad[0] : 1 + go(n - 1);
          }
        };
        return rec::go(500);  // ~500 KiB of frames
      },
      options);
  CHECK(depth == 500);
}

TEST_CASE("child_max_guarded_stacks", "[.child]") {
  weft::executor_options options;
  options.max_guarded_stacks = 10;
  int guarded = 0, finished = 0;
  {
    weft::executor ex(options);
    weft::event ev;
    for (int i = 0; i < 200; ++i)
      ex.spawn([&] {
        if (weft::detail::current_fiber()->guarded) ++guarded;
        ev.wait();
        ++finished;
      });
    ex.spawn([&] { ev.set(); });
    ex.run();
  }
  std::printf("guarded=%d finished=%d\n", guarded, finished);
}

TEST_CASE("max_guarded_stacks caps guarded stacks, and the rest run on unguarded slabs",
          "[executor][stack]") {
  // In a child process: the notice is printed once per process, and the budget is
  // process-wide.
  auto r = weft_test::run_child_test("child_max_guarded_stacks");
  INFO("child stdout: " << r.out << "\nchild stderr: " << r.err);
  REQUIRE(r.exited_ok());
  CHECK_FALSE(r.sanitizer_report());
  CHECK_THAT(r.out, Contains("guarded=10 finished=200"));
  CHECK_THAT(r.err, Contains("guard page"));
}

TEST_CASE("child_guarded_budget_per_executor", "[.child]") {
  weft::executor_options options;
  options.max_guarded_stacks = 10;
  {
    weft::executor capped(options);
    weft::event ev;
    for (int i = 0; i < 20; ++i) capped.spawn([&] { ev.wait(); });
    capped.spawn([&] { ev.set(); });
    capped.run();
  }
  // A later executor with the default (derived) budget is not held to the old cap.
  int guarded_after = 0;
  {
    weft::executor ex;
    weft::event ev;
    for (int i = 0; i < 50; ++i)
      ex.spawn([&] {
        if (weft::detail::current_fiber()->guarded) ++guarded_after;
        ev.wait();
      });
    ex.spawn([&] { ev.set(); });
    ex.run();
  }
  std::printf("guarded_after=%d\n", guarded_after);
}

// Found with this test: fiber_allocator kept max_guarded_stacks in a process-wide atomic, so
// the cap of one executor stayed in force for every later executor whose option is 0
// ("derived from vm.max_map_count"). Each allocator now keeps its own limit.
TEST_CASE("max_guarded_stacks of one executor does not cap later executors",
          "[executor][stack]") {
  auto r = weft_test::run_child_test("child_guarded_budget_per_executor");
  INFO("child stdout: " << r.out << "\nchild stderr: " << r.err);
  REQUIRE(r.exited_ok());
  CHECK_FALSE(r.sanitizer_report());
  CHECK_THAT(r.out, Contains("guarded_after=50"));
}

namespace {
// Runs `fibers` fibers alive at once, and one more that lets them finish, on a new executor;
// the lowest address of each one's region.
std::vector<void*> regions_of_a_run(int fibers, std::size_t stack_size,
                                    std::size_t max_guarded = 0, int* guarded = nullptr) {
  weft::executor_options options;
  options.stack_size = stack_size;
  options.max_guarded_stacks = max_guarded;
  std::vector<void*> regions;
  weft::executor ex(options);
  weft::event ev;
  for (int i = 0; i < fibers; ++i)
    ex.spawn([&] {
      regions.push_back(weft::detail::current_fiber()->region.low);
      if (guarded && weft::detail::current_fiber()->guarded) ++*guarded;
      ev.wait();
    });
  ex.spawn([&] {
    regions.push_back(weft::detail::current_fiber()->region.low);
    ev.set();
  });
  ex.run();
  return regions;
}
}  // namespace

TEST_CASE("child_spare_regions", "[.child]") {
  namespace spares = weft::detail::spare_regions;
  const std::vector<void*> first = regions_of_a_run(1, 64 * 1024);
  std::printf("kept after one fiber: %zu\n", spares::count());
  const std::vector<void*> second = regions_of_a_run(1, 64 * 1024);
  auto among_first = [&](void* region) {
    return std::find(first.begin(), first.end(), region) != first.end();
  };
  std::printf("next executor reuses them: %d\n", std::all_of(second.begin(), second.end(), among_first));
  const std::vector<void*> other_size = regions_of_a_run(1, 128 * 1024);
  std::printf("other size reuses them: %d\n", std::any_of(other_size.begin(), other_size.end(), among_first));
  // 200 stacks of an unusual size: as many stay mapped as the pool had room for.
  const std::size_t room = spares::max_count - spares::count();
  regions_of_a_run(200, 88 * 1024);
  std::printf("kept after 200 fibers: %zu (bound %zu)\n", spares::count(), spares::max_count);
  std::printf("the rest unmapped: %d\n", weft_test::count_guarded_stacks(88 * 1024) == room);
  // Spares are not in use: the guarded budget of a capped executor counts its own stacks only.
  int guarded = 0;
  regions_of_a_run(20, 64 * 1024, 10, &guarded);
  std::printf("capped executor guarded=%d\n", guarded);
}

TEST_CASE("a destroyed executor leaves a bounded few guarded stacks to the next executor",
          "[executor][stack]") {
  // In a child process: the spares are process-wide.
  auto r = weft_test::run_child_test("child_spare_regions");
  INFO("child stdout: " << r.out << "\nchild stderr: " << r.err);
  REQUIRE(r.exited_ok());
  CHECK_FALSE(r.sanitizer_report());
  CHECK_THAT(r.out, Contains("kept after one fiber: 2\n"));  // and the one that set the event
  CHECK_THAT(r.out, Contains("next executor reuses them: 1"));
  CHECK_THAT(r.out, Contains("other size reuses them: 0"));
  CHECK_THAT(r.out, Contains("kept after 200 fibers: 64 (bound 64)"));
  CHECK_THAT(r.out, Contains("the rest unmapped: 1"));
  CHECK_THAT(r.out, Contains("capped executor guarded=10"));
}

TEST_CASE("guard_pages = false gives unguarded stacks", "[executor][stack]") {
  weft::executor_options options;
  options.guard_pages = false;
  options.stack_size = 16 * 1024;
  int guarded = weft::run([] {
    int n = 0;
    for (int i = 0; i < 10; ++i)
      n += weft::spawn([] { return weft::detail::current_fiber()->guarded ? 1 : 0; }).join();
    return n;
  }, options);
  CHECK(guarded == 0);
}
