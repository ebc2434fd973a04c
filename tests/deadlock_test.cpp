// Deadlock detection: deadlock_error names every blocked fiber and what it waits on, from
// run() and from join(); no deadlock while a timer is pending or a work_guard lives.
#include <chrono>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/weft.hpp>

using namespace std::chrono_literals;
using Catch::Matchers::Contains;

namespace {
std::string deadlock_message(weft::executor& ex) {
  try {
    ex.run();
  } catch (const weft::deadlock_error& e) {
    return e.what();
  }
  return "(no deadlock_error)";
}
std::string fiber_line(std::uint64_t id, const std::string& name, const std::string& what) {
  return "fiber " + std::to_string(id) + " \"" + name + "\" waits on " + what;
}
}  // namespace

TEST_CASE("deadlock_error: two fibers each waiting on the other's channel",
          "[executor][deadlock]") {
  weft::channel<int> to_a, to_b;
  weft::executor ex;
  auto a = ex.spawn([&] {
    weft::this_fiber::set_name("alpha");
    auto v = to_a.recv();
    to_b.send(1);
    return v.value_or(-1);
  });
  auto b = ex.spawn([&] {
    weft::this_fiber::set_name("beta");
    auto v = to_b.recv();
    to_a.send(2);
    return v.value_or(-1);
  });
  CHECK_THROWS_AS(ex.run(), weft::deadlock_error);
  const std::string msg = deadlock_message(ex);  // still deadlocked: run() says so again
  INFO(msg);
  CHECK_THAT(msg, Contains("deadlock"));
  CHECK_THAT(msg, Contains(fiber_line(a.id(), "alpha", "channel recv")));
  CHECK_THAT(msg, Contains(fiber_line(b.id(), "beta", "channel recv")));
  CHECK(ex.live_fibers() == 2);
  // deadlock_error is a std::runtime_error
  CHECK_THROWS_AS(ex.run(), std::runtime_error);
}

TEST_CASE("deadlock_error names a fiber by its spawn_options::name, even if it never ran",
          "[executor][deadlock][spawn_options]") {
  weft::event never;
  weft::executor ex;
  auto waiter = ex.spawn(weft::spawn_options{.name = "named-at-spawn"}, [&] { never.wait(); });
  const std::string msg = deadlock_message(ex);
  INFO(msg);
  CHECK_THAT(msg, Contains(fiber_line(waiter.id(), "named-at-spawn", "event")));
  never.set();
  waiter.join();
}

TEST_CASE("deadlock_error names every blocked fiber and what it waits on",
          "[executor][deadlock]") {
  // The primitives outlive the executor, which unwinds the fibers blocked in them.
  weft::event never;
  weft::channel<int> full(1), empty_rendezvous;
  weft::mutex m, m2;
  weft::condition_variable cv;
  weft::wait_group wg;
  weft::executor ex;
  std::vector<std::string> expected;
  auto setup = ex.spawn([&] {
    auto spawn_named = [&](std::string name, std::string what, auto body) {
      auto h = weft::spawn([name, b = std::move(body)]() mutable {
        weft::this_fiber::set_name(name);
        b();
      });
      expected.push_back(fiber_line(h.id(), name, what));
      h.detach();
    };
    spawn_named("gamma", "event", [&] { never.wait(); });
    spawn_named("sender", "channel send", [&] {
      full.send(1);
      full.send(2);
    });
    spawn_named("receiver", "channel recv", [&] { empty_rendezvous.recv(); });
    spawn_named("holder", "event", [&] {
      m.lock();
      never.wait();
    });
    spawn_named("locker", "mutex", [&] { std::lock_guard g(m); });
    spawn_named("cv-waiter", "condition_variable", [&] {
      std::unique_lock lk(m2);
      cv.wait(lk);
    });
    wg.add(2);
    spawn_named("wg-waiter", "wait_group", [&] { wg.wait(); });
    auto blocked = weft::spawn([&] { never.wait(); });  // unnamed
    expected.push_back(fiber_line(blocked.id(), "", "event"));
    spawn_named("joiner", "join", [h = std::move(blocked)]() mutable { h.join(); });
  });
  setup.join();  // join drives the executor; setup itself finishes
  try {
    ex.run();
    FAIL("no deadlock_error");
  } catch (const weft::deadlock_error& e) {
    const std::string msg = e.what();
    INFO(msg);
    for (const std::string& line : expected) CHECK_THAT(msg, Contains(line));
    CHECK_THAT(msg, Contains(std::to_string(expected.size()) + " fibers"));
  }
  CHECK(ex.live_fibers() == expected.size());
}

TEST_CASE("deadlock_error from join() driving the executor", "[executor][deadlock]") {
  weft::executor ex;
  weft::event never;
  auto h = ex.spawn([&] {
    weft::this_fiber::set_name("stuck");
    never.wait();
    return 1;
  });
  try {
    h.join();
    FAIL("no deadlock_error");
  } catch (const weft::deadlock_error& e) {
    CHECK_THAT(std::string(e.what()), Contains(fiber_line(h.id(), "stuck", "event")));
  }
  CHECK(h.joinable());  // the failed join left the handle alone
  CHECK_FALSE(h.done());
  // A later set from outside lets it finish.
  never.set();
  CHECK(h.join() == 1);
}

