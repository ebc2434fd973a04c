// weft::promise, future, shared_future, packaged_task and async: values, void, references and
// exceptions; std's error codes; set_value from fibers, plain threads and threads weft does
// not know; timed waits that time out and that complete; 1, 2 and 4 workers.
#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/weft.hpp>

using namespace std::chrono_literals;

namespace {
std::future_errc code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::future_error& e) {
    return static_cast<std::future_errc>(e.code().value());
  }
  FAIL("no std::future_error");
  return {};
}
}  // namespace

TEST_CASE("future::get after set_value from another fiber, on 1, 2 and 4 workers", "[executor][future]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  INFO(workers << " workers");
  std::vector<int> got;
  weft::run(
      [&] {
        for (int i = 0; i < 50; ++i) {
          weft::promise<int> p;
          weft::future<int> f = p.get_future();
          CHECK(f.valid());
          auto setter = weft::spawn([&p, i] {
            weft::this_fiber::yield();
            p.set_value(i);
          });
          got.push_back(f.get());
          CHECK_FALSE(f.valid());  // get() releases the state
          setter.join();
        }
      },
      weft::executor_options{.workers = workers});
  REQUIRE(got.size() == 50);
  for (int i = 0; i < 50; ++i) CHECK(got[static_cast<std::size_t>(i)] == i);
}

TEST_CASE("future carries void, references, move-only values and exceptions", "[executor][future]") {
  weft::run([] {
    weft::promise<void> pv;
    auto fv = pv.get_future();
    weft::spawn([&] { pv.set_value(); }).join();
    fv.get();

    int x = 7;
    weft::promise<int&> pr;
    auto fr = pr.get_future();
    pr.set_value(x);
    CHECK(&fr.get() == &x);

    weft::promise<std::unique_ptr<int>> pm;
    auto fm = pm.get_future();
    pm.set_value(std::make_unique<int>(42));
    CHECK(*fm.get() == 42);

    weft::promise<std::string> pe;
    auto fe = pe.get_future();
    weft::spawn([&] { pe.set_exception(std::make_exception_ptr(std::runtime_error("boom"))); }).join();
    CHECK_THROWS_WITH(fe.get(), "boom");
  });
}

TEST_CASE("set_value from a plain thread and from a thread weft does not know wakes a waiting fiber", "[executor][future]") {
  const std::size_t workers = GENERATE(1, 2);
  weft::promise<int> p;
  weft::future<int> f = p.get_future();
  std::thread stranger([&] {
    std::this_thread::sleep_for(20ms);
    p.set_value(5);
  });
  int got = 0;
  weft::run([&] { got = f.get(); }, weft::executor_options{.workers = workers});
  stranger.join();
  CHECK(got == 5);
}

TEST_CASE("a plain thread waits on a future a fiber sets", "[executor][future]") {
  weft::executor ex;
  weft::promise<std::string> p;
  auto f = p.get_future();
  auto h = ex.spawn([&] {
    weft::this_fiber::sleep_for(10ms);
    p.set_value("from a fiber");
  });
  std::thread runner([&] { ex.run(); });  // after the spawn: a run with no fiber ends at once
  CHECK(f.get() == "from a fiber");
  h.join();
  runner.join();
}

TEST_CASE("future timed waits time out and complete", "[executor][future]") {
  weft::run([] {
    weft::promise<int> p;
    auto f = p.get_future();
    CHECK(f.wait_for(5ms) == std::future_status::timeout);
    CHECK(f.wait_until(std::chrono::steady_clock::now() + 2ms) == std::future_status::timeout);
    auto setter = weft::spawn([&] {
      weft::this_fiber::sleep_for(5ms);
      p.set_value(1);
    });
    CHECK(f.wait_for(10s) == std::future_status::ready);
    CHECK(f.wait_for(0ms) == std::future_status::ready);
    CHECK(f.get() == 1);
    setter.join();
  });
}

