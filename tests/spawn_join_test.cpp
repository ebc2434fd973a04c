// Spawning fibers and joining them: what spawn copies and destroys, join's results and
// exceptions, joining from fibers and from plain threads, misuse, detaching; weft::run,
// executor::run and executor_options.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/weft.hpp>

#include "support/counters.hpp"
#include "support/fixtures.hpp"
#include "support/internals.hpp"  // threads_blocked_in_weft(), to know when a thread is blocked
#include "support/wait_until.hpp"

using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using weft_test::custom_error;

namespace {

int add(int a, int b) { return a + b; }

}  // namespace

// ---------------------------------------------------------------------------------------------
// spawn
// ---------------------------------------------------------------------------------------------

TEST_CASE("spawn from outside a fiber queues the fiber until run()", "[executor][spawn]") {
  weft::executor ex;
  bool ran = false;
  auto h = ex.spawn([&] {
    ran = true;
    return 5;
  });
  CHECK_FALSE(ran);
  CHECK_FALSE(h.done());
  CHECK(h.joinable());
  CHECK(ex.live_fibers() == 1);
  ex.run();
  CHECK(ran);
  CHECK(h.done());
  CHECK(ex.live_fibers() == 0);
  CHECK(h.join() == 5);
  CHECK_FALSE(h.joinable());
}

TEST_CASE("spawn accepts plain functions and extra arguments", "[executor][spawn]") {
  weft::executor ex;
  auto h = ex.spawn(add, 2, 3);
  auto h2 = ex.spawn(&add, 10, 20);
  ex.run();
  CHECK(h.join() == 5);
  CHECK(h2.join() == 30);
}

TEST_CASE("spawn from a fiber starts the child at once, depth-first", "[executor][spawn]") {
  weft::executor ex;
  std::vector<std::string> trace;
  auto root = ex.spawn([&] {
    trace.push_back("parent 1");
    auto a = weft::spawn([&] {
      trace.push_back("child a");
      auto grandchild = weft::spawn([&] { trace.push_back("grandchild"); });
      trace.push_back("child a after grandchild");
      grandchild.join();
    });
    trace.push_back("parent 2");
    auto b = ex.spawn([&] { trace.push_back("child b (member spawn)"); });  // same executor
    trace.push_back("parent 3");
    a.join();
    b.join();
  });
  ex.run();
  root.join();
  CHECK(trace == std::vector<std::string>{"parent 1", "child a", "grandchild",
                                          "child a after grandchild", "parent 2",
                                          "child b (member spawn)", "parent 3"});
}

TEST_CASE("a child that blocks lets its parent continue", "[executor][spawn]") {
  std::vector<std::string> trace;
  weft::run([&] {
    weft::event ev;
    trace.push_back("parent");
    auto child = weft::spawn([&] {
      trace.push_back("child waits");
      ev.wait();
      trace.push_back("child woken");
    });
    trace.push_back("parent after spawn");
    ev.set();
    trace.push_back("parent after set");
    child.join();
    trace.push_back("parent joined");
  });
  CHECK(trace == std::vector<std::string>{"parent", "child waits", "parent after spawn",
                                          "parent after set", "child woken", "parent joined"});
}

TEST_CASE("weft::spawn outside a fiber throws std::logic_error", "[executor][spawn][misuse]") {
  CHECK_THROWS_AS(weft::spawn([] {}), std::logic_error);
  CHECK_THROWS_WITH(weft::spawn([] {}), Contains("weft::spawn"));
}

TEST_CASE("spawn decay-copies the callable and its arguments", "[executor][spawn]") {
  weft::executor ex;
  std::string text = "original";
  int counter = 0;
  auto by_value = ex.spawn([](std::string s) { return s; }, text);
  auto by_const_ref = ex.spawn([](const std::string& s) { return s; }, text);
  auto by_ref = ex.spawn([](int& c) { return ++c; }, std::ref(counter));
  auto move_only = ex.spawn([](std::unique_ptr<int> p) { return *p; }, std::make_unique<int>(41));
  const char literal[] = "array";
  auto decayed = ex.spawn([](const char* s) { return std::string(s); }, literal);

  std::string captured = "captured";
  auto callable = ex.spawn([captured] { return captured; });

  // Changing the originals after spawn does not affect the copies.
  text = "changed";
  captured = "changed too";
  ex.run();
  CHECK(by_value.join() == "original");
  CHECK(by_const_ref.join() == "original");
  CHECK(by_ref.join() == 1);
  CHECK(counter == 1);  // std::ref passes a reference on purpose
  CHECK(move_only.join() == 41);
  CHECK(decayed.join() == "array");
  CHECK(callable.join() == "captured");
}

