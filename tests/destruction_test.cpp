// Destroying an executor with suspended fibers: they are unwound (their stacks' destructors
// run), never-started ones destroyed unrun, spawning meanwhile refused; join() driving the
// executor returns while others stay ready for the destruction to unwind.
#include <atomic>
#include <chrono>
#include <memory>
#include <cstdio>
#include <exception>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include <weft/weft.hpp>

#include "support/child_process.hpp"
#include "support/counters.hpp"

using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using weft_test::raii_counter;

TEST_CASE("destroying an executor unwinds its suspended fibers", "[executor][destroy]") {
  using weft_test::instance_counter;
  std::atomic<int> destroyed{0};
  std::atomic<int> resumed_normally{0};
  int expected_destroyed = 0;
  // Primitives outlive the executor: unwinding takes the fibers out of them.
  weft::event ev;
  weft::channel<int> recv_ch, send_ch, buffered_full(1);
  weft::mutex m, cv_mutex;
  weft::condition_variable cv;
  weft::wait_group wg;
  std::optional<weft::join_handle<int>> kept_blocked;
  std::optional<weft::join_handle<int>> kept_finished;
  std::optional<weft::join_handle<int>> kept_never_started;
  REQUIRE(instance_counter::live == 0);
  {
    weft::executor ex;
    auto setup = ex.spawn([&] {
      auto blocking = [&](auto body) {
        ++expected_destroyed;
        return weft::spawn([&, b = std::move(body)]() mutable {
          raii_counter r(destroyed);
          b();
          ++resumed_normally;
          return 0;
        });
      };
      blocking([&] { ev.wait(); }).detach();
      blocking([&] { recv_ch.recv(); }).detach();
      blocking([&] { send_ch.send(1); }).detach();
      blocking([&] {
        buffered_full.send(1);
        buffered_full.send(2);
      }).detach();
      blocking([&] {  // holds m while blocked on the event
        std::lock_guard g(m);
        ev.wait();
      }).detach();
      blocking([&] { std::lock_guard g(m); }).detach();  // blocked on m
      blocking([&] {
        std::unique_lock lk(cv_mutex);
        cv.wait(lk, [] { return false; });
      }).detach();
      wg.add(1);
      blocking([&] { wg.wait(); }).detach();
      blocking([&] { weft::this_fiber::sleep_for(1h); }).detach();
      auto target = blocking([&] { ev.wait(); });
      blocking([&, t = std::move(target)]() mutable { t.join(); }).detach();  // blocked on join
      // A nested stack of RAII objects across several frames.
      blocking([&] {
        raii_counter a(destroyed);
        auto inner = [&] {
          raii_counter b(destroyed);
          ev.wait();
        };
        inner();
      }).detach();
      expected_destroyed += 2;
      kept_blocked = blocking([&] { ev.wait(); });
      return 0;
    });
    CHECK(setup.join() == 0);
    kept_finished = ex.spawn([] { return 5; });
    CHECK(kept_finished->join() == 5);
    kept_finished = ex.spawn([] { return 6; });
    ex.spawn([] { return 6; }).join();  // the previous one finishes too (FIFO)
    // Never started: its captures are destroyed without running it.
    ex.spawn([c = instance_counter(1), &resumed_normally] { ++resumed_normally; }).detach();
    kept_never_started = ex.spawn([c = instance_counter(2)] { return c.value; });
    CHECK(instance_counter::live >= 2);
    CHECK(ex.live_fibers() == 15);
    CHECK(destroyed == 0);
  }
  CHECK(destroyed == expected_destroyed);
  CHECK(resumed_normally == 0);
  CHECK(instance_counter::live == 0);
  // Handles kept past the executor: the unwound fibers report it; finished ones still work.
  REQUIRE(kept_blocked->done());
  CHECK_THROWS_WITH(kept_blocked->join(), Contains("executor was destroyed"));
  CHECK_THROWS_WITH(kept_never_started->join(), Contains("executor was destroyed"));
  CHECK(kept_finished->join() == 6);
  // The primitives are usable and empty afterwards.
  CHECK_FALSE(ev.is_set());
  CHECK(m.try_lock());
  m.unlock();
  CHECK(cv_mutex.try_lock());
  cv_mutex.unlock();
  CHECK(recv_ch.try_recv() == std::nullopt);
  CHECK(buffered_full.try_recv() == 1);
}

TEST_CASE("join() driving the executor returns once its fiber ends, though others keep yielding",
          "[executor][join][destroy]") {
  // The yielder is ready all the time; join() must still return as soon as `target` has
  // ended (it runs the executor "until then"), leaving the yielder ready. Destroying the
  // executor then unwinds the yielder at its next yield.
  constexpr long limit = 200000;
  long yields = 0;
  bool completed = false;
  std::atomic<int> destroyed{0};
  {
    weft::executor ex;
    ex.spawn([&] {
      raii_counter r(destroyed);
      while (yields < limit) {
        ++yields;
        weft::this_fiber::yield();
      }
      completed = true;
    });
    auto target = ex.spawn([] {
      for (int i = 0; i < 10; ++i) weft::this_fiber::yield();
      return 1;
    });
    CHECK(target.join() == 1);
    INFO("the yielder had yielded " << yields << " times when join returned");
    CHECK(yields < limit);
    CHECK_FALSE(completed);
  }
  CHECK(destroyed == 1);
}

