// Timed forms of every blocking call (channel recv_for/recv_until/send_for/send_until, event,
// wait_group and join_handle wait_for/wait_until, mutex try_lock_for/try_lock_until,
// condition_variable wait_for/wait_until), on 1, 2 and 4 workers and from plain threads: they
// time out, they complete before the deadline, a race of completion against the deadline loses
// and duplicates nothing, and a wait that completes early leaves no timer behind.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/weft.hpp>

#include "support/fixtures.hpp"
#include "support/internals.hpp"
#include "support/sanitizers.hpp"

using namespace std::chrono_literals;
using weft_test::with_workers;
using clock_type = std::chrono::steady_clock;

TEST_CASE("timed waits time out, no earlier than asked", "[timed]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  CAPTURE(workers);
  weft::run(
      [] {
        weft::channel<int> ch(0);
        weft::event ev;
        weft::wait_group wg;
        wg.add();
        weft::mutex m;
        m.lock();
        weft::condition_variable cv;
        auto sleeper = weft::spawn([] { weft::this_fiber::sleep_for(200ms); });
        auto timed_out_after = [](auto wait) {
          const auto start = clock_type::now();
          const bool ok = wait();
          return !ok && clock_type::now() - start >= 5ms;
        };
        CHECK(timed_out_after([&] { return ch.recv_for(5ms).has_value(); }));
        CHECK(timed_out_after([&] { return ch.recv_until(clock_type::now() + 5ms).has_value(); }));
        CHECK(timed_out_after([&] {
          return ch.recv_until(std::chrono::system_clock::now() + 5ms).has_value();
        }));
        int v = 7;
        CHECK(timed_out_after([&] { return ch.send_for(v, 5ms); }));
        CHECK(timed_out_after([&] { return ch.send_until(v, clock_type::now() + 5ms); }));
        CHECK(v == 7);  // not moved from: nothing was delivered
        CHECK_FALSE(ch.is_closed());
        CHECK(timed_out_after([&] { return ev.wait_for(5ms); }));
        CHECK(timed_out_after([&] { return ev.wait_until(clock_type::now() + 5ms); }));
        CHECK(timed_out_after([&] { return wg.wait_for(5ms); }));
        CHECK(timed_out_after([&] { return wg.wait_until(clock_type::now() + 5ms); }));
        CHECK(timed_out_after([&] { return sleeper.wait_for(5ms); }));
        CHECK(timed_out_after([&] { return sleeper.wait_until(clock_type::now() + 5ms); }));
        auto locker = weft::spawn([&] {
          return timed_out_after([&] { return m.try_lock_for(5ms); }) &&
                 timed_out_after([&] { return m.try_lock_until(clock_type::now() + 5ms); });
        });
        CHECK(locker.join());
        weft::mutex cv_mutex;
        std::unique_lock lock(cv_mutex);
        CHECK(timed_out_after([&] { return cv.wait_for(lock, 5ms) == std::cv_status::no_timeout; }));
        CHECK(timed_out_after([&] { return cv.wait_for(lock, 5ms, [] { return false; }); }));
        CHECK(timed_out_after(
            [&] { return cv.wait_until(lock, clock_type::now() + 5ms, [] { return false; }); }));
        CHECK(lock.owns_lock());  // taken back after the timeout
        // Zero and negative timeouts do not wait.
        CHECK_FALSE(ch.recv_for(0ms));
        CHECK_FALSE(ev.wait_for(-1s));
        CHECK_FALSE(m.try_lock_for(0ms));
        m.unlock();
        wg.done();
        sleeper.join();
      },
      with_workers(workers));
}

TEST_CASE("timed waits that complete before their deadline", "[timed]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  CAPTURE(workers);
  weft::run(
      [] {
        weft::channel<int> ch(0);
        weft::event ev;
        weft::wait_group wg;
        wg.add();
        weft::mutex m;
        weft::condition_variable cv;
        bool flag = false;
        m.lock();
        auto helper = weft::spawn([&] {
          weft::this_fiber::sleep_for(2ms);
          // No CHECK here: Catch's checks are not thread-safe, and the main fiber checks on
          // another worker meanwhile. A failed send makes the value below -1.
          if (!ch.send(1)) return -1;
          auto v = ch.recv();
          ev.set();
          wg.done();
          {
            std::lock_guard g(m);  // unlocked by the main fiber below
            flag = true;
          }
          cv.notify_all();
          return v.value_or(-1);
        });
        CHECK(ch.recv_for(10s) == 1);
        int two = 2;
        CHECK(ch.send_for(two, 10s));
        CHECK(ev.wait_for(10s));
        CHECK(wg.wait_for(10s));
        m.unlock();
        std::unique_lock lock(m);
        CHECK(cv.wait_for(lock, 10s, [&] { return flag; }));
        lock.unlock();
        CHECK(helper.wait_for(10s));
        CHECK(helper.join() == 2);
      },
      with_workers(workers));
}

