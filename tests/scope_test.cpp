// weft::scope: children joined by join() or the destructor, the first failure stopping the
// siblings in each kind of wait and rethrown by join(), kept handles yielding values after
// join(), nested scopes propagating a stop, a stopped joiner, spawning into a stopped scope,
// the scope's token, scopes on plain threads, and the failure nobody joined.
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <stop_token>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/weft.hpp>

#include "support/child_process.hpp"
#include "support/fixtures.hpp"
#include "support/wait_until.hpp"

using namespace std::chrono_literals;
using weft_test::custom_error;
using weft_test::with_workers;

namespace {
// Every waiting child of the tests below ends cancelled, counted here.
template <class Wait>
auto counting_cancellation(std::atomic<int>& cancelled, Wait wait) {
  return [&cancelled, wait] {
    try {
      wait();
    } catch (const weft::operation_cancelled&) {
      ++cancelled;
      throw;
    }
  };
}
}  // namespace

TEST_CASE("a scope's join waits for every child, and kept handles yield values after it",
          "[scope]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  CAPTURE(workers);
  weft::run(
      [] {
        std::atomic<int> ended{0};
        weft::scope s;
        auto kept = s.spawn([] {
          weft::this_fiber::sleep_for(2ms);
          return 42;
        });
        for (int i = 0; i < 50; ++i) {
          s.spawn([&ended, i] {  // handles dropped: the scope still owns them
            weft::this_fiber::sleep_for(std::chrono::microseconds(10 * (i % 7)));
            ++ended;
          });
        }
        s.join();
        CHECK(ended.load() == 50);
        CHECK(kept.done());
        CHECK(kept.join() == 42);
        s.join();  // nothing left: returns at once
      },
      with_workers(workers));
}

TEST_CASE("the first failure stops the siblings in every kind of wait and join rethrows it",
          "[scope]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  CAPTURE(workers);
  weft::run(
      [] {
        weft::channel<int> empty(0);
        weft::channel<int> full(1);
        full.send(0);
        weft::event never;
        weft::wait_group never_done;
        never_done.add();
        weft::mutex m;
        weft::condition_variable cv;
        std::atomic<int> cancelled{0};
        {
          weft::scope s;
          s.spawn(counting_cancellation(cancelled, [] { weft::this_fiber::sleep_for(1h); }));
          s.spawn(counting_cancellation(cancelled, [&] { (void)empty.recv(); }));
          s.spawn(counting_cancellation(cancelled, [&] { full.send(1); }));
          s.spawn(counting_cancellation(cancelled, [&] { never.wait(); }));
          s.spawn(counting_cancellation(cancelled, [&] { never_done.wait(); }));
          s.spawn(counting_cancellation(cancelled, [&] {
            weft::select(weft::recv_case(empty, [](std::optional<int>) {}),
                         weft::timeout_case(1h, [] {}));
          }));
          s.spawn(counting_cancellation(cancelled, [&] {
            std::unique_lock lock(m);
            cv.wait(lock);
          }));
          s.spawn([] {
            weft::this_fiber::sleep_for(1ms);
            throw custom_error(7);
          });
          try {
            s.join();
            FAIL("join did not rethrow the failure");
          } catch (const custom_error& e) {
            CHECK(e.code == 7);
          }
        }
        CHECK(cancelled.load() == 7);
        never_done.done();
      },
      with_workers(workers));
}

TEST_CASE("a stop reaches the children of nested scopes, not fibers spawned outside them",
          "[scope]") {
  weft::run([] {
    std::atomic<int> cancelled{0};
    weft::event release_outsider;
    weft::join_handle<bool> outsider;
    weft::scope outer;
    outer.spawn([&] {
      weft::scope inner;  // a child's scope: stopped when the child is
      for (int i = 0; i < 3; ++i)
        inner.spawn(counting_cancellation(cancelled, [] { weft::this_fiber::sleep_for(1h); }));
      outsider = weft::spawn([&] {  // not in a scope: the stop does not reach it
        release_outsider.wait();
        return weft::this_fiber::stop_requested();
      });
      inner.join();
    });
    weft::this_fiber::sleep_for(1ms);
    outer.request_stop();
    CHECK(outer.get_stop_token().stop_requested());
    outer.join();  // cancellations by the scope's own stop are no failure
    CHECK(cancelled.load() == 3);
    release_outsider.set();
    CHECK_FALSE(outsider.join());
  });
}

// (A test name must not start with '~': Catch reads that as "every test but".)
TEST_CASE("a scope destroyed without join stops and joins the children left", "[scope]") {
  weft::run([] {
    std::atomic<int> cancelled{0};
    {
      weft::scope s;
      for (int i = 0; i < 10; ++i)
        s.spawn(counting_cancellation(cancelled, [] { weft::this_fiber::sleep_for(1h); }));
    }
    CHECK(cancelled.load() == 10);
  });
}

