// weft::await: the bridge from fibers (and plain threads) to C++20 awaitables.
#include <atomic>
#include <chrono>
#include <coroutine>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/weft.hpp>

#include "support/internals.hpp"  // threads_blocked_in_weft(), to know when a thread is blocked
#include "support/lazy_coroutine.hpp"
#include "support/wait_until.hpp"

using namespace std::chrono_literals;
using Catch::Matchers::Contains;

namespace {

// Hands the coroutine handle to a std::thread, which resumes it once `release` is true (or
// after a long safety limit, recording that it had to).
struct thread_resumed {
  std::thread* thread;
  std::atomic<bool>* release;
  bool* released_in_time;
  int value;
  int result = 0;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    *thread = std::thread([this, h] {
      *released_in_time = weft_test::wait_until([&] { return release->load(); });
      result = value;  // published to the fiber by the resumption
      h.resume();
    });
  }
  int await_resume() const noexcept { return result; }
};

}  // namespace

TEST_CASE("await: an awaiter resumed from another thread suspends only the calling fiber",
          "[await][threads]") {
  std::thread resumer;
  std::atomic<bool> other_progressed{false};
  bool released_in_time = false;
  std::vector<std::string> trace;
  weft::executor ex;
  auto awaiting = ex.spawn([&] {
    trace.push_back("await");
    int v = weft::await(thread_resumed{&resumer, &other_progressed, &released_in_time, 42});
    trace.push_back("resumed");
    return v;
  });
  auto other = ex.spawn([&] {
    for (int i = 0; i < 10; ++i) {
      trace.push_back("other " + std::to_string(i));
      weft::this_fiber::yield();
    }
    other_progressed = true;  // only now may the thread resume the awaiting fiber
  });
  ex.run();  // no deadlock_error: the await is outstanding while `other` has finished
  resumer.join();
  CHECK(released_in_time);
  CHECK(awaiting.join() == 42);
  other.join();
  REQUIRE(trace.size() == 12);
  CHECK(trace.front() == "await");
  CHECK(trace[10] == "other 9");
  CHECK(trace.back() == "resumed");
}

TEST_CASE("await: no deadlock_error while an await is outstanding", "[await][deadlock]") {
  // The only live fiber awaits; the thread resumes it later.
  std::thread resumer;
  std::atomic<bool> release{false};
  bool released_in_time = false;
  weft::executor ex;
  auto h = ex.spawn([&] { return weft::await(thread_resumed{&resumer, &release, &released_in_time, 7}); });
  std::thread releaser([&] {
    std::this_thread::sleep_for(20ms);
    release = true;
  });
  CHECK_NOTHROW(ex.run());
  releaser.join();
  resumer.join();
  CHECK(h.join() == 7);
}

namespace {

struct bool_awaiter {
  bool suspend;
  bool resume_inline;
  int* suspend_calls;
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    ++*suspend_calls;
    if (resume_inline) h.resume();  // completed before returning true
    return suspend;
  }
  std::string await_resume() const { return suspend ? "suspended" : "not suspended"; }
};

struct ready_awaiter {
  bool await_ready() const noexcept { return true; }
  void await_suspend(std::coroutine_handle<>) { throw std::logic_error("must not be called"); }
  int await_resume() const noexcept { return 3; }
};

}  // namespace

TEST_CASE("await: await_ready true and await_suspend returning false do not suspend",
          "[await]") {
  std::vector<std::string> trace;
  int calls = 0;
  weft::run([&] {
    weft::spawn([&] {
      weft::this_fiber::yield();  // ready from now on
      trace.push_back("other");
    });
    CHECK(weft::await(ready_awaiter{}) == 3);
    CHECK(weft::await(bool_awaiter{false, false, &calls}) == "not suspended");
    weft::await(std::suspend_never{});
    trace.push_back("no suspension yet");  // `other` has not run: we never suspended
    // Returning true after resuming the handle inline: no wait, and no lost wakeup.
    CHECK(weft::await(bool_awaiter{true, true, &calls}) == "suspended");
  });
  CHECK(calls == 2);
  REQUIRE(trace.size() == 2);
  CHECK(trace[0] == "no suspension yet");
}

namespace {

// await_suspend returning bool true, resumed later from a thread.
struct bool_true_thread_awaiter {
  std::thread* thread;
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    *thread = std::thread([h] {
      std::this_thread::sleep_for(2ms);
      h.resume();
    });
    return true;
  }
  int await_resume() const noexcept { return 8; }
};

// await_suspend returning a coroutine handle.
struct handle_awaiter {
  enum mode { self, noop_then_thread, other_coroutine } how;
  std::thread* thread = nullptr;
  std::coroutine_handle<> relay{};
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> h);
  bool await_ready() const noexcept { return false; }
  int await_resume() const noexcept { return static_cast<int>(how) + 100; }
  ~handle_awaiter() {
    if (relay) relay.destroy();
  }
};

// A lazy coroutine that resumes `target` when it runs: symmetric transfer through a third
// coroutine.
weft_test::lazy_coroutine make_relay(std::coroutine_handle<> target, int* runs) {
  ++*runs;
  target.resume();
  co_return;
}

int relay_runs = 0;

std::coroutine_handle<> handle_awaiter::await_suspend(std::coroutine_handle<> h) {
  switch (how) {
    case self:
      return h;  // resume us at once: no suspension
    case noop_then_thread:
      *thread = std::thread([h] {
        std::this_thread::sleep_for(2ms);
        h.resume();
      });
      return std::noop_coroutine();
    case other_coroutine:
      relay = make_relay(h, &relay_runs).handle;
      return relay;
  }
  return h;
}

}  // namespace

