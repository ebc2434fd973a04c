// weft::shared_mutex (writer-preferring), recursive_mutex, timed_mutex, recursive_timed_mutex
// and condition_variable_any: from fibers and plain threads on 1, 2 and 4 workers, timed forms,
// and errors for misuse.
#include <atomic>
#include <chrono>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/weft.hpp>

using namespace std::chrono_literals;

TEST_CASE("shared_mutex: readers share, writers exclude, on 1, 2 and 4 workers", "[executor][shared_mutex]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  INFO(workers << " workers");
  weft::shared_mutex m;
  std::atomic<int> readers{0}, writers{0}, bad{0};
  long counter = 0;
  weft::run(
      [&] {
        std::vector<weft::join_handle<void>> fibers;
        for (int i = 0; i < 12; ++i)
          fibers.push_back(weft::spawn([&, i] {
            for (int r = 0; r < 30; ++r) {
              if (i % 3 == 0) {
                std::unique_lock lock(m);
                if (++writers != 1 || readers != 0) ++bad;
                ++counter;
                weft::this_fiber::yield();
                --writers;
              } else {
                std::shared_lock lock(m);
                ++readers;
                if (writers != 0) ++bad;
                weft::this_fiber::yield();
                --readers;
              }
            }
          }));
        for (auto& f : fibers) f.join();
      },
      weft::executor_options{.workers = workers});
  CHECK(bad == 0);
  CHECK(counter == 4 * 30);
}

TEST_CASE("shared_mutex prefers writers: a waiting writer stops new readers", "[executor][shared_mutex]") {
  weft::shared_mutex m;
  std::vector<char> order;
  weft::run([&] {
    m.lock_shared();
    auto writer = weft::spawn([&] {
      std::unique_lock lock(m);
      order.push_back('w');
    });
    CHECK_FALSE(m.try_lock_shared());  // the writer waits: no new reader
    auto reader = weft::spawn([&] {
      std::shared_lock lock(m);
      order.push_back('r');
    });
    m.unlock_shared();
    writer.join();
    reader.join();
  });
  CHECK(order == std::vector<char>{'w', 'r'});
}

TEST_CASE("shared_mutex: a writer that times out lets the readers queued behind it in", "[executor][shared_mutex]") {
  weft::shared_mutex m;
  weft::run([&] {
    m.lock_shared();
    bool reader_got_in = false;
    auto writer = weft::spawn([&] { CHECK_FALSE(m.try_lock_for(20ms)); });
    auto reader = weft::spawn([&] {
      m.lock_shared();  // queued behind the writer until it gives up
      reader_got_in = true;
      m.unlock_shared();
    });
    writer.join();
    reader.join();
    CHECK(reader_got_in);
    m.unlock_shared();
    CHECK(m.try_lock());
    m.unlock();
  });
}

TEST_CASE("shared_mutex timed forms, plain threads, and misuse", "[executor][shared_mutex]") {
  weft::shared_mutex m;
  std::atomic<bool> let_go{false};
  std::thread plain([&] {
    std::unique_lock lock(m);
    while (!let_go) std::this_thread::sleep_for(1ms);
  });
  while (m.try_lock_shared()) {  // until the thread holds it
    m.unlock_shared();
    std::this_thread::yield();
  }
  weft::run([&] {
    CHECK_FALSE(m.try_lock_shared_for(1ms));
    let_go = true;
    CHECK(m.try_lock_shared_for(10s));
    CHECK(m.try_lock_shared_until(std::chrono::steady_clock::now() + 1s));
    CHECK_FALSE(m.try_lock_for(1ms));
    m.unlock_shared();
    m.unlock_shared();
    CHECK(m.try_lock_until(std::chrono::steady_clock::now() + 1s));
    m.unlock();
  });
  plain.join();
  CHECK_THROWS_AS(m.unlock(), std::logic_error);
  CHECK_THROWS_AS(m.unlock_shared(), std::logic_error);
}

