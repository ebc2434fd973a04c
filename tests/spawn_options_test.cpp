// spawn_options: a fiber's name from its spawn on, pinning from its start, and a stack size of
// its own (mapped for it, guarded, unmapped at its end). The name in traces is checked in
// trace_test.cpp, in deadlock reports in deadlock_test.cpp, and an overflow of a sized stack
// in overflow_test.cpp.
#include <atomic>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/weft.hpp>

#include "support/fixtures.hpp"
#include "support/maps.hpp"

using Catch::Contains;
using weft_test::with_workers;

namespace {

// Uses about `bytes` of the calling fiber's stack, and returns something derived from it.
[[gnu::noinline]] int use_stack(std::size_t bytes) {
  volatile char block[16 * 1024];
  block[0] = static_cast<char>(bytes);
  block[sizeof block - 1] = 1;
  if (bytes <= sizeof block) return block[0] + block[sizeof block - 1];
  return use_stack(bytes - sizeof block) + block[sizeof block - 1];
}

}  // namespace

TEST_CASE("spawn_options::name is the fiber's name from its first instruction", "[spawn_options]") {
  std::string seen_child, seen_outside;
  weft::executor ex;
  {
    std::string temporary = "from-outside";  // the name is copied at spawn: gone before start
    ex.spawn(weft::spawn_options{.name = temporary},
             [&] { seen_outside = std::string(weft::this_fiber::name()); })
        .detach();
    temporary.assign("overwritten!");
  }
  ex.spawn([&] {
      weft::spawn(weft::spawn_options{.name = "child"},
                  [&] { seen_child = std::string(weft::this_fiber::name()); })
          .join();
    })
      .detach();
  ex.run();
  CHECK(seen_outside == "from-outside");
  CHECK(seen_child == "child");
}

TEST_CASE("spawn_options forwards arguments and results as spawn does", "[spawn_options]") {
  weft::executor ex;
  auto h = ex.spawn(weft::spawn_options{.name = "adder"},
                    [](int a, std::string b) { return b + std::to_string(a); }, 7,
                    std::string("n="));
  CHECK(h.join() == "n=7");
  auto failing = ex.spawn(weft::spawn_options{.stack_size = 128 * 1024},
                          []() -> int { throw std::runtime_error("sized and failing"); });
  CHECK_THROWS_WITH(failing.join(), "sized and failing");
}

TEST_CASE("a pinned fiber never leaves the worker it started on", "[spawn_options]") {
  const std::size_t workers = GENERATE(2, 4);
  CAPTURE(workers);
  weft::executor ex(with_workers(workers));
  std::atomic<bool> done{false};
  std::atomic<int> moves{0};
  weft::channel<int> values;
  std::set<std::thread::id> threads_of_unpinned;
  std::thread::id outside_pinned_start, run_thread = std::this_thread::get_id();
  auto outside = ex.spawn(weft::spawn_options{.pinned = true}, [&] {
    outside_pinned_start = weft::this_fiber::thread_now();
  });
  ex.spawn([&] {
    // Busy siblings give idle workers something to steal.
    std::vector<weft::join_handle<void>> busy;
    for (std::size_t i = 0; i < 2 * workers; ++i)
      busy.push_back(weft::spawn([&] {
        while (!done.load()) {
          int one = 1;
          values.try_send(one);
          weft::this_fiber::yield();
        }
      }));
    // Values sent by the busy fibers, spread over the workers by stealing: an unpinned
    // receiver would be woken where its sender runs.
    auto pinned = weft::spawn(weft::spawn_options{.name = "pinned", .pinned = true}, [&] {
      const auto home = weft::this_fiber::thread_now();
      for (int i = 0; i < 2000; ++i) {
        values.recv();
        if (weft::this_fiber::thread_now() != home) ++moves;
      }
    });
    pinned.join();
    done = true;
    for (auto& b : busy) b.join();
  }).detach();
  ex.run();
  CHECK(moves == 0);
  outside.join();
  // Spawned pinned from outside the executor's fibers: worker 0, the thread that runs run().
  CHECK(outside_pinned_start == run_thread);
}

TEST_CASE("spawn_options::stack_size gives the fiber a stack of that size", "[spawn_options]") {
  // 64 KiB stacks by default; one fiber gets 1 MiB and uses 512 KiB of it.
  weft::executor_options options;
  options.stack_size = 64 * 1024;
  weft::executor ex(options);
  constexpr std::size_t big = 1024 * 1024;
  const std::size_t before = weft_test::mappings_of_size(big);
  std::size_t during = 0;
  auto h = ex.spawn(weft::spawn_options{.stack_size = big}, [&] {
    during = weft_test::mappings_of_size(big);
    return use_stack(512 * 1024);
  });
  CHECK(h.join() != 0);
  CHECK(during == before + 1);  // mapped for it while it lives
  CHECK(weft_test::mappings_of_size(big) == before);  // and unmapped at its end
  // Guarded as the executor's stacks are (other tests' executors may keep spare stacks of
  // this size mapped: count from what is there now).
  const std::size_t guarded_before = weft_test::count_guarded_stacks(big);
  auto guarded = ex.spawn(weft::spawn_options{.stack_size = big},
                          [] { return weft_test::count_guarded_stacks(big); });
  CHECK(guarded.join() == guarded_before + 1);
}

TEST_CASE("stack_size 0 or the executor's own size uses the pooled stacks", "[spawn_options]") {
  weft::executor_options options;
  options.stack_size = 96 * 1024;
  weft::executor ex(options);
  const std::size_t before = weft_test::mappings_of_size(96 * 1024);
  for (std::size_t size : {std::size_t{0}, std::size_t{96 * 1024}, std::size_t{96 * 1024 - 100}})
    ex.spawn(weft::spawn_options{.stack_size = size}, [] { return use_stack(48 * 1024); }).join();
  CHECK(weft_test::mappings_of_size(96 * 1024) <= before + 1);  // at most the pool's region
}

TEST_CASE("many fibers with their own stack sizes map and unmap cleanly", "[spawn_options]") {
  const std::size_t workers = GENERATE(1, 2);
  CAPTURE(workers);
  weft::executor ex(with_workers(workers));
  std::atomic<int> sum{0};
  ex.spawn([&] {
    std::vector<weft::join_handle<void>> all;
    for (int i = 0; i < 200; ++i)
      all.push_back(weft::spawn(
          weft::spawn_options{.stack_size = 80 * 1024 + 4096 * static_cast<std::size_t>(i % 5)},
          [&] {
            weft::this_fiber::yield();
            sum += use_stack(40 * 1024) != 0;
          }));
    for (auto& h : all) h.join();
  }).detach();
  ex.run();
  CHECK(sum == 200);
}

TEST_CASE("a stack size that cannot hold the fiber or be mapped is a clear error",
          "[spawn_options]") {
  weft::executor ex;
  auto length_error_for = [&](std::size_t stack_size) -> std::string {
    try {
      ex.spawn(weft::spawn_options{.stack_size = stack_size}, [] {}).join();
    } catch (const std::length_error& e) {
      return e.what();
    }
    return "(no std::length_error)";
  };
  // One page leaves no room for the fiber's control block and callable.
  CHECK_THAT(length_error_for(1), Contains("raise spawn_options::stack_size"));
  // Larger than the address space.
  CHECK_THAT(length_error_for(std::size_t{1} << 62),
             Contains("weft::spawn_options::stack_size: stack size"));
  // Nothing was lost: the executor still runs fibers.
  CHECK(ex.spawn([] { return 5; }).join() == 5);
  CHECK(ex.live_fibers() == 0);
}