TEST_CASE("future errors are std::future_error with std's codes", "[executor][future]") {
  weft::run([] {
    {
      weft::future<int> f;
      {
        weft::promise<int> p;
        f = p.get_future();
      }  // destroyed unset
      CHECK(code_of([&] { f.get(); }) == std::future_errc::broken_promise);
    }
    weft::promise<int> p;
    auto f = p.get_future();
    CHECK(code_of([&] { (void)p.get_future(); }) == std::future_errc::future_already_retrieved);
    p.set_value(1);
    CHECK(code_of([&] { p.set_value(2); }) == std::future_errc::promise_already_satisfied);
    CHECK(code_of([&] { p.set_exception(std::make_exception_ptr(1)); }) ==
          std::future_errc::promise_already_satisfied);
    CHECK(f.get() == 1);  // the first value stays
    CHECK(code_of([&] { f.get(); }) == std::future_errc::no_state);
    CHECK(code_of([&] { f.wait(); }) == std::future_errc::no_state);
    weft::promise<int> moved_from;
    weft::promise<int> taker = std::move(moved_from);
    CHECK(code_of([&] { moved_from.set_value(1); }) == std::future_errc::no_state);
    CHECK_THROWS_AS(taker.set_exception(nullptr), std::invalid_argument);
  });
}

TEST_CASE("a value whose copy throws leaves the promise unsatisfied", "[executor][future]") {
  struct fragile {
    fragile() = default;
    fragile(const fragile&) { throw std::runtime_error("copy failed"); }
  };
  weft::promise<fragile> p;
  auto f = p.get_future();
  const fragile v;
  CHECK_THROWS_WITH(p.set_value(v), "copy failed");
  p.set_exception(std::make_exception_ptr(std::logic_error("second try")));
  CHECK_THROWS_WITH(f.get(), "second try");
}

TEST_CASE("shared_future: every copy gets the same result, from fibers and threads", "[executor][future]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  weft::promise<int> p;
  weft::shared_future<int> sf = p.get_future().share();
  std::atomic<int> sum{0};
  std::thread plain([sf, &sum] { sum += sf.get(); });
  weft::run(
      [&] {
        std::vector<weft::join_handle<void>> readers;
        for (int i = 0; i < 8; ++i) readers.push_back(weft::spawn([sf, &sum] { sum += sf.get(); }));
        weft::this_fiber::yield();
        p.set_value(3);
        for (auto& r : readers) r.join();
      },
      weft::executor_options{.workers = workers});
  plain.join();
  CHECK(sum == 27);
  CHECK(sf.valid());
  CHECK(sf.get() == 3);
  CHECK(sf.wait_for(0ms) == std::future_status::ready);
}

TEST_CASE("packaged_task stores its result or exception, and reset gives a fresh future", "[executor][future]") {
  weft::run([] {
    weft::packaged_task<int(int, int)> add([](int a, int b) { return a + b; });
    auto f = add.get_future();
    weft::spawn([&] { add(2, 3); }).join();
    CHECK(f.get() == 5);
    CHECK(code_of([&] { add(1, 1); }) == std::future_errc::promise_already_satisfied);
    add.reset();
    auto g = add.get_future();
    add(4, 4);
    CHECK(g.get() == 8);

    weft::packaged_task<void()> fails([] { throw std::runtime_error("task failed"); });
    auto h = fails.get_future();
    fails();
    CHECK_THROWS_WITH(h.get(), "task failed");

    weft::packaged_task<void()> empty;
    CHECK_FALSE(empty.valid());
    CHECK(code_of([&] { empty(); }) == std::future_errc::no_state);
    CHECK(code_of([&] { (void)empty.get_future(); }) == std::future_errc::no_state);
  });
}

TEST_CASE("async spawns and returns its future, and outside a fiber throws logic_error", "[executor][future]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  weft::run(
      [] {
        auto f = weft::async([](int a, std::string b) { return b + std::to_string(a); }, 4, std::string("x"));
        auto g = weft::async([] { throw std::runtime_error("async failed"); });
        auto v = weft::async([] {});
        CHECK(f.get() == "x4");
        CHECK_THROWS_WITH(g.get(), "async failed");
        v.get();
      },
      weft::executor_options{.workers = workers});
  CHECK_THROWS_AS(weft::async([] { return 1; }), std::logic_error);
}