TEST_CASE("recursive_mutex: its owner locks again, others wait, and a stranger unlocking throws", "[executor][recursive_mutex]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  weft::recursive_mutex m;
  weft::recursive_timed_mutex tm;
  long counter = 0;
  weft::run(
      [&] {
        std::vector<weft::join_handle<void>> fibers;
        for (int i = 0; i < 8; ++i)
          fibers.push_back(weft::spawn([&] {
            for (int r = 0; r < 20; ++r) {
              std::lock_guard outer(m);
              std::lock_guard inner(m);
              ++counter;
              weft::this_fiber::yield();
            }
          }));
        for (auto& f : fibers) f.join();
        m.lock();
        CHECK(tm.try_lock());
        CHECK(tm.try_lock_for(1ms));  // again, its owner
        auto stranger = weft::spawn([&] {
          CHECK_THROWS_AS(m.unlock(), std::logic_error);
          CHECK_FALSE(m.try_lock());
          CHECK_FALSE(tm.try_lock_for(1ms));
        });
        stranger.join();
        tm.unlock();
        tm.unlock();
        m.unlock();
      },
      weft::executor_options{.workers = workers});
  CHECK(counter == 8 * 20);
  CHECK_THROWS_AS(m.unlock(), std::logic_error);  // a plain thread that does not own it
  m.lock();  // plain threads own it as themselves
  CHECK(m.try_lock());
  m.unlock();
  m.unlock();
}

TEST_CASE("timed_mutex is a weft::mutex with timed forms", "[executor][timed_mutex]") {
  weft::timed_mutex m;
  weft::run([&] {
    std::unique_lock lock(m);
    auto other = weft::spawn([&] {
      std::unique_lock<weft::timed_mutex> attempt(m, 2ms);
      CHECK_FALSE(attempt.owns_lock());
    });
    other.join();
  });
}

TEST_CASE("condition_variable_any works with shared_mutex, recursive_mutex and std::mutex", "[executor][condition_variable]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  weft::shared_mutex sm;
  weft::condition_variable_any cv;
  bool ready = false;
  int woken = 0;
  weft::run(
      [&] {
        std::vector<weft::join_handle<void>> waiters;
        for (int i = 0; i < 4; ++i)
          waiters.push_back(weft::spawn([&] {
            std::unique_lock lock(sm);
            cv.wait(lock, [&] { return ready; });
            ++woken;
          }));
        weft::this_fiber::yield();
        {
          std::unique_lock lock(sm);
          ready = true;
        }
        cv.notify_all();
        for (auto& w : waiters) w.join();

        std::unique_lock lock(sm);
        CHECK(cv.wait_for(lock, 2ms) == std::cv_status::timeout);
        CHECK(lock.owns_lock());
        CHECK_FALSE(cv.wait_until(lock, std::chrono::steady_clock::now() + 1ms, [] { return false; }));
      },
      weft::executor_options{.workers = workers});
  CHECK(woken == 4);

  std::mutex plain_mutex;  // a std::mutex, from a plain thread, woken by a fiber
  bool flag = false;
  std::thread plain([&] {
    std::unique_lock lock(plain_mutex);
    CHECK(cv.wait_for(lock, 10s, [&] { return flag; }));
  });
  weft::run([&] {
    weft::this_fiber::sleep_for(5ms);
    {
      std::lock_guard g(plain_mutex);
      flag = true;
    }
    cv.notify_one();
  });
  plain.join();
}

TEST_CASE("condition_variable_any: a lock whose unlock throws leaves nothing queued", "[executor][condition_variable]") {
  struct refusing_lock {
    void lock() {}
    void unlock() { throw std::logic_error("cannot unlock"); }
  };
  weft::condition_variable_any cv;
  refusing_lock l;
  CHECK_THROWS_WITH(cv.wait(l), "cannot unlock");
  cv.notify_all();  // nobody queued; destroying cv must not find a waiter either
}
