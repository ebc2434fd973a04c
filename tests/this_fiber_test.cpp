// this_fiber: yield and the order in which ready fibers run after it (fibers woken, spawned
// by plain threads, joiners, sleepers whose deadline passed), ids, names, thread_now, and
// calls from outside a fiber.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/weft.hpp>

using namespace std::chrono_literals;
using Catch::Matchers::Contains;

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
