// weft::latch and weft::barrier: std's semantics from fibers and plain threads on 1, 2 and 4
// workers, timed latch waits, the completion step, arrive_and_drop, and errors for bad input.
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/weft.hpp>

using namespace std::chrono_literals;

TEST_CASE("latch: fibers and a plain thread wait until the count reaches zero", "[executor][latch]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  INFO(workers << " workers");
  weft::latch done(8);
  std::atomic<int> counted{0};
  std::atomic<bool> thread_saw_all{false};
  std::thread plain([&] {
    done.wait();
    thread_saw_all = counted.load() == 8;
  });
  weft::run(
      [&] {
        std::vector<weft::join_handle<void>> fibers;
        for (int i = 0; i < 8; ++i)
          fibers.push_back(weft::spawn([&] {
            weft::this_fiber::yield();
            ++counted;
            done.count_down();
          }));
        done.wait();
        CHECK(counted == 8);
        CHECK(done.try_wait());
        for (auto& f : fibers) f.join();
      },
      weft::executor_options{.workers = workers});
  plain.join();
  CHECK(thread_saw_all);
}

TEST_CASE("latch: arrive_and_wait releases every arriver together", "[executor][latch]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  weft::latch start(4);
  std::atomic<int> arrived{0}, early{0};
  weft::run(
      [&] {
        std::vector<weft::join_handle<void>> fibers;
        for (int i = 0; i < 4; ++i)
          fibers.push_back(weft::spawn([&] {
            ++arrived;
            start.arrive_and_wait();
            if (arrived != 4) ++early;
          }));
        for (auto& f : fibers) f.join();
      },
      weft::executor_options{.workers = workers});
  CHECK(early == 0);
}

TEST_CASE("latch: timed waits time out and complete", "[executor][latch]") {
  weft::run([] {
    weft::latch l(1);
    CHECK_FALSE(l.wait_for(5ms));
    CHECK_FALSE(l.wait_until(std::chrono::steady_clock::now() + 1ms));
    auto h = weft::spawn([&] {
      weft::this_fiber::sleep_for(5ms);
      l.count_down();
    });
    CHECK(l.wait_for(10s));
    CHECK(l.wait_for(0ms));
    h.join();
  });
}

TEST_CASE("latch: bad counts throw and change nothing", "[executor][latch]") {
  CHECK_THROWS_AS(weft::latch(-1), std::invalid_argument);
  weft::latch l(2);
  CHECK_THROWS_AS(l.count_down(-1), std::invalid_argument);
  CHECK_THROWS_WITH(l.count_down(3), Catch::Matchers::Contains("exceeds the counter 2"));
  CHECK_FALSE(l.try_wait());
  l.count_down(2);
  CHECK(l.try_wait());
  l.wait();  // zero: returns at once, also from a plain thread
  CHECK(weft::latch::max() > 0);
}

TEST_CASE("barrier: phases of 8 fibers, the completion running once per phase before anyone goes on", "[executor][barrier]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  INFO(workers << " workers");
  constexpr int fibers = 8, phases = 20;
  std::atomic<int> arrivals{0}, completions{0}, wrong{0};
  auto on_completion = [&]() noexcept {
    if (arrivals.load() != fibers * (completions.load() + 1)) ++wrong;
    ++completions;
  };
  weft::barrier sync(fibers, on_completion);
  weft::run(
      [&] {
        std::vector<weft::join_handle<void>> all;
        for (int i = 0; i < fibers; ++i)
          all.push_back(weft::spawn([&] {
            for (int p = 0; p < phases; ++p) {
              ++arrivals;
              sync.arrive_and_wait();
              if (completions.load() < p + 1) ++wrong;  // the completion ran first
            }
          }));
        for (auto& f : all) f.join();
      },
      weft::executor_options{.workers = workers});
  CHECK(completions == phases);
  CHECK(wrong == 0);
}

