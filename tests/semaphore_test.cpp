// weft::counting_semaphore and binary_semaphore: std's semantics from fibers and plain threads
// on 1, 2 and 4 workers, FIFO hand-off, timed forms, and errors for bad input.
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/weft.hpp>

using namespace std::chrono_literals;

TEST_CASE("counting_semaphore bounds how many fibers are inside at once", "[executor][semaphore]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  INFO(workers << " workers");
  weft::counting_semaphore<3> slots(3);
  std::atomic<int> inside{0}, most{0}, done{0};
  weft::run(
      [&] {
        std::vector<weft::join_handle<void>> fibers;
        for (int i = 0; i < 16; ++i)
          fibers.push_back(weft::spawn([&] {
            for (int r = 0; r < 20; ++r) {
              slots.acquire();
              const int now = ++inside;
              int seen = most.load();
              while (now > seen && !most.compare_exchange_weak(seen, now)) {
              }
              weft::this_fiber::yield();
              --inside;
              slots.release();
            }
            ++done;
          }));
        for (auto& f : fibers) f.join();
      },
      weft::executor_options{.workers = workers});
  CHECK(done == 16);
  CHECK(most <= 3);
  CHECK(most >= 1);
}

TEST_CASE("binary_semaphore ping-pong between a fiber and a plain thread", "[executor][semaphore]") {
  weft::binary_semaphore to_thread(0), to_fiber(0);
  int value = 0;
  std::thread plain([&] {
    for (int i = 0; i < 100; ++i) {
      to_thread.acquire();
      ++value;
      to_fiber.release();
    }
  });
  weft::run([&] {
    for (int i = 0; i < 100; ++i) {
      to_thread.release();
      to_fiber.acquire();
    }
  });
  plain.join();
  CHECK(value == 100);
}

TEST_CASE("semaphore release hands units to the oldest waiters first", "[executor][semaphore]") {
  weft::counting_semaphore<> s(0);
  std::vector<int> order;
  weft::run([&] {
    std::vector<weft::join_handle<void>> waiters;
    for (int i = 0; i < 4; ++i)
      waiters.push_back(weft::spawn([&, i] {
        s.acquire();
        order.push_back(i);
      }));
    s.release(4);
    CHECK_FALSE(s.try_acquire());  // every unit went to a waiter
    for (auto& w : waiters) w.join();
  });
  CHECK(order == std::vector<int>{0, 1, 2, 3});
}

TEST_CASE("semaphore timed acquires time out and complete", "[executor][semaphore]") {
  weft::run([] {
    weft::counting_semaphore<> s(0);
    CHECK_FALSE(s.try_acquire_for(5ms));
    CHECK_FALSE(s.try_acquire_until(std::chrono::steady_clock::now() + 1ms));
    auto h = weft::spawn([&] {
      weft::this_fiber::sleep_for(5ms);
      s.release();
    });
    CHECK(s.try_acquire_for(10s));
    s.release();
    CHECK(s.try_acquire_for(0ms));
    h.join();
  });
}

TEST_CASE("semaphore counts outside [0, max] throw and change nothing", "[executor][semaphore]") {
  CHECK_THROWS_AS(weft::counting_semaphore<5>(6), std::invalid_argument);
  CHECK_THROWS_AS(weft::counting_semaphore<5>(-1), std::invalid_argument);
  weft::counting_semaphore<2> s(1);
  CHECK_THROWS_WITH(s.release(2), Catch::Matchers::Contains("outside [0, 2]"));
  CHECK_THROWS_AS(s.release(-1), std::invalid_argument);
  CHECK(s.try_acquire());
  CHECK_FALSE(s.try_acquire());
  CHECK(weft::counting_semaphore<>::max() == PTRDIFF_MAX);
  CHECK(weft::binary_semaphore::max() == 1);
}