TEST_CASE("destroying an executor whose fibers were never started", "[executor][destroy]") {
  using weft_test::instance_counter;
  std::atomic<int> ran{0};
  {
    weft::executor ex;
    for (int i = 0; i < 50; ++i)
      ex.spawn([&, c = instance_counter(i)](instance_counter) { ++ran; }, instance_counter(-i));
  }
  CHECK(ran == 0);
  CHECK(instance_counter::live == 0);
}

TEST_CASE("spawn on an executor being destroyed throws std::logic_error", "[executor][destroy]") {
  struct spawns_on_destruction {
    weft::executor* ex;
    std::string* free_error;
    std::string* member_error;
    ~spawns_on_destruction() {
      try {
        weft::spawn([] {});
        *free_error = "(no exception)";
      } catch (const std::logic_error& e) {
        *free_error = e.what();
      }
      try {
        ex->spawn([] {});
        *member_error = "(no exception)";
      } catch (const std::logic_error& e) {
        *member_error = e.what();
      }
    }
  };
  std::string free_error, member_error;
  weft::event never;
  {
    weft::executor ex;
    ex.spawn([&] {
      spawns_on_destruction s{&ex, &free_error, &member_error};
      never.wait();
    });
    ex.spawn([] {}).join();  // start the fiber above
  }
  CHECK_THAT(free_error, Contains("being destroyed"));
  CHECK_THAT(member_error, Contains("being destroyed"));
}

TEST_CASE("a fiber's own catch handlers do not see the unwinding as a std::exception",
          "[executor][destroy]") {
  // The unwinding exception is internal: a catch (const std::exception&) in the fiber does not
  // swallow it, so the fiber still ends.
  bool caught_std = false;
  std::atomic<int> destroyed{0};
  weft::event never;
  {
    weft::executor ex;
    ex.spawn([&] {
      raii_counter r(destroyed);
      try {
        never.wait();
      } catch (const std::exception&) {
        caught_std = true;
      }
    });
    ex.spawn([] {}).join();
  }
  CHECK_FALSE(caught_std);
  CHECK(destroyed == 1);
}

TEST_CASE("a plain thread that wakes the last fiber may still be inside weft as the executor goes",
          "[executor][destroy][thread]") {
  // The thread's wake queues the fiber, which can run, end, and let run() return and the
  // executor be destroyed while the thread is still waking a parked worker. That was a
  // use-after-free of the executor's internals (ThreadSanitizer reports it; ASan and valgrind
  // when the timing is right).
  constexpr int rounds = 300;
  int woken = 0;
  for (int round = 0; round < rounds; ++round) {
    weft::event ready, go;  // outlive the executor and the waker's call
    std::thread waker;
    {
      weft::executor ex(weft::executor_options{.workers = 2});
      ex.spawn([&] {
        ready.set();
        // Timed, so that run() never takes the waker, not yet inside weft, for a deadlock.
        if (go.wait_for(60s)) ++woken;
      }).detach();
      waker = std::thread([&] {
        ready.wait();
        go.set();  // the last weft call: the fiber may end before it returns
      });
      ex.run();
    }  // the executor is destroyed here, the waker perhaps still inside go.set()
    waker.join();
  }
  CHECK(woken == rounds);
}

TEST_CASE("destroying a primitive that fibers wait on aborts with one line naming them",
          "[executor][destroy][fault]") {
  // Once a use-after-free: the executor's destruction later took the fibers out of the
  // destroyed channel's queue. Waking them instead would resume them into a dead object.
  auto r = weft_test::run_in_child([] {
    weft::executor ex;
    auto values = std::make_unique<weft::channel<int>>();
    for (const char* name : {"first-receiver", "second-receiver"})
      ex.spawn(weft::spawn_options{.name = name}, [&] { values->recv(); }).detach();
    ex.spawn([] {}).join();  // runs the executor: both receivers start and block
    values.reset();
    std::printf("destroyed\n");  // must not happen
  });
  INFO("child stderr: " << r.err);
  CHECK(r.aborted());
  CHECK_FALSE(r.sanitizer_report());
  CHECK(r.out.find("destroyed") == std::string::npos);
  CHECK_THAT(r.err, Contains("weft: channel recv 0x"));
  CHECK_THAT(r.err, Contains("destroyed while 2 callers are waiting on it"));
  CHECK_THAT(r.err, Contains("\"first-receiver\""));
  CHECK_THAT(r.err, Contains("\"second-receiver\""));
}
