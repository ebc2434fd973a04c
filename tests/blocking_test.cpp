// weft::blocking: results, references and exceptions come back; the pool's bound holds and
// extra calls wait their turn without blocking a worker; a plain thread runs the call inline;
// executor destruction waits for a call in progress.
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/weft.hpp>

using namespace std::chrono_literals;

TEST_CASE("weft::blocking returns results, references and exceptions", "[blocking]") {
  weft::run([] {
    CHECK(weft::blocking([] { return 6 * 7; }) == 42);
    int value = 0;
    int& ref = weft::blocking([&]() -> int& { return value; });
    CHECK(&ref == &value);
    bool ran = false;
    weft::blocking([&] { ran = true; });
    CHECK(ran);
    CHECK(weft::blocking([] { return std::string(100, 'x'); }).size() == 100);
    CHECK_THROWS_WITH(weft::blocking([]() -> int { throw std::runtime_error("from the pool"); }),
                      "from the pool");
    const std::thread::id here = weft::this_fiber::thread_now();
    CHECK(weft::blocking([] { return std::this_thread::get_id(); }) != here);
  });
}

TEST_CASE("weft::blocking keeps to its thread bound while fibers and timers keep running", "[blocking]") {
  const std::size_t workers = GENERATE(1, 2);
  CAPTURE(workers);
  weft::executor_options o;
  o.workers = workers;
  o.blocking_threads = 2;
  std::atomic<int> running{0}, most{0}, done{0};
  int ticks = 0;
  weft::run(
      [&] {
        std::vector<weft::join_handle<void>> calls;
        for (int i = 0; i < 8; ++i)
          calls.push_back(weft::spawn([&] {
            weft::blocking([&] {
              const int now = ++running;
              for (int seen = most.load(); now > seen && !most.compare_exchange_weak(seen, now);) {
              }
              std::this_thread::sleep_for(10ms);  // blocks a pool thread, not a worker
              --running;
              ++done;
            });
          }));
        while (done.load() < 8) {  // a timer keeps firing meanwhile
          weft::this_fiber::sleep_for(1ms);
          ++ticks;
        }
        for (auto& c : calls) c.join();
      },
      o);
  CHECK(done == 8);
  CHECK(most <= 2);
  CHECK(ticks >= 5);
}

TEST_CASE("weft::blocking from a plain thread runs inline", "[blocking]") {
  const std::thread::id here = std::this_thread::get_id();
  CHECK(weft::blocking([] { return std::this_thread::get_id(); }) == here);
  CHECK_THROWS_AS(weft::blocking([] { throw std::logic_error("inline"); }), std::logic_error);
}

TEST_CASE("executor destruction waits for a blocking call in progress", "[blocking]") {
  std::atomic<bool> finished{false};
  {
    weft::executor ex;
    ex.spawn([&] {
      weft::blocking([&] {
        std::this_thread::sleep_for(30ms);
        finished = true;
      });
    });
    ex.spawn([] { weft::this_fiber::sleep_for(1ms); }).join();  // the call is under way now
  }
  CHECK(finished);
}

TEST_CASE("executor_options::blocking_threads must be at least 1", "[blocking]") {
  weft::executor_options o;
  o.blocking_threads = 0;
  CHECK_THROWS_WITH(weft::executor(o), Catch::Matchers::Contains("blocking_threads"));
}

TEST_CASE("an executor destroyed right after a blocking call returned outlives the pool thread",
          "[blocking]") {
  // The pool thread that resumed the fiber may still be inside the executor (waking a worker)
  // when the fiber ends and the executor is destroyed: the sanitizers see any use after free.
  const int runs = 200;
  int sum = 0;
  for (int i = 0; i < runs; ++i) sum += weft::run([i] { return weft::blocking([i] { return i; }); });
  CHECK(sum == runs * (runs - 1) / 2);
}