TEST_CASE("the callable and its arguments are destroyed when the fiber ends",
          "[executor][spawn]") {
  using weft_test::instance_counter;
  REQUIRE(instance_counter::live == 0);
  {
    weft::executor ex;
    auto h = ex.spawn([c = instance_counter(1)](instance_counter arg) { return c.value + arg.value; },
                      instance_counter(2));
    CHECK(instance_counter::live >= 2);
    ex.run();
    CHECK(instance_counter::live == 0);  // gone before the handle is joined
    CHECK(h.join() == 3);
  }
  CHECK(instance_counter::live == 0);
}

// ---------------------------------------------------------------------------------------------
// results and exceptions through join()
// ---------------------------------------------------------------------------------------------

TEST_CASE("join returns values, move-only values, references and void", "[executor][join]") {
  weft::executor ex;
  int target = 7;
  bool void_ran = false;
  auto value = ex.spawn([] { return std::string("hello"); });
  auto move_only = ex.spawn([] { return std::make_unique<int>(99); });
  auto reference = ex.spawn([&]() -> int& { return target; });
  auto const_reference = ex.spawn([&]() -> const int& { return target; });
  auto nothing = ex.spawn([&] { void_ran = true; });
  static_assert(std::is_same_v<decltype(reference.join()), int&>);
  static_assert(std::is_same_v<decltype(const_reference.join()), const int&>);
  static_assert(std::is_same_v<decltype(nothing.join()), void>);
  ex.run();
  CHECK(value.join() == "hello");
  std::unique_ptr<int> p = move_only.join();
  REQUIRE(p);
  CHECK(*p == 99);
  int& r = reference.join();
  CHECK(&r == &target);
  CHECK(&const_reference.join() == &target);
  nothing.join();
  CHECK(void_ran);
}

TEST_CASE("an exception escaping a fiber reaches join()", "[executor][join]") {
  weft::executor ex;
  auto failing = ex.spawn([]() -> int { throw custom_error(17); });
  auto failing_void = ex.spawn([] { throw std::out_of_range("range"); });
  auto fine = ex.spawn([] { return 1; });
  ex.run();  // run() itself does not throw the fibers' exceptions
  try {
    failing.join();
    FAIL("join did not throw");
  } catch (const custom_error& e) {
    CHECK(e.code == 17);  // the original exception object's type and contents
  }
  CHECK_THROWS_AS(failing_void.join(), std::out_of_range);
  CHECK(fine.join() == 1);
  CHECK_FALSE(failing.joinable());  // a join that rethrows still consumes the handle
}

TEST_CASE("join in a fiber suspends only that fiber", "[executor][join]") {
  std::vector<std::string> trace;
  weft::run([&] {
    weft::event ev;
    auto slow = weft::spawn([&] {
      ev.wait();
      trace.push_back("slow done");
      return 3;
    });
    auto joiner = weft::spawn([&] {
      trace.push_back("joiner waits");
      int v = slow.join();
      trace.push_back("joiner got " + std::to_string(v));
    });
    auto setter = weft::spawn([&] {
      trace.push_back("setter runs while joiner waits");
      ev.set();
    });
    joiner.join();
    setter.join();
  });
  CHECK(trace == std::vector<std::string>{"joiner waits", "setter runs while joiner waits",
                                          "slow done", "joiner got 3"});
}

TEST_CASE("join outside fibers drives the executor when nobody runs it", "[executor][join]") {
  weft::executor ex;
  std::atomic<int> finished{0};
  auto h = ex.spawn([&] {
    std::vector<weft::join_handle<int>> kids;
    for (int i = 0; i < 10; ++i)
      kids.push_back(weft::spawn([&, i] {
        weft::this_fiber::yield();
        weft::this_fiber::sleep_for(1ms);
        ++finished;
        return i;
      }));
    int sum = 0;
    for (auto& k : kids) sum += k.join();
    return sum;
  });
  CHECK(h.join() == 45);  // no run(): join runs the executor on this thread
  CHECK(finished == 10);
  CHECK(ex.live_fibers() == 0);

  // join drives only until its fiber ends; others keep their state and run() finishes them.
  weft::event ev;
  auto waiter = ex.spawn([&] { ev.wait(); return 1; });
  auto quick = ex.spawn([&] { return 2; });
  CHECK(quick.join() == 2);
  CHECK_FALSE(waiter.done());
  auto setter = ex.spawn([&] { ev.set(); });
  ex.run();
  CHECK(waiter.join() == 1);
  setter.join();
}