TEST_CASE("a channel's timed sends and receives racing their deadlines lose nothing", "[timed]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  const std::size_t capacity = GENERATE(0, 3);
  CAPTURE(workers, capacity);
  const int senders = 8, per_sender = weft_test::under_tsan ? 200 : 1000;
  std::atomic<long> sent_sum{0}, received_sum{0};
  std::atomic<int> sent{0}, received{0};
  weft::run(
      [&] {
        weft::channel<int> ch(capacity);
        std::vector<weft::join_handle<void>> fibers;
        for (int s = 0; s < senders; ++s)
          fibers.push_back(weft::spawn([&, s] {
            for (int i = 0; i < per_sender; ++i) {
              int v = s * per_sender + i;
              if (ch.send_for(v, std::chrono::microseconds(i % 50))) {
                sent_sum += s * per_sender + i;
                ++sent;
              }
              if (i % 7 == 0) weft::this_fiber::yield();
            }
          }));
        std::atomic<bool> senders_done{false};
        for (int r = 0; r < 4; ++r)
          fibers.push_back(weft::spawn([&, r] {
            for (int i = 0;; ++i) {
              if (auto v = ch.recv_for(std::chrono::microseconds((i + r) % 40))) {
                received_sum += *v;
                ++received;
              } else if (senders_done.load()) {
                while (auto rest = ch.try_recv()) {  // what is buffered still counts
                  received_sum += *rest;
                  ++received;
                }
                return;
              }
            }
          }));
        for (int s = 0; s < senders; ++s) fibers[s].join();
        senders_done = true;
        for (auto& f : fibers)
          if (f.joinable()) f.join();
      },
      with_workers(workers));
  CHECK(sent > 0);
  CHECK(received == sent);
  CHECK(received_sum == sent_sum);
}

TEST_CASE("try_lock_for racing its deadline keeps mutual exclusion", "[timed]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  CAPTURE(workers);
  std::atomic<int> inside{0}, overlaps{0}, taken{0};
  long counter = 0;
  weft::run(
      [&] {
        weft::mutex m;
        std::vector<weft::join_handle<void>> fibers;
        for (int f = 0; f < 8; ++f)
          fibers.push_back(weft::spawn([&, f] {
            for (int i = 0; i < 300; ++i) {
              std::unique_lock lock(m, std::defer_lock);
              if (!lock.try_lock_for(std::chrono::microseconds((i + f) % 30))) continue;
              if (inside.fetch_add(1) != 0) ++overlaps;
              ++counter;
              ++taken;
              if (i % 3 == 0) weft::this_fiber::yield();
              inside.fetch_sub(1);
            }
          }));
        for (auto& f : fibers) f.join();
      },
      with_workers(workers));
  CHECK(overlaps == 0);
  CHECK(counter == taken);
  CHECK(taken > 0);
}

TEST_CASE("timed waits from plain threads", "[timed]") {
  weft::channel<int> ch(0);
  weft::event ev;
  weft::mutex m;
  weft::condition_variable cv;
  const auto start = clock_type::now();
  CHECK_FALSE(ch.recv_for(5ms));
  CHECK_FALSE(ev.wait_for(5ms));
  CHECK(clock_type::now() - start >= 10ms);
  std::unique_lock lock(m);
  CHECK(cv.wait_for(lock, 5ms) == std::cv_status::timeout);
  lock.unlock();
  // Completed by a fiber before the deadline.
  weft::executor ex(with_workers(2));
  ex.spawn([&] {
    weft::this_fiber::sleep_for(2ms);
    ch.send(5);
    ev.set();
  });
  std::thread runner([&] { ex.run(); });
  CHECK(ch.recv_for(10s) == 5);
  CHECK(ev.wait_for(10s));
  runner.join();
  // A plain thread's join with a timeout drives the executor while nobody runs it.
  weft::executor idle;
  auto slow = idle.spawn([] { weft::this_fiber::sleep_for(50ms); });
  CHECK_FALSE(slow.wait_for(5ms));
  CHECK(slow.wait_for(10s));
  slow.join();
}

TEST_CASE("waits that complete before their deadline leave no timer behind", "[timed]") {
  const int fibers = weft_test::under_tsan ? 2000 : weft_test::under_asan ? 20000 : 100000;
  bool armed_at_end = true;
  weft::run([&] {
    weft::channel<int> ch(0);
    std::vector<weft::join_handle<void>> receivers;
    receivers.reserve(fibers);
    for (int i = 0; i < fibers; ++i)
      receivers.push_back(weft::spawn([&] { CHECK(ch.recv_for(1h).has_value()); }));
    for (int i = 0; i < fibers; ++i) ch.send(i);
    for (auto& r : receivers) r.join();
    armed_at_end = weft::detail::current_core()->timers_armed();
  });
  CHECK_FALSE(armed_at_end);
}