TEST_CASE("a stopped fiber in scope::join stops its children, waits, and throws", "[scope]") {
  const std::size_t workers = GENERATE(1, 2);
  CAPTURE(workers);
  weft::run(
      [] {
        std::atomic<int> cancelled{0};
        std::atomic<bool> cleaned{false};
        auto joiner = weft::spawn([&] {
          weft::scope s;
          s.spawn(counting_cancellation(cancelled, [&] {
            struct cleanup {
              std::atomic<bool>& cleaned;
              ~cleanup() {
                weft::this_fiber::sleep_for(1ms);  // no interruption point while unwinding
                cleaned = true;
              }
            } c{cleaned};
            weft::this_fiber::sleep_for(1h);
          }));
          s.join();
        });
        CHECK(joiner.request_stop());
        CHECK_THROWS_AS(joiner.join(), weft::operation_cancelled);
        CHECK(cancelled.load() == 1);
        CHECK(cleaned.load());
      },
      with_workers(workers));
}

TEST_CASE("a child spawned into a stopped scope starts stopped", "[scope]") {
  weft::run([] {
    weft::scope s;
    std::stop_token token = s.get_stop_token();
    s.request_stop();
    CHECK(token.stop_requested());
    auto h = s.spawn([] { return weft::this_fiber::stop_requested(); });
    auto sleeper = s.spawn([] { weft::this_fiber::sleep_for(1h); });
    s.join();
    CHECK(h.join());
    CHECK_THROWS_AS(sleeper.join(), weft::operation_cancelled);
  });
}

TEST_CASE("a stop callback of a child may spawn into its scope and stop another scope",
          "[scope]") {
  weft::run([] {
    weft::scope s, other;
    std::atomic<bool> cleanup_stopped{false};
    other.spawn([] { weft::this_fiber::sleep_for(1h); });
    s.spawn([&](std::stop_token token) {
      // Runs in the fiber that calls s.request_stop(), which holds no lock by then.
      std::stop_callback on_stop(token, [&] {
        s.spawn([&] { cleanup_stopped = weft::this_fiber::stop_requested(); });
        other.request_stop();
      });
      weft::this_fiber::sleep_for(1h);
    });
    s.request_stop();
    s.join();
    other.join();
    CHECK(cleanup_stopped.load());  // spawned into a stopped scope
  });
}

TEST_CASE("a scope on a plain thread runs the executor while it joins", "[scope]") {
  const std::size_t workers = GENERATE(1, 2);
  CAPTURE(workers);
  weft::executor ex(with_workers(workers));
  weft::channel<int> ch(0);
  weft::scope s(ex);
  auto sum = s.spawn([&] {
    int total = 0;
    while (auto v = ch.recv()) total += *v;
    return total;
  });
  s.spawn([&] {
    for (int i = 1; i <= 100; ++i) ch.send(i);
    ch.close();
  });
  s.join();  // nobody runs ex: join does
  CHECK(sum.join() == 5050);

  // With another thread running the executor, join blocks the thread.
  weft::executor::work_guard guard(ex);
  std::atomic<bool> running{false};
  ex.spawn([&] { running = true; }).detach();
  std::thread runner([&] { ex.run(); });
  REQUIRE(weft_test::wait_until([&] { return running.load(); }));
  weft::scope t(ex);
  auto child = t.spawn([] {
    weft::this_fiber::sleep_for(2ms);
    return 1;
  });
  t.join();
  CHECK(child.join() == 1);
  guard.reset();
  runner.join();
}

TEST_CASE("a scope made outside fibers without an executor cannot spawn", "[scope]") {
  weft::scope s;
  CHECK_THROWS_AS(s.spawn([] {}), std::logic_error);
  s.join();
}

TEST_CASE("weft::run's fiber is a scope root: run ends when its children are done", "[scope]") {
  std::atomic<int> ended{0};
  weft::run([&] {
    for (int i = 0; i < 8; ++i)
      weft::spawn([&] {  // handles dropped
        weft::this_fiber::sleep_for(1ms);
        ++ended;
      });
  });
  CHECK(ended.load() == 8);
}

TEST_CASE("a scope whose failure was never rethrown reports it and terminates", "[scope]") {
  const weft_test::child_result r = weft_test::run_in_child([] {
    weft::run([] {
      weft::scope s;
      s.spawn([] { throw custom_error(3); });
      weft::this_fiber::sleep_for(1ms);
    });  // ~scope: nothing left to wait for, the failure unreported
  });
  INFO(r.describe());
  CHECK(r.how() == "signal 6");
  CHECK_THAT(r.err, Catch::Contains("a child of a weft::scope failed and the scope was never "
                                    "joined: weft_test::custom_error: custom 3"));
}
