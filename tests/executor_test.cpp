// Layer 2: executor, spawn, join handles, this_fiber, deadlock detection, destruction, stacks.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/weft.hpp>

#include "support/child_process.hpp"
#include "support/counters.hpp"
#include "support/internals.hpp"  // only to peek: current_fiber()->guarded, blocked threads
#include "support/maps.hpp"
#include "support/sanitizers.hpp"
#include "support/wait_until.hpp"

using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using weft_test::raii_counter;

namespace {

struct custom_error : std::runtime_error {
  int code;
  explicit custom_error(int c) : std::runtime_error("custom " + std::to_string(c)), code(c) {}
};

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

// ---------------------------------------------------------------------------------------------
// exceptions escaping detached fibers (forked children)
// ---------------------------------------------------------------------------------------------

// Child processes (run_child_test) run these hidden test cases.
TEST_CASE("child_detached_exception", "[.child]") {
  weft_test::reset_fatal_signals();
  weft::executor ex;
  ex.spawn([] {
    weft::this_fiber::set_name("doomed-fiber");
    std::fprintf(stderr, "ID=%llu\n", static_cast<unsigned long long>(weft::this_fiber::id()));
    weft::this_fiber::yield();
    throw std::runtime_error("boom from a detached fiber");
  }).detach();
  ex.run();
  std::printf("run returned\n");  // must not happen
}

TEST_CASE("child_dropped_handle_exception", "[.child]") {
  weft_test::reset_fatal_signals();
  weft::executor ex;
  {
    auto dropped = ex.spawn([] {
      weft::this_fiber::set_name("dropped");
      throw std::logic_error("unseen");
    });
  }
  ex.run();
  std::printf("run returned\n");  // must not happen
}

TEST_CASE("child_handle_dropped_after_failure", "[.child]") {
  weft_test::reset_fatal_signals();
  weft::executor ex;
  auto h = ex.spawn([] {
    weft::this_fiber::set_name("failed-first");
    throw std::logic_error("unseen");
  });
  ex.run();
  h = {};
  std::printf("handle dropped\n");  // must not happen
}

TEST_CASE("an exception escaping a detached fiber prints its id and name, then terminates",
          "[executor][fault]") {
  auto r = weft_test::run_child_test("child_detached_exception");
  INFO("child stderr: " << r.err);
  CHECK(r.aborted());
  CHECK_FALSE(r.sanitizer_report());
  CHECK(r.out.find("run returned") == std::string::npos);
  const auto at = r.err.find("ID=");
  REQUIRE(at != std::string::npos);
  const std::string id = r.err.substr(at + 3, r.err.find('\n', at) - at - 3);
  CHECK_THAT(r.err, Contains("fiber " + id + " \"doomed-fiber\""));
  CHECK_THAT(r.err, Contains("boom from a detached fiber"));
}

TEST_CASE("an exception escaping a fiber whose handle was dropped terminates",
          "[executor][fault]") {
  // Dropping the handle detaches the fiber; the exception then has nowhere to go.
  auto r = weft_test::run_child_test("child_dropped_handle_exception");
  INFO("child stderr: " << r.err);
  CHECK(r.aborted());
  CHECK_FALSE(r.sanitizer_report());
  CHECK_THAT(r.err, Contains("\"dropped\""));
  CHECK(r.out.find("run returned") == std::string::npos);

  // Same, but the handle is dropped after the fiber failed.
  auto r2 = weft_test::run_child_test("child_handle_dropped_after_failure");
  INFO("child stderr: " << r2.err);
  CHECK(r2.aborted());
  CHECK_FALSE(r2.sanitizer_report());
  CHECK_THAT(r2.err, Contains("\"failed-first\""));
  CHECK(r2.out.find("handle dropped") == std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// this_fiber: yield, ids, names
// ---------------------------------------------------------------------------------------------

TEST_CASE("yield alternates between two ready fibers", "[executor][yield]") {
  weft::executor ex;
  std::vector<std::string> trace;
  auto body = [&](std::string name) {
    for (int i = 0; i < 3; ++i) {
      trace.push_back(name + std::to_string(i));
      weft::this_fiber::yield();
    }
  };
  ex.spawn(body, "a");
  ex.spawn(body, "b");
  ex.run();
  CHECK(trace == std::vector<std::string>{"a0", "b0", "a1", "b1", "a2", "b2"});
}

TEST_CASE("a yielding fiber goes behind every fiber that was ready", "[executor][yield]") {
  weft::executor ex;
  std::vector<std::string> trace;
  ex.spawn([&] {
    trace.push_back("y before");
    weft::this_fiber::yield();
    trace.push_back("y after");
  });
  for (const char* name : {"b", "c", "d"}) ex.spawn([&, name] { trace.push_back(name); });
  ex.run();
  CHECK(trace == std::vector<std::string>{"y before", "b", "c", "d", "y after"});

  // Fibers woken from a primitive are ready too, and also go first.
  trace.clear();
  ex.spawn([&] {
    weft::event ev;
    auto w1 = weft::spawn([&] { ev.wait(); trace.push_back("w1"); });
    auto w2 = weft::spawn([&] { ev.wait(); trace.push_back("w2"); });
    ev.set();  // w1 and w2 are ready now
    trace.push_back("setter yields");
    weft::this_fiber::yield();
    trace.push_back("setter after");
  });
  ex.run();
  CHECK(trace == std::vector<std::string>{"setter yields", "w1", "w2", "setter after"});
}

// A lone worker's usual yield takes a short path (worker::yield); these are the sources of
// ready fibers that must send it the long way. The yielder has suspended once before (a
// fiber's first suspension always goes the long way).
namespace {
// Runs `ex` with a yielder that, after its first suspension, waits (without yielding) while a
// plain thread calls `make_ready`, then yields and records "yielder after" in `trace`.
void yield_after_a_thread_readies(weft::executor& ex, std::vector<std::string>& trace,
                                  const std::function<void()>& make_ready) {
  std::atomic<bool> yielder_waits{false}, ready{false};
  std::thread thread([&] {
    while (!yielder_waits.load()) std::this_thread::yield();
    make_ready();
    ready.store(true);
  });
  ex.spawn([&] {
    weft::this_fiber::sleep_for(1ms);  // its first suspension
    yielder_waits.store(true);
    while (!ready.load()) std::this_thread::yield();
    weft::this_fiber::yield();
    trace.push_back("yielder after");
  });
  ex.run();
  thread.join();
}
}  // namespace

TEST_CASE("a yield goes behind a fiber spawned by a plain thread meanwhile", "[executor][yield]") {
  weft::executor ex;
  std::vector<std::string> trace;
  yield_after_a_thread_readies(ex, trace, [&] {
    ex.spawn([&] { trace.push_back("spawned by the thread"); });
  });
  CHECK(trace == std::vector<std::string>{"spawned by the thread", "yielder after"});
}

TEST_CASE("a yield goes behind a pinned fiber woken by a plain thread meanwhile",
          "[executor][yield]") {
  weft::executor ex;
  std::vector<std::string> trace;
  weft::event ev;
  ex.spawn([&] {  // runs first, and blocks while the yielder sleeps
    weft::this_fiber::pin();
    ev.wait();
    trace.push_back("pinned waiter");
  });
  yield_after_a_thread_readies(ex, trace, [&] { ev.set(); });  // into its worker's inbox
  CHECK(trace == std::vector<std::string>{"pinned waiter", "yielder after"});
}

TEST_CASE("a yield goes behind a sleeper whose deadline has passed", "[executor][yield]") {
  weft::executor ex;
  std::vector<std::string> trace;
  ex.spawn([&] {
    weft::this_fiber::sleep_for(1ms);  // its first suspension
    weft::spawn([&] {
      weft::this_fiber::sleep_for(1ms);
      trace.push_back("sleeper");
    }).detach();
    const auto due = std::chrono::steady_clock::now() + 5ms;
    while (std::chrono::steady_clock::now() < due) {}  // the sleeper's deadline passes
    weft::this_fiber::yield();
    trace.push_back("yielder after");
  });
  ex.run();
  CHECK(trace == std::vector<std::string>{"sleeper", "yielder after"});
}

TEST_CASE("a joiner runs as soon as the fiber it joins ends, before other ready fibers",
          "[executor][join]") {
  weft::executor ex;
  std::vector<std::string> trace;
  weft::event ev;
  ex.spawn([&] {
    auto child = weft::spawn([&] {
      ev.wait();
      trace.push_back("child ends");
    });
    auto joiner = weft::spawn([&] {
      child.join();
      trace.push_back("joiner");
    });
    weft::spawn([&] {
      ev.set();  // the child is ready now, in front of this fiber once it yields
      weft::this_fiber::yield();
      trace.push_back("setter after yield");
    }).join();
    joiner.join();
  });
  ex.run();
  CHECK(trace == std::vector<std::string>{"child ends", "joiner", "setter after yield"});
}

TEST_CASE("yield with no other ready fiber returns at once", "[executor][yield]") {
  int n = weft::run([] {
    int count = 0;
    for (int i = 0; i < 1000; ++i) {
      weft::this_fiber::yield();
      ++count;
    }
    return count;
  });
  CHECK(n == 1000);
}

TEST_CASE("this_fiber calls outside a fiber throw std::logic_error naming the call",
          "[executor][this_fiber][misuse]") {
  CHECK_THROWS_AS(weft::this_fiber::yield(), std::logic_error);
  CHECK_THROWS_WITH(weft::this_fiber::yield(), Contains("weft::this_fiber::yield"));
  CHECK_THROWS_AS(weft::this_fiber::sleep_for(1ms), std::logic_error);
  CHECK_THROWS_WITH(weft::this_fiber::sleep_for(1ms), Contains("weft::this_fiber::sleep_for"));
  CHECK_THROWS_WITH(weft::this_fiber::sleep_for(0ms), Contains("sleep_for"));
  CHECK_THROWS_AS(weft::this_fiber::sleep_until(std::chrono::steady_clock::now() + 1ms),
                  std::logic_error);
  CHECK_THROWS_WITH(weft::this_fiber::sleep_until(std::chrono::steady_clock::now()),
                    Contains("weft::this_fiber::sleep_until"));
  CHECK_THROWS_WITH(weft::this_fiber::sleep_until(std::chrono::system_clock::now() + 1ms),
                    Contains("weft::this_fiber::sleep_until"));
  CHECK_THROWS_AS(weft::this_fiber::set_name("x"), std::logic_error);
  CHECK_THROWS_WITH(weft::this_fiber::set_name("x"), Contains("set_name"));
}

TEST_CASE("this_fiber::id is unique per fiber and 0 outside fibers", "[executor][this_fiber]") {
  CHECK(weft::this_fiber::id() == 0);
  CHECK(weft::this_fiber::name().empty());
  std::vector<std::uint64_t> ids;
  std::vector<std::uint64_t> handle_ids;
  {
    weft::executor ex1, ex2;
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < 20; ++i) {
      weft::executor& ex = i % 2 ? ex1 : ex2;  // unique across executors too
      hs.push_back(ex.spawn([&] {
        const auto mine = weft::this_fiber::id();
        ids.push_back(mine);
        weft::this_fiber::yield();
        CHECK(weft::this_fiber::id() == mine);
      }));
      handle_ids.push_back(hs.back().id());
    }
    ex1.run();
    ex2.run();
    for (auto& h : hs) h.join();
  }
  CHECK(ids.size() == 20);
  auto sorted = ids;
  std::sort(sorted.begin(), sorted.end());
  CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
  CHECK(std::find(ids.begin(), ids.end(), 0u) == ids.end());
  auto sorted_handles = handle_ids;
  std::sort(sorted_handles.begin(), sorted_handles.end());
  CHECK(sorted == sorted_handles);
  CHECK(weft::this_fiber::id() == 0);
}

TEST_CASE("this_fiber::thread_now names the thread running the caller",
          "[executor][this_fiber]") {
  CHECK(weft::this_fiber::thread_now() == std::this_thread::get_id());  // outside fibers
  std::vector<std::thread::id> seen;
  std::thread([&] {
    weft::run([&] {  // one worker: the thread calling run()
      seen.push_back(weft::this_fiber::thread_now());
      weft::this_fiber::yield();
      seen.push_back(weft::this_fiber::thread_now());
    });
    seen.push_back(std::this_thread::get_id());
  }).join();
  REQUIRE(seen.size() == 3);
  CHECK(seen[0] == seen[2]);
  CHECK(seen[1] == seen[2]);
  CHECK(seen[2] != std::this_thread::get_id());
}

TEST_CASE("this_fiber::id stays the same across suspensions", "[executor][this_fiber]") {
  weft::run([] {
    const auto id = weft::this_fiber::id();
    weft::this_fiber::yield();
    CHECK(weft::this_fiber::id() == id);
    weft::this_fiber::sleep_for(1ms);
    CHECK(weft::this_fiber::id() == id);
    auto child = weft::spawn([] { return weft::this_fiber::id(); });
    CHECK(weft::this_fiber::id() == id);
    CHECK(child.join() != id);
    CHECK(weft::this_fiber::id() == id);
  });
}

TEST_CASE("this_fiber::set_name and name", "[executor][this_fiber]") {
  weft::run([] {
    CHECK(weft::this_fiber::name().empty());
    weft::this_fiber::set_name("worker-1");
    CHECK(weft::this_fiber::name() == "worker-1");
    auto child = weft::spawn([] {
      CHECK(weft::this_fiber::name().empty());  // names are per fiber
      weft::this_fiber::set_name(std::string_view("child-name-longer-than-small-string-buffer"));
      weft::this_fiber::yield();
      return weft::this_fiber::name();
    });
    CHECK(weft::this_fiber::name() == "worker-1");
    CHECK(child.join() == "child-name-longer-than-small-string-buffer");
    weft::this_fiber::set_name("");
    CHECK(weft::this_fiber::name().empty());
  });
}

// ---------------------------------------------------------------------------------------------
// sleep_for / sleep_until
// ---------------------------------------------------------------------------------------------

TEST_CASE("sleep_for never wakes early", "[executor][sleep]") {
  using clock = std::chrono::steady_clock;
  weft::run([] {
    for (auto d : {1ms, 2ms, 5ms, 10ms}) {
      const auto start = clock::now();
      weft::this_fiber::sleep_for(d);
      CHECK(clock::now() - start >= d);
    }
    // Other units, converted by rounding up.
    const auto start = clock::now();
    weft::this_fiber::sleep_for(std::chrono::microseconds(1500));
    CHECK(clock::now() - start >= std::chrono::microseconds(1500));
    const auto start2 = clock::now();
    weft::this_fiber::sleep_for(std::chrono::duration<double, std::milli>(2.5));
    CHECK(clock::now() - start2 >= std::chrono::duration<double, std::milli>(2.5));
  });
}

namespace {
using steady = std::chrono::steady_clock;
struct sleeper_record {
  int tag;                        // duration in ms, or another label
  steady::time_point registered;  // read right before the sleep call
  steady::time_point deadline;    // as the test knows it (at most a little before the real one)
  steady::time_point woke;
  int wake_index = -1;
};

// Checks wake order against deadlines without assuming how fast fibers got to their sleep
// call. If a's deadline was still ahead when a asked and lies before b's by more than
// `slack`, a's timer was in the heap and due whenever b's was: a must wake first. Equal
// deadlines wake in the order they were asked for.
void check_deadline_order(const std::vector<sleeper_record>& s, steady::duration slack) {
  for (const auto& a : s) {
    REQUIRE(a.wake_index >= 0);
    for (const auto& b : s) {
      if (&a == &b) continue;
      const bool earlier = a.deadline + slack < b.deadline && a.registered < a.deadline;
      const bool same_asked_first = a.deadline == b.deadline && a.registered < b.registered;
      if (earlier || same_asked_first) {
        INFO("sleeper " << a.tag << " should wake before sleeper " << b.tag);
        CHECK(a.wake_index < b.wake_index);
      }
    }
  }
}
}  // namespace

TEST_CASE("sleep_for: sleepers wake in deadline order, never early", "[executor][sleep]") {
  std::vector<int> durations(20);
  std::iota(durations.begin(), durations.end(), 1);
  std::shuffle(durations.begin(), durations.end(), std::mt19937(2024));
  std::vector<sleeper_record> sleepers(durations.size());
  int woken = 0;
  weft::run([&] {
    for (std::size_t i = 0; i < durations.size(); ++i)
      weft::spawn([&, i] {  // starts at once and sleeps: all ask within a short time
        sleeper_record& r = sleepers[i];
        r.tag = durations[i];
        const auto d = std::chrono::milliseconds(r.tag);
        r.registered = steady::now();
        r.deadline = r.registered + d;
        weft::this_fiber::sleep_for(d);
        r.woke = steady::now();
        r.wake_index = woken++;
      });
  });
  REQUIRE(woken == static_cast<int>(durations.size()));
  for (const auto& r : sleepers) CHECK(r.woke >= r.deadline);  // never early
  // sleep_for's own deadline is at most a few microseconds after the one recorded here.
  check_deadline_order(sleepers, std::chrono::microseconds(500));
  // When every fiber asked within half a millisecond (the normal case: they are spawned one
  // after another), deadline order is duration order.
  auto [first, last] = std::minmax_element(
      sleepers.begin(), sleepers.end(),
      [](const auto& x, const auto& y) { return x.registered < y.registered; });
  if (last->registered - first->registered < std::chrono::microseconds(500)) {
    std::vector<int> by_wake(sleepers.size());
    for (const auto& r : sleepers) by_wake[static_cast<std::size_t>(r.wake_index)] = r.tag;
    CHECK(std::is_sorted(by_wake.begin(), by_wake.end()));
  }
}

TEST_CASE("sleep_until: sleepers with shuffled deadlines wake in deadline order",
          "[executor][sleep]") {
  std::vector<int> durations(20);
  std::iota(durations.begin(), durations.end(), 1);
  std::shuffle(durations.begin(), durations.end(), std::mt19937(7));
  for (int tag = 100; tag < 103; ++tag) durations.push_back(tag);  // equal deadlines
  std::vector<sleeper_record> sleepers(durations.size());
  int woken = 0;
  weft::executor ex;
  // A common base, far enough ahead that normally every fiber asks before the first deadline.
  const auto base = steady::now() + 30ms;
  for (std::size_t i = 0; i < durations.size(); ++i)
    ex.spawn([&, i] {
      sleeper_record& r = sleepers[i];
      r.tag = durations[i];
      r.deadline = base + std::chrono::milliseconds(r.tag < 100 ? r.tag : 25);
      r.registered = steady::now();
      weft::this_fiber::sleep_until(r.deadline);
      r.woke = steady::now();
      r.wake_index = woken++;
    });
  ex.run();
  REQUIRE(woken == static_cast<int>(durations.size()));
  for (const auto& r : sleepers) CHECK(r.woke >= r.deadline);  // never early
  check_deadline_order(sleepers, steady::duration::zero());    // exact deadlines here
}

TEST_CASE("sleep_until with the system clock", "[executor][sleep]") {
  weft::run([] {
    const auto deadline = std::chrono::system_clock::now() + 5ms;
    const auto steady_start = std::chrono::steady_clock::now();
    weft::this_fiber::sleep_until(deadline);
    CHECK(std::chrono::steady_clock::now() - steady_start >= 5ms);
    // A time point in the past returns (after letting others run).
    weft::this_fiber::sleep_until(std::chrono::system_clock::now() - 1h);
    // Coarse durations of the time point work too.
    weft::this_fiber::sleep_until(
        std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()));
  });
}

TEST_CASE("zero, negative and past sleeps return", "[executor][sleep]") {
  std::vector<std::string> trace;
  weft::run([&] {
    weft::this_fiber::sleep_for(0ms);
    weft::this_fiber::sleep_for(-5ms);
    weft::this_fiber::sleep_for(std::chrono::nanoseconds::min());
    weft::this_fiber::sleep_until(std::chrono::steady_clock::now());
    weft::this_fiber::sleep_until(std::chrono::steady_clock::now() - 1h);
    weft::this_fiber::sleep_until(std::chrono::steady_clock::time_point::min());
    trace.push_back("returned");
  });
  CHECK(trace == std::vector<std::string>{"returned"});
}

TEST_CASE("child_passed_deadlines_on_two_workers", "[.child]") {
  weft::executor_options options;
  options.workers = 2;
  long total = 0;
  for (int round = 0; round < 100; ++round) {
    weft::executor ex(options);
    std::atomic<long> n{0};
    std::vector<weft::join_handle<void>> hs;
    for (int f = 0; f < 8; ++f)
      hs.push_back(ex.spawn([&n] {
        for (int i = 0; i < 1000; ++i) {
          weft::this_fiber::sleep_for(std::chrono::nanoseconds(i % 3 == 0 ? 1 : 0));
          ++n;
        }
      }));
    ex.run();
    for (auto& h : hs) h.join();
    total += n;
  }
  std::printf("sleeps=%ld\n", total);
}

TEST_CASE("sleeps whose deadline has passed, on two workers", "[executor][sleep]") {
  // Found with this test: a sleeper whose own timer fired inside suspend() was queued while
  // still running, so the other worker could steal it and resume a stale context (SIGSEGV).
  // In a child process, so that a regression fails this test instead of the whole run.
  auto r = weft_test::run_child_test("child_passed_deadlines_on_two_workers");
  INFO("child stdout: " << r.out << "\nchild stderr: " << r.err);
  REQUIRE(r.exited_ok());
  CHECK_FALSE(r.sanitizer_report());
  CHECK_THAT(r.out, Contains("sleeps=800000"));
}

TEST_CASE("huge sleep durations saturate instead of overflowing", "[executor][sleep]") {
  // A fiber sleeping "forever" is unwound by the executor's destruction; another fiber's
  // progress shows the huge duration did not wrap into the past.
  std::atomic<int> destroyed{0};
  bool woke = false;
  {
    weft::executor ex;
    ex.spawn([&] {
      raii_counter r(destroyed);
      weft::this_fiber::sleep_for(std::chrono::hours::max());
      woke = true;
    });
    ex.spawn([&] {
      raii_counter r(destroyed);
      weft::this_fiber::sleep_for(std::chrono::duration<double>(1e300));
      woke = true;
    });
    auto h = ex.spawn([] { weft::this_fiber::sleep_for(2ms); return 1; });
    CHECK(h.join() == 1);
    CHECK_FALSE(woke);
  }
  CHECK_FALSE(woke);
  CHECK(destroyed == 2);
}

TEST_CASE("other fibers run while one sleeps", "[executor][sleep]") {
  // The sleep is long enough for three yields even under valgrind on a loaded machine.
  std::vector<std::string> trace;
  weft::run([&] {
    auto sleeper = weft::spawn([&] {
      trace.push_back("sleep");
      weft::this_fiber::sleep_for(100ms);
      trace.push_back("woke");
    });
    for (int i = 0; i < 3; ++i) {
      trace.push_back("work");
      weft::this_fiber::yield();
    }
    sleeper.join();
  });
  CHECK(trace == std::vector<std::string>{"sleep", "work", "work", "work", "woke"});
}

// ---------------------------------------------------------------------------------------------
// join_handle as a C++20 awaiter
// ---------------------------------------------------------------------------------------------

namespace {

// The smallest eager coroutine task: starts at once, keeps its result for the test to read.
template <class T>
struct eager_task {
  struct promise_type {
    std::optional<T> value;
    std::exception_ptr error;
    eager_task get_return_object() {
      return eager_task{std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_always final_suspend() noexcept { return {}; }
    void return_value(T v) { value.emplace(std::move(v)); }
    void unhandled_exception() { error = std::current_exception(); }
  };
  explicit eager_task(std::coroutine_handle<promise_type> h) : handle(h) {}
  eager_task(eager_task&& o) noexcept : handle(std::exchange(o.handle, nullptr)) {}
  ~eager_task() {
    if (handle) handle.destroy();
  }
  bool done() const { return handle.done(); }
  T result() {
    if (handle.promise().error) std::rethrow_exception(handle.promise().error);
    return std::move(*handle.promise().value);
  }
  std::coroutine_handle<promise_type> handle;
};

eager_task<int> await_fiber(weft::join_handle<int> h, std::thread::id* resumed_on = nullptr) {
  int v = co_await h;
  if (resumed_on) *resumed_on = weft::this_fiber::thread_now();
  co_return v + 1;
}

eager_task<std::string> await_fiber_ref(weft::join_handle<std::string>& h) {
  co_return co_await std::move(h);
}

eager_task<int> await_void_fiber(weft::join_handle<void> h) {
  co_await h;
  co_return 1;
}

// Resumed by the finishing fiber, on its stack: spawns and joins, so that fiber suspends (and
// with several workers may move) in the middle of its own end.
eager_task<int> await_then_spawn(weft::join_handle<int> h) {
  const int v = co_await h;
  const int w = weft::spawn([] {
    weft::this_fiber::yield();
    return 5;
  }).join();
  co_return v + w;
}

}  // namespace

TEST_CASE("co_await on the handle of an already finished fiber", "[executor][coroutine]") {
  weft::executor ex;
  auto h = ex.spawn([] { return 41; });
  auto s = ex.spawn([] { return std::string("text"); });
  auto v = ex.spawn([] {});
  ex.run();
  REQUIRE(h.done());
  auto task = await_fiber(std::move(h));
  REQUIRE(task.done());  // no suspension: await_ready was true
  CHECK(task.result() == 42);
  auto task2 = await_fiber_ref(s);
  REQUIRE(task2.done());
  CHECK(task2.result() == "text");
  CHECK_FALSE(s.joinable());  // co_await consumed the handle
  auto task3 = await_void_fiber(std::move(v));
  CHECK(task3.result() == 1);
}

TEST_CASE("co_await on the handle of a fiber not yet finished", "[executor][coroutine]") {
  weft::executor ex;
  weft::event ev;
  auto h = ex.spawn([&] {
    ev.wait();
    return 99;
  });
  auto first = ex.spawn([] {});
  first.join();  // runs the executor until `first` ends: `h` has started and waits
  REQUIRE_FALSE(h.done());
  std::thread::id resumed_on;
  auto task = await_fiber(std::move(h), &resumed_on);
  CHECK_FALSE(task.done());  // suspended on the fiber
  auto setter = ex.spawn([&] { ev.set(); });
  ex.run();
  REQUIRE(task.done());  // resumed when the fiber finished
  CHECK(task.result() == 100);
  CHECK(resumed_on == std::this_thread::get_id());  // the worker: this thread
  setter.join();
}

TEST_CASE("a coroutine resumed by a finishing fiber may spawn and block", "[executor][coroutine]") {
  for (std::size_t workers : {1, 2}) {
    weft::executor_options o;
    o.workers = workers;
    // The tasks are read only after run(): their coroutines run on whichever worker finishes
    // each fiber, and polling done() from another fiber would race with that.
    std::vector<eager_task<int>> tasks;
    weft::executor ex(o);
    ex.spawn([&] {
      for (int i = 0; i < 20; ++i)
        tasks.push_back(await_then_spawn(weft::spawn([i] {
          weft::this_fiber::sleep_for(1ms);
          return i;
        })));
    });
    ex.run();
    int sum = 0;
    for (auto& t : tasks) {
      REQUIRE(t.done());
      sum += t.result();
    }
    CHECK(sum == 190 + 20 * 5);
  }
}

TEST_CASE("a coroutine destroyed while it co_awaits a fiber is not resumed",
          "[executor][coroutine]") {
  weft::executor ex;
  weft::event ev;
  auto h = ex.spawn([&] {
    ev.wait();
    return 1;
  });
  ex.spawn([] {}).join();  // h has started and waits
  {
    auto task = await_fiber(std::move(h));
    REQUIRE_FALSE(task.done());
  }  // the frame, and the handle in it, are destroyed
  ex.spawn([&] { ev.set(); }).detach();
  ex.run();  // h ends: nothing may resume the destroyed coroutine (ASan would see it)
  CHECK(ex.live_fibers() == 0);
}

TEST_CASE("co_await on a fiber handle rethrows the fiber's exception", "[executor][coroutine]") {
  weft::executor ex;
  auto early = ex.spawn([]() -> int { throw custom_error(1); });
  auto late = ex.spawn([]() -> int {
    weft::this_fiber::sleep_for(1ms);
    throw custom_error(2);
  });
  auto task_late = await_fiber(std::move(late));
  ex.run();
  auto task_early = await_fiber(std::move(early));
  REQUIRE(task_early.done());
  REQUIRE(task_late.done());
  CHECK_THROWS_AS(task_early.result(), custom_error);
  CHECK_THROWS_AS(task_late.result(), custom_error);
}

TEST_CASE("co_await on an empty handle throws std::logic_error", "[executor][coroutine][misuse]") {
  weft::join_handle<int> empty;
  auto task = await_fiber(std::move(empty));
  REQUIRE(task.done());
  CHECK_THROWS_AS(task.result(), std::logic_error);
  CHECK_THROWS_WITH(task.result(), Contains("co_await"));
}

TEST_CASE("a coroutine co_awaiting a fiber from inside another fiber", "[executor][coroutine]") {
  int result = weft::run([] {
    auto h = weft::spawn([] {
      weft::this_fiber::sleep_for(1ms);
      return 6;
    });
    auto task = await_fiber(std::move(h));
    // The coroutine is resumed by the finishing fiber; this fiber waits for that with a join
    // on another fiber that outlives it.
    while (!task.done()) weft::this_fiber::sleep_for(1ms);
    return task.result();
  });
  CHECK(result == 7);
}

// ---------------------------------------------------------------------------------------------
// deadlock detection
// ---------------------------------------------------------------------------------------------

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

TEST_CASE("no deadlock_error while a work_guard lives; the guard's end ends the wait",
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

// ---------------------------------------------------------------------------------------------
// destruction with suspended fibers
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// stack memory
// ---------------------------------------------------------------------------------------------

TEST_CASE("sequential spawn and join cycles reuse stack regions", "[executor][stack]") {
  // An unusual stack size (19 pages), so the stack regions are the only mappings of their
  // size: a sanitizer runtime maps plenty of its own.
  weft::executor_options options;
  options.stack_size = 19 * 4096;
  weft::executor ex(options);
  ex.spawn([] {}).join();  // first region mapped
  const std::size_t regions_before = weft_test::mappings_of_size(options.stack_size);
  const std::size_t all_before = weft_test::mapping_count();
  CHECK(regions_before >= 1);
  // TSan makes each fiber cost most of a millisecond (its own fiber bookkeeping): fewer there.
  const long cycles = weft_test::under_tsan ? 1000 : 10000;
  long sum = 0;
  for (long i = 0; i < cycles; ++i) sum += ex.spawn([i] { return i; }).join();
  CHECK(sum == cycles * (cycles - 1) / 2);
  // Nested: one fiber spawning and joining children one after another (two regions live).
  long inner = ex.spawn([cycles] {
    long s = 0;
    for (long i = 0; i < cycles; ++i) s += weft::spawn([i] { return i; }).join();
    return s;
  }).join();
  CHECK(inner == cycles * (cycles - 1) / 2);
  const std::size_t regions_after = weft_test::mappings_of_size(options.stack_size);
  const std::size_t all_after = weft_test::mapping_count();
  INFO("stack regions before " << regions_before << ", after " << regions_after
       << "; all mappings before " << all_before << ", after " << all_after);
  CHECK(regions_after <= regions_before + 2);
  if (!weft_test::under_tsan) CHECK(all_after <= all_before + 16);  // TSan maps for itself
}

TEST_CASE("a callable too big for the stack throws std::length_error from spawn",
          "[executor][stack]") {
  weft::executor_options options;
  options.stack_size = 64 * 1024;
  weft::executor ex(options);
  auto big = std::make_unique<std::array<char, (1 << 20)>>();
  (*big)[0] = 'x';
  CHECK_THROWS_AS(ex.spawn([](const std::array<char, (1 << 20)>& a) { return a[0]; }, *big),
                  std::length_error);
  // Nearly the whole stack is also too much: less than a page would be left.
  auto almost = std::make_unique<std::array<char, 64 * 1024 - 100>>();
  CHECK_THROWS_AS(ex.spawn([](const std::array<char, 64 * 1024 - 100>& a) { return a[0]; },
                           *almost),
                  std::length_error);
  CHECK(ex.live_fibers() == 0);
  // The executor is fine afterwards, and a moderate capture works.
  auto small = std::make_unique<std::array<char, 16 * 1024>>();
  (*small)[100] = 'y';
  auto h = ex.spawn([](const std::array<char, 16 * 1024>& a) { return a[100]; }, *small);
  ex.run();
  CHECK(h.join() == 'y');
  // The message says why.
  try {
    ex.spawn([](const std::array<char, (1 << 20)>& a) { return a[0]; }, *big);
  } catch (const std::length_error& e) {
    CHECK_THAT(std::string(e.what()), Contains("stack"));
  }
}

TEST_CASE("bigger stacks allow deeper recursion", "[executor][stack]") {
  weft::executor_options options;
  options.stack_size = 1024 * 1024;
  auto depth = weft::run(
      [] {
        struct rec {
          static int go(int n) {
            volatile char pad[1024];
            pad[0] = static_cast<char>(n);
            return n == 0 ? pad[0] : 1 + go(n - 1);
          }
        };
        return rec::go(500);  // ~500 KiB of frames
      },
      options);
  CHECK(depth == 500);
}

TEST_CASE("child_max_guarded_stacks", "[.child]") {
  weft::executor_options options;
  options.max_guarded_stacks = 10;
  int guarded = 0, finished = 0;
  {
    weft::executor ex(options);
    weft::event ev;
    for (int i = 0; i < 200; ++i)
      ex.spawn([&] {
        if (weft::detail::current_fiber()->guarded) ++guarded;
        ev.wait();
        ++finished;
      });
    ex.spawn([&] { ev.set(); });
    ex.run();
  }
  std::printf("guarded=%d finished=%d\n", guarded, finished);
}

TEST_CASE("max_guarded_stacks caps guarded stacks; the rest run on unguarded slabs",
          "[executor][stack]") {
  // In a child process: the notice is printed once per process, and the budget is
  // process-wide.
  auto r = weft_test::run_child_test("child_max_guarded_stacks");
  INFO("child stdout: " << r.out << "\nchild stderr: " << r.err);
  REQUIRE(r.exited_ok());
  CHECK_FALSE(r.sanitizer_report());
  CHECK_THAT(r.out, Contains("guarded=10 finished=200"));
  CHECK_THAT(r.err, Contains("guard page"));
}

TEST_CASE("child_guarded_budget_per_executor", "[.child]") {
  weft::executor_options options;
  options.max_guarded_stacks = 10;
  {
    weft::executor capped(options);
    weft::event ev;
    for (int i = 0; i < 20; ++i) capped.spawn([&] { ev.wait(); });
    capped.spawn([&] { ev.set(); });
    capped.run();
  }
  // A later executor with the default (derived) budget is not held to the old cap.
  int guarded_after = 0;
  {
    weft::executor ex;
    weft::event ev;
    for (int i = 0; i < 50; ++i)
      ex.spawn([&] {
        if (weft::detail::current_fiber()->guarded) ++guarded_after;
        ev.wait();
      });
    ex.spawn([&] { ev.set(); });
    ex.run();
  }
  std::printf("guarded_after=%d\n", guarded_after);
}

// Found with this test: fiber_allocator kept max_guarded_stacks in a process-wide atomic, so
// the cap of one executor stayed in force for every later executor whose option is 0
// ("derived from vm.max_map_count"). Each allocator now keeps its own limit.
TEST_CASE("max_guarded_stacks of one executor does not cap later executors",
          "[executor][stack]") {
  auto r = weft_test::run_child_test("child_guarded_budget_per_executor");
  INFO("child stdout: " << r.out << "\nchild stderr: " << r.err);
  REQUIRE(r.exited_ok());
  CHECK_FALSE(r.sanitizer_report());
  CHECK_THAT(r.out, Contains("guarded_after=50"));
}

namespace {
// Runs `fibers` fibers alive at once, and one more that lets them finish, on a new executor;
// the lowest address of each one's region.
std::vector<void*> regions_of_a_run(int fibers, std::size_t stack_size,
                                    std::size_t max_guarded = 0, int* guarded = nullptr) {
  weft::executor_options options;
  options.stack_size = stack_size;
  options.max_guarded_stacks = max_guarded;
  std::vector<void*> regions;
  weft::executor ex(options);
  weft::event ev;
  for (int i = 0; i < fibers; ++i)
    ex.spawn([&] {
      regions.push_back(weft::detail::current_fiber()->region.low);
      if (guarded && weft::detail::current_fiber()->guarded) ++*guarded;
      ev.wait();
    });
  ex.spawn([&] {
    regions.push_back(weft::detail::current_fiber()->region.low);
    ev.set();
  });
  ex.run();
  return regions;
}
}  // namespace

TEST_CASE("child_spare_regions", "[.child]") {
  namespace spares = weft::detail::spare_regions;
  const std::vector<void*> first = regions_of_a_run(1, 64 * 1024);
  std::printf("kept after one fiber: %zu\n", spares::count());
  const std::vector<void*> second = regions_of_a_run(1, 64 * 1024);
  auto among_first = [&](void* region) {
    return std::find(first.begin(), first.end(), region) != first.end();
  };
  std::printf("next executor reuses them: %d\n", std::all_of(second.begin(), second.end(), among_first));
  const std::vector<void*> other_size = regions_of_a_run(1, 128 * 1024);
  std::printf("other size reuses them: %d\n", std::any_of(other_size.begin(), other_size.end(), among_first));
  // 200 stacks of an unusual size: as many stay mapped as the pool had room for.
  const std::size_t room = spares::max_count - spares::count();
  regions_of_a_run(200, 88 * 1024);
  std::printf("kept after 200 fibers: %zu (bound %zu)\n", spares::count(), spares::max_count);
  std::printf("the rest unmapped: %d\n", weft_test::count_guarded_stacks(88 * 1024) == room);
  // Spares are not in use: the guarded budget of a capped executor counts its own stacks only.
  int guarded = 0;
  regions_of_a_run(20, 64 * 1024, 10, &guarded);
  std::printf("capped executor guarded=%d\n", guarded);
}

TEST_CASE("a destroyed executor leaves a bounded few guarded stacks to the next executor",
          "[executor][stack]") {
  // In a child process: the spares are process-wide.
  auto r = weft_test::run_child_test("child_spare_regions");
  INFO("child stdout: " << r.out << "\nchild stderr: " << r.err);
  REQUIRE(r.exited_ok());
  CHECK_FALSE(r.sanitizer_report());
  CHECK_THAT(r.out, Contains("kept after one fiber: 2\n"));  // and the one that set the event
  CHECK_THAT(r.out, Contains("next executor reuses them: 1"));
  CHECK_THAT(r.out, Contains("other size reuses them: 0"));
  CHECK_THAT(r.out, Contains("kept after 200 fibers: 64 (bound 64)"));
  CHECK_THAT(r.out, Contains("the rest unmapped: 1"));
  CHECK_THAT(r.out, Contains("capped executor guarded=10"));
}

TEST_CASE("guard_pages = false gives unguarded stacks", "[executor][stack]") {
  weft::executor_options options;
  options.guard_pages = false;
  options.stack_size = 16 * 1024;
  int guarded = weft::run([] {
    int n = 0;
    for (int i = 0; i < 10; ++i)
      n += weft::spawn([] { return weft::detail::current_fiber()->guarded ? 1 : 0; }).join();
    return n;
  }, options);
  CHECK(guarded == 0);
}