TEST_CASE("join outside fibers blocks while another thread runs the executor",
          "[executor][join][threads]") {
  weft::executor ex;
  weft::event ev;
  std::atomic<bool> started{false};
  auto h = ex.spawn([&] {
    started = true;
    ev.wait();
    return 11;
  });
  std::optional<weft::executor::work_guard> guard(std::in_place, ex);  // ev is set from outside
  std::exception_ptr run_error;
  std::thread runner([&] {
    try {
      ex.run();
    } catch (...) {
      run_error = std::current_exception();
    }
  });
  REQUIRE(weft_test::wait_until([&] { return started.load(); }));
  std::thread setter([&] {
    // Set the event only once this thread is blocked in join().
    weft_test::wait_until([] { return weft::detail::threads_blocked_in_weft() > 0; });
    ev.set();
  });
  const int v = h.join();  // the runner owns the executor: this blocks
  guard.reset();
  setter.join();
  runner.join();
  CHECK(v == 11);
  CHECK_FALSE(run_error);
}

TEST_CASE("join_handle misuse throws std::logic_error naming the call",
          "[executor][join][misuse]") {
  weft::executor ex;
  auto h = ex.spawn([] { return 1; });
  ex.run();
  CHECK(h.join() == 1);
  CHECK_THROWS_AS(h.join(), std::logic_error);
  CHECK_THROWS_WITH(h.join(), Contains("weft::join_handle::join"));

  auto a = ex.spawn([] { return 2; });
  auto b = std::move(a);
  CHECK_FALSE(a.joinable());
  CHECK_THROWS_AS(a.join(), std::logic_error);
  CHECK_THROWS_WITH(a.join(), Contains("join"));
  CHECK_THROWS_AS(a.detach(), std::logic_error);
  CHECK_THROWS_WITH(a.detach(), Contains("weft::join_handle::detach"));

  weft::join_handle<void> empty;
  CHECK_FALSE(empty.joinable());
  CHECK_FALSE(empty.done());
  CHECK(empty.id() == 0);
  CHECK_THROWS_WITH(empty.join(), Contains("weft::join_handle::join"));
  CHECK_THROWS_WITH(empty.detach(), Contains("weft::join_handle::detach"));

  b.detach();
  CHECK_FALSE(b.joinable());
  CHECK_THROWS_WITH(b.join(), Contains("weft::join_handle::join"));
  CHECK_THROWS_WITH(b.detach(), Contains("weft::join_handle::detach"));
  ex.run();

  // Move assignment onto a live handle detaches its old fiber.
  bool first_ran = false;
  auto c = ex.spawn([&] { first_ran = true; return 3; });
  c = ex.spawn([] { return 4; });
  ex.run();
  CHECK(first_ran);
  CHECK(c.join() == 4);
}

TEST_CASE("join_handle::done and id", "[executor][join]") {
  weft::executor ex;
  std::uint64_t inside_id = 0;
  weft::event ev;
  auto h = ex.spawn([&] {
    inside_id = weft::this_fiber::id();
    ev.wait();
  });
  CHECK_FALSE(h.done());
  const std::uint64_t id = h.id();
  CHECK(id != 0);
  auto runner = ex.spawn([&] {
    CHECK_FALSE(h.done());  // started, blocked
    ev.set();
    weft::this_fiber::yield();
    CHECK(h.done());
  });
  ex.run();
  CHECK(h.done());
  CHECK(inside_id == id);
  h.join();
  CHECK_FALSE(h.done());  // empty now
  runner.join();
}