TEST_CASE("barrier: arrive and wait separately, from fibers and a plain thread", "[executor][barrier]") {
  weft::barrier<> sync(3);
  std::atomic<int> passed{0};
  std::thread plain([&] {
    for (int p = 0; p < 5; ++p) {
      auto token = sync.arrive();
      sync.wait(std::move(token));
      ++passed;
    }
  });
  weft::run([&] {
    auto other = weft::spawn([&] {
      for (int p = 0; p < 5; ++p) sync.arrive_and_wait();
    });
    for (int p = 0; p < 5; ++p) {
      auto token = sync.arrive();
      weft::this_fiber::yield();
      sync.wait(std::move(token));
    }
    other.join();
  });
  plain.join();
  CHECK(passed == 5);
}

TEST_CASE("barrier: arrive_and_drop lowers the count from the next phase on", "[executor][barrier]") {
  std::atomic<int> completions{0};
  auto count = [&]() noexcept { ++completions; };
  weft::barrier sync(2, count);
  weft::run([&] {
    auto leaver = weft::spawn([&] {
      sync.arrive_and_wait();
      sync.arrive_and_drop();  // phase 2 counts it; phase 3 on awaits one
    });
    sync.arrive_and_wait();
    sync.arrive_and_wait();
    sync.arrive_and_wait();  // alone now
    leaver.join();
  });
  CHECK(completions == 3);
}

TEST_CASE("barrier: bad arrivals and foreign tokens throw and count nothing", "[executor][barrier]") {
  CHECK_THROWS_AS(weft::barrier<>(-1), std::invalid_argument);
  weft::barrier<> a(2), b(2);
  CHECK_THROWS_AS((void)a.arrive(0), std::logic_error);
  CHECK_THROWS_WITH((void)a.arrive(3), Catch::Matchers::Contains("exceeds the 2 arrivals"));
  auto token = a.arrive();
  CHECK_THROWS_AS(b.wait(std::move(token)), std::invalid_argument);
  auto second = a.arrive();  // completes the phase
  a.wait(std::move(second));  // that phase is over: returns at once
  CHECK_THROWS_AS(a.wait(std::move(second)), std::invalid_argument);  // used already
}

TEST_CASE("a deadlock report names fibers waiting on a latch, a barrier, a semaphore and a shared_mutex", "[executor][deadlock]") {
  weft::latch never_zero(1);
  weft::barrier<> two(2);
  weft::counting_semaphore<> none(0);
  weft::shared_mutex held;
  weft::executor ex;
  std::vector<weft::join_handle<void>> fibers;
  fibers.push_back(ex.spawn(weft::spawn_options{.name = "at-latch"}, [&] { never_zero.wait(); }));
  fibers.push_back(ex.spawn(weft::spawn_options{.name = "at-barrier"}, [&] { two.arrive_and_wait(); }));
  fibers.push_back(ex.spawn(weft::spawn_options{.name = "at-semaphore"}, [&] { none.acquire(); }));
  fibers.push_back(ex.spawn(weft::spawn_options{.name = "at-shared-mutex"}, [&] {
    held.lock_shared();  // then waits for the writer below to go first... which waits for it
    weft::this_fiber::yield();
    held.lock();
  }));
  std::string message;
  try {
    ex.run();
  } catch (const weft::deadlock_error& e) {
    message = e.what();
  }
  INFO(message);
  CHECK_THAT(message, Catch::Matchers::Contains("\"at-latch\" waits on latch"));
  CHECK_THAT(message, Catch::Matchers::Contains("\"at-barrier\" waits on barrier"));
  CHECK_THAT(message, Catch::Matchers::Contains("\"at-semaphore\" waits on semaphore"));
  CHECK_THAT(message, Catch::Matchers::Contains("\"at-shared-mutex\" waits on shared_mutex"));
  // Let them go: each wait ends, and the executor's run finishes.
  never_zero.count_down();
  (void)two.arrive();
  none.release();
  held.unlock_shared();
  for (auto& f : fibers) f.join();
}