TEST_CASE("no deadlock_error while a timer is pending", "[executor][deadlock]") {
  weft::event ev;
  std::vector<std::string> trace;
  weft::executor ex;
  ex.spawn([&] {
    ev.wait();
    trace.push_back("waiter woken");
  });
  ex.spawn([&] {
    weft::this_fiber::sleep_for(10ms);  // the only thing that can wake the waiter
    trace.push_back("sleeper sets");
    ev.set();
  });
  CHECK_NOTHROW(ex.run());
  CHECK(trace == std::vector<std::string>{"sleeper sets", "waiter woken"});
}

TEST_CASE("no deadlock_error while a work_guard lives, and the guard's end ends the wait",
          "[executor][deadlock][threads]") {
  weft::executor ex;
  weft::channel<int> ch;
  auto h = ex.spawn([&] { return ch.recv().value_or(-1); });
  weft::executor::work_guard guard(ex);
  weft::executor::work_guard moved(std::move(guard));
  std::thread feeder([&, g = std::move(moved)]() mutable {
    std::this_thread::sleep_for(10ms);  // not yet inside a weft call
    ch.send(5);
    g.reset();
  });
  CHECK_NOTHROW(ex.run());
  feeder.join();
  CHECK(h.join() == 5);

  // Once the guards are gone, the same situation is a deadlock again.
  weft::event never;
  ex.spawn([&] { never.wait(); });
  {
    weft::executor::work_guard g(ex);
    g.reset();
    g.reset();  // harmless
  }
  CHECK_THROWS_AS(ex.run(), weft::deadlock_error);
  never.set();
  ex.run();
}

TEST_CASE("the deadlock message names work_guard, the fix for a waker run() cannot see",
          "[executor][deadlock]") {
  weft::channel<int> fed_later;
  weft::executor ex(weft::executor_options{.deadlock_grace = 0ms});
  auto h = ex.spawn([&] { return fed_later.recv(); });
  CHECK_THAT(deadlock_message(ex), Contains("executor::work_guard"));
}

TEST_CASE("a fiber fed by a thread that has not called into weft yet is not a deadlock",
          "[executor][deadlock][thread]") {
  // The pattern users write all the time: start a producer thread, then run fibers that
  // receive from it. run() once threw deadlock_error whenever it looked before the thread's
  // first call (about 1 run in 10); the delays make that look certain here.
  for (const auto delay : {0ms, 1ms, 30ms, 100ms}) {
    weft::channel<int> values;
    std::thread producer([&] {
      std::this_thread::sleep_for(delay);
      for (int i = 1; i <= 3; ++i) values.send(i);
      values.close();
    });
    int sum = 0;
    try {
      weft::run([&] {
        while (auto v = values.recv()) sum += *v;
      });
    } catch (const weft::deadlock_error& e) {
      values.close();  // lets the producer finish
      FAIL_CHECK("after " << delay.count() << " ms: " << e.what());
    }
    producer.join();
    CHECK(sum == 6);
  }
}

TEST_CASE("a fiber woken by another executor's fiber is not a deadlock",
          "[executor][deadlock][thread]") {
  // As Boost.Fiber's condition_mt test: one executor per thread, sharing a mutex and a
  // condition variable. The waiting executor sees no fiber of its own that could wake it.
  for (int round = 0; round < 20; ++round) {
    weft::mutex m;
    weft::condition_variable cv;
    bool ready = false;
    std::thread notifier([&] {
      weft::run([&] {
        weft::this_fiber::sleep_for(std::chrono::milliseconds(round % 3 * 10));
        {
          std::lock_guard lock(m);
          ready = true;
        }
        cv.notify_all();
      });
    });
    try {
      weft::run([&] {
        std::unique_lock lock(m);
        cv.wait(lock, [&] { return ready; });
      });
    } catch (const weft::deadlock_error& e) {
      FAIL_CHECK("round " << round << ": " << e.what());
    }
    notifier.join();
  }
}

TEST_CASE("a real deadlock is still reported, after deadlock_grace", "[executor][deadlock]") {
  const auto grace = 100ms;
  weft::channel<int> never;
  weft::executor ex(weft::executor_options{.deadlock_grace = grace});
  auto h = ex.spawn([&] { return never.recv(); });
  const auto start = std::chrono::steady_clock::now();
  CHECK_THAT(deadlock_message(ex), Contains("waits on channel"));
  CHECK(std::chrono::steady_clock::now() - start >= grace);  // not before the grace is over
}

TEST_CASE("a negative deadlock_grace is rejected", "[executor][deadlock]") {
  CHECK_THROWS_WITH(weft::executor(weft::executor_options{.deadlock_grace = -1ms}),
                    Contains("deadlock_grace"));
}