TEST_CASE("destroying an unjoined handle detaches: the fiber still runs to completion",
          "[executor][join]") {
  weft::executor ex;
  std::vector<int> done;
  { auto dropped = ex.spawn([&] { weft::this_fiber::yield(); done.push_back(1); }); }
  auto explicit_detach = ex.spawn([&] { weft::this_fiber::sleep_for(1ms); done.push_back(2); });
  explicit_detach.detach();
  CHECK_FALSE(explicit_detach.joinable());
  ex.spawn([&] {  // dropped inside a fiber, while the child is blocked
    weft::event ev;
    {
      auto child = weft::spawn([&] { ev.wait(); done.push_back(3); });
    }
    ev.set();
  });
  CHECK(ex.live_fibers() == 3);
  ex.run();
  std::sort(done.begin(), done.end());
  CHECK(done == std::vector<int>{1, 2, 3});
  CHECK(ex.live_fibers() == 0);
}

TEST_CASE("weft::run returns the result of f and rethrows its exception", "[executor][run]") {
  CHECK(weft::run([] { return 42; }) == 42);
  CHECK(*weft::run([] { return std::make_unique<int>(5); }) == 5);
  weft::run([] {});
  CHECK_THROWS_AS(weft::run([]() -> int { throw custom_error(3); }), custom_error);
  weft::executor_options options;
  options.stack_size = 128 * 1024;
  CHECK(weft::run([] { return weft::this_fiber::id() != 0; }, options));
  // Fibers spawned by f are finished too before run returns.
  int spawned_done = 0;
  weft::run([&] {
    for (int i = 0; i < 5; ++i)
      weft::spawn([&] {
        weft::this_fiber::sleep_for(1ms);
        ++spawned_done;
      });
  });
  CHECK(spawned_done == 5);
}

TEST_CASE("weft::run rethrows f's exception at once, unwinding the fibers left",
          "[executor][run]") {
  // Once, the exception was lost: run() reported a deadlock, f's handle was dropped with its
  // exception, and the process aborted.
  weft::channel<int> never;
  std::atomic<int> unwound{0};  // the fibers unwind on any worker, perhaps at once
  struct count_on_unwind {
    std::atomic<int>& n;
    ~count_on_unwind() { ++n; }
  };
  auto blocked_forever = [&] {
    count_on_unwind c{unwound};
    never.recv();
  };
  auto asleep_for_long = [&] {
    count_on_unwind c{unwound};
    weft::this_fiber::sleep_for(1h);
  };
  for (std::size_t workers : {1u, 2u}) {
    unwound = 0;
    CHECK_THROWS_WITH(weft::run(
                          [&]() -> int {
                            weft::spawn(blocked_forever).detach();
                            weft::spawn(asleep_for_long).detach();
                            weft::this_fiber::yield();
                            throw std::runtime_error("the root failed");
                          },
                          weft::executor_options{.workers = workers}),
                      "the root failed");
    CHECK(unwound == 2);  // unwound, not finished: the hour-long sleep did not hold run
  }
  // A root that succeeds still waits for the rest, and a fiber left blocked is a deadlock.
  CHECK_THROWS_AS(weft::run([&] { weft::spawn(blocked_forever).detach(); },
                            weft::executor_options{.deadlock_grace = 0ms}),
                  weft::deadlock_error);
}

TEST_CASE("executor::run can be called again, and misuse of run throws", "[executor][run]") {
  weft::executor ex;
  ex.run();  // nothing to do
  auto a = ex.spawn([] { return 1; });
  ex.run();
  auto b = ex.spawn([] { return 2; });
  ex.run();
  CHECK(a.join() + b.join() == 3);

  auto from_fiber = ex.spawn([&] { ex.run(); });
  ex.run();
  CHECK_THROWS_AS(from_fiber.join(), std::logic_error);
  auto from_fiber2 = ex.spawn([&] { ex.run(); });
  ex.run();
  CHECK_THROWS_WITH(from_fiber2.join(), Contains("weft::executor::run"));
}

TEST_CASE("executor_options are validated at construction", "[executor][options]") {
  weft::executor_options zero_stack;
  zero_stack.stack_size = 0;
  CHECK_THROWS_AS(weft::executor(zero_stack), std::invalid_argument);
  weft::executor_options zero_workers;
  zero_workers.workers = 0;
  CHECK_THROWS_AS(weft::executor(zero_workers), std::invalid_argument);

  weft::executor_options odd;
  odd.stack_size = 10000;  // rounded up to pages
  weft::executor ex(odd);
  CHECK(ex.options().stack_size == 10000);
  auto h = ex.spawn([] { return 1; });
  ex.run();
  CHECK(h.join() == 1);
}