TEST_CASE("a timed wait's timer leaves the heap when it is woken, before it runs again",
          "[timed]") {
  // On one worker the woken receiver cannot run before its waker suspends: its timer must be
  // gone already, so that the waker's worker has no timer to look at (and no clock to read).
  weft::executor_options one;
  one.workers = 1;
  std::vector<bool> armed_after_wake;
  weft::run(
      [&] {
        weft::channel<int> ch(0);
        auto receiver = weft::spawn([&] {
          for (int i = 0; i < 3; ++i) CHECK(ch.recv_for(1h) == i);
        });
        for (int i = 0; i < 3; ++i) {
          weft::this_fiber::yield();  // the receiver waits, its timer armed
          ch.send(i);                 // hands the value over and wakes it
          armed_after_wake.push_back(weft::detail::current_core()->timers_armed());
        }
        receiver.join();
      },
      one);
  CHECK(armed_after_wake == std::vector<bool>{false, false, false});
}

TEST_CASE("timeouts count from no earlier than the clock's now", "[timed]") {
  // The carried clock reading (weft/detail/deadline.hpp) is checked against fresh readings of
  // the steady clock: on several threads at once, with gaps below and above the millisecond
  // after which the clock is read again.
  auto check = [](int rounds) {
    int early = 0;
    for (int i = 0; i < rounds; ++i) {
      const auto before = clock_type::now();
      const auto counted_from = weft::detail::now_for_deadline();
      if (counted_from < before) ++early;
      if (i % 64 == 0) std::this_thread::sleep_for(std::chrono::microseconds(50 * (i % 41)));
    }
    return early;
  };
  const int rounds = 20000;
  std::atomic<int> early{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) threads.emplace_back([&] { early += check(rounds); });
  early += check(rounds);
  for (auto& t : threads) t.join();
  CHECK(early.load() == 0);
  const auto before = clock_type::now();
  CHECK(weft::detail::deadline_after(1ns) > before);
}

TEST_CASE("a near timeout armed while a far timer is armed fires on time", "[timed]") {
  // The far sleep lets the worker skip clock reads on its switches (timer_heap::may_be_due);
  // the near timeout must end that, while a busy fiber keeps the worker switching.
  const std::size_t workers = GENERATE(1, 2);
  CAPTURE(workers);
  weft::run(
      [] {
        weft::scope s;
        s.spawn([] { weft::this_fiber::sleep_for(10s); });
        std::atomic<bool> done{false};
        s.spawn([&] {
          while (!done.load()) weft::this_fiber::yield();
        });
        weft::this_fiber::sleep_for(20ms);  // the far sleep's shortcut is in place
        weft::channel<int> ch(0);
        const auto start = clock_type::now();
        CHECK_FALSE(ch.recv_for(5ms).has_value());
        const auto waited = clock_type::now() - start;
        done = true;
        s.request_stop();
        CHECK(waited >= 5ms);
        CHECK(waited < 500ms);  // not held until the far sleep's shortcut ran out (1 s)
      },
      with_workers(workers));
}

TEST_CASE("timeouts too long for the clock never end early, whatever their type", "[timed]") {
  using weft::detail::deadline;
  using weft::detail::deadline_after;
  // Unsigned counts beyond every signed one: "wait forever" spelt with ~0.
  CHECK(deadline_after(std::chrono::duration<unsigned long long, std::milli>(~0ULL)) ==
        deadline::max());
  CHECK(deadline_after(std::chrono::duration<std::uint64_t, std::nano>(std::uint64_t{1} << 63)) ==
        deadline::max());
  CHECK(deadline_after(std::chrono::hours::max()) == deadline::max());
  CHECK(deadline_after(std::chrono::duration<double>(1e300)) == deadline::max());
  const auto before = clock_type::now();
  const auto in_a_second = deadline_after(std::chrono::duration<unsigned, std::milli>(1000));
  CHECK(in_a_second >= before + 1s);
  CHECK(in_a_second < before + 2s);
  weft::run([] {
    weft::channel<int> ch(0);
    auto sender = weft::spawn([&] {
      weft::this_fiber::sleep_for(10ms);
      ch.send(1);
    });
    CHECK(ch.recv_for(std::chrono::duration<unsigned long long, std::milli>(~0ULL)) == 1);
    sender.join();
  });
}

TEST_CASE("a fiber sleeping forever is no deadlock while a plain thread can stop it", "[timed]") {
  // Its timer never fires (deadline time_point::max()), yet it is armed: the deadlock check
  // counts it, as it counts any pending timer.
  weft::executor ex;
  auto sleeper = ex.spawn([] { weft::this_fiber::sleep_for(std::chrono::hours::max()); });
  std::thread stopper([&] {
    std::this_thread::sleep_for(600ms);
    sleeper.request_stop();
  });
  CHECK_NOTHROW(ex.run());
  stopper.join();
  CHECK_THROWS_AS(sleeper.join(), weft::operation_cancelled);
}
