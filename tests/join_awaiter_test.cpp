// join_handle as a C++20 awaiter: a coroutine co_awaiting a fiber, finished or not, resumed
// by the finishing fiber; its exceptions, empty handles, destroyed coroutines.
#include <chrono>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/weft.hpp>

#include "support/fixtures.hpp"

using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using weft_test::custom_error;

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