TEST_CASE("await: await_suspend returning true, resumed from a thread", "[await][threads]") {
  std::thread t;
  int v = weft::run([&] { return weft::await(bool_true_thread_awaiter{&t}); });
  t.join();
  CHECK(v == 8);
}

TEST_CASE("await: await_suspend returning a coroutine handle", "[await]") {
  std::thread t;
  relay_runs = 0;
  std::vector<int> results = weft::run([&] {
    std::vector<int> r;
    r.push_back(weft::await(handle_awaiter{handle_awaiter::self}));
    r.push_back(weft::await(handle_awaiter{handle_awaiter::noop_then_thread, &t}));
    r.push_back(weft::await(handle_awaiter{handle_awaiter::other_coroutine}));
    return r;
  });
  t.join();
  CHECK(results == std::vector<int>{100, 101, 102});
  CHECK(relay_runs == 1);
}

namespace {

struct member_co_await {
  int value;
  auto operator co_await() const {
    struct awaiter {
      int v;
      bool await_ready() const noexcept { return false; }
      bool await_suspend(std::coroutine_handle<> h) {
        h.resume();
        return true;
      }
      int await_resume() const noexcept { return v * 2; }
    };
    return awaiter{value};
  }
};

}  // namespace

namespace adl_ns {
struct free_co_await {
  std::string text;
};
struct free_awaiter {
  std::string text;
  bool await_ready() const noexcept { return true; }
  void await_suspend(std::coroutine_handle<>) noexcept {}
  std::string await_resume() { return text + "!"; }
};
inline free_awaiter operator co_await(free_co_await a) { return {std::move(a.text)}; }
}  // namespace adl_ns

TEST_CASE("await: awaitables with operator co_await", "[await]") {
  weft::run([] {
    CHECK(weft::await(member_co_await{21}) == 42);
    const member_co_await lvalue{5};
    CHECK(weft::await(lvalue) == 10);
    CHECK(weft::await(adl_ns::free_co_await{"hi"}) == "hi!");
  });
}

namespace {
struct throwing_resume {
  bool suspend;
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    if (suspend) h.resume();
    return suspend;
  }
  int await_resume() { throw std::runtime_error("from await_resume"); }
};
struct throwing_suspend {
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<>) { throw std::out_of_range("from await_suspend"); }
  int await_resume() { return 0; }
};
}  // namespace

TEST_CASE("await: exceptions from await_resume and await_suspend propagate", "[await]") {
  weft::run([] {
    CHECK_THROWS_WITH(weft::await(throwing_resume{false}), "from await_resume");
    CHECK_THROWS_WITH(weft::await(throwing_resume{true}), "from await_resume");
    CHECK_THROWS_AS(weft::await(throwing_suspend{}), std::out_of_range);
    // The fiber is fine afterwards.
    weft::this_fiber::yield();
  });
  // An escaping one reaches join().
  weft::executor ex;
  auto h = ex.spawn([] { return weft::await(throwing_resume{true}); });
  ex.run();
  CHECK_THROWS_WITH(h.join(), "from await_resume");
}

TEST_CASE("await from a plain thread blocks the thread until resumed", "[await][threads]") {
  std::thread resumer;
  std::atomic<bool> release{false};
  bool released_in_time = false;
  std::thread releaser([&] {
    // Release only once the calling thread is blocked inside weft.
    weft_test::wait_until([] { return weft::detail::threads_blocked_in_weft() > 0; });
    release = true;
  });
  const int v = weft::await(thread_resumed{&resumer, &release, &released_in_time, 77});
  releaser.join();
  resumer.join();
  CHECK(released_in_time);
  CHECK(v == 77);
  // Ready and non-suspending awaiters work from a plain thread too.
  int calls = 0;
  CHECK(weft::await(ready_awaiter{}) == 3);
  CHECK(weft::await(bool_awaiter{false, false, &calls}) == "not suspended");
  CHECK(weft::await(bool_awaiter{true, true, &calls}) == "suspended");
}

TEST_CASE("await on a join_handle from a fiber", "[await]") {
  int v = weft::run([] {
    auto h = weft::spawn([] {
      weft::this_fiber::sleep_for(1ms);
      return 5;
    });
    int a = weft::await(std::move(h));
    auto done = weft::spawn([] { return 6; });
    int b = weft::await(done);  // finished already: await_ready
    return a + b;
  });
  CHECK(v == 11);
}

TEST_CASE("many fibers awaiting at once, resumed from several threads", "[await][threads]") {
  constexpr int fibers = 50;
  struct queued_awaiter {
    std::vector<std::coroutine_handle<>>* queue;
    std::mutex* m;
    int v;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) {
      std::lock_guard g(*m);
      queue->push_back(h);
    }
    int await_resume() const noexcept { return v; }
  };
  std::vector<std::coroutine_handle<>> queue;
  std::mutex m;
  weft::executor ex;
  std::vector<weft::join_handle<int>> hs;
  for (int i = 0; i < fibers; ++i)
    hs.push_back(ex.spawn([&, i] { return weft::await(queued_awaiter{&queue, &m, i}); }));
  std::vector<std::thread> resumers;
  std::atomic<int> resumed{0};
  for (int t = 0; t < 3; ++t)
    resumers.emplace_back([&] {
      while (resumed < fibers) {
        std::coroutine_handle<> h;
        {
          std::lock_guard g(m);
          if (!queue.empty()) {
            h = queue.back();
            queue.pop_back();
          }
        }
        if (h) {
          h.resume();
          ++resumed;
        } else {
          std::this_thread::yield();
        }
      }
    });
  ex.run();
  for (auto& t : resumers) t.join();
  long sum = 0;
  for (auto& h : hs) sum += h.join();
  CHECK(sum == fibers * (fibers - 1) / 2);
}