TEST_CASE("a deadlock report names a fiber waiting on a future", "[executor][future][deadlock]") {
  weft::executor ex;
  weft::promise<int> p;
  auto f = p.get_future();
  auto h = ex.spawn(weft::spawn_options{.name = "getter"}, [&] { (void)f.get(); });
  std::string message;
  try {
    ex.run();
  } catch (const weft::deadlock_error& e) {
    message = e.what();
  }
  CHECK_THAT(message, Catch::Matchers::Contains("\"getter\" waits on future"));
  p.set_value(1);
  ex.run();
  h.join();
}

TEST_CASE("future::get is an interruption point", "[executor][future][cancellation]") {
  weft::run([] {
    weft::promise<int> p;
    auto f = p.get_future();
    auto h = weft::spawn([&] { (void)f.get(); });
    weft::this_fiber::yield();
    h.request_stop();
    CHECK_THROWS_AS(h.join(), weft::operation_cancelled);
    CHECK(f.valid() == false);
  });
}

TEST_CASE("set_value_at_thread_exit makes the future ready when the fiber or thread ends", "[executor][future]") {
  weft::run([] {
    weft::promise<int> p;
    auto f = p.get_future();
    weft::event went_on;
    auto setter = weft::spawn([&] {
      p.set_value_at_thread_exit(6);
      went_on.set();
      weft::this_fiber::sleep_for(5ms);
    });
    went_on.wait();
    CHECK(f.wait_for(0ms) == std::future_status::timeout);  // stored, not ready yet
    CHECK(f.get() == 6);                                    // ready at the setter's end
    setter.join();
    CHECK(code_of([&] { p.set_value(1); }) == std::future_errc::promise_already_satisfied);

    weft::promise<void> q;
    auto g = q.get_future();
    std::thread plain([&] { q.set_exception_at_thread_exit(std::make_exception_ptr(std::runtime_error("thread ended"))); });
    CHECK_THROWS_WITH(g.get(), "thread ended");
    plain.join();

    weft::packaged_task<int()> task([] { return 11; });
    auto h = task.get_future();
    auto runner = weft::spawn([&] {
      task.make_ready_at_thread_exit();
      weft::this_fiber::yield();
    });
    CHECK(h.get() == 11);
    runner.join();
  });
}

// Cases of std's documented semantics (and of Boost.Fiber's future tests) not covered above.
TEST_CASE("promise and future moves, swaps and share follow std", "[executor][future]") {
  weft::run([] {
    weft::promise<int> a, b;
    auto fa = a.get_future();
    auto fb = b.get_future();
    a.swap(b);
    a.set_value(2);  // b's state
    b.set_value(1);  // a's state
    CHECK(fa.get() == 1);
    CHECK(fb.get() == 2);

    weft::promise<int> replaced;
    auto fr = replaced.get_future();
    replaced = weft::promise<int>();  // the old state is abandoned
    CHECK(code_of([&] { fr.get(); }) == std::future_errc::broken_promise);

    weft::promise<int> p;
    auto f = p.get_future();
    weft::shared_future<int> s = f.share();
    CHECK_FALSE(f.valid());
    weft::shared_future<int> copy = s;
    p.set_value(4);
    CHECK(s.get() == 4);
    CHECK(copy.get() == 4);
    CHECK(&s.get() == &copy.get());  // one shared result

    weft::future<int> moved = std::move(fa);
    CHECK_FALSE(fa.valid());
    CHECK_FALSE(moved.valid());  // fa was read already

    weft::shared_future<int> empty;
    CHECK(code_of([&] { (void)empty.get(); }) == std::future_errc::no_state);
  });
}

TEST_CASE("packaged_task takes move-only and reference arguments", "[executor][future]") {
  weft::run([] {
    weft::packaged_task<int(std::unique_ptr<int>, int&)> task([](std::unique_ptr<int> p, int& out) {
      out = *p;
      return *p * 2;
    });
    auto f = task.get_future();
    int out = 0;
    task(std::make_unique<int>(21), out);
    CHECK(f.get() == 42);
    CHECK(out == 21);
    weft::packaged_task<int(std::unique_ptr<int>, int&)> moved = std::move(task);
    CHECK_FALSE(task.valid());
    CHECK(moved.valid());
  });
}
