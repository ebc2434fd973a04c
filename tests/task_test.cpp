// weft::task: tasks and fibers on one executor, sharing channels, mutexes and the other
// primitives on 1, 2 and 4 workers; joins both ways; exceptions through task chains; the
// awaitable twins; cancellation of a task blocked in each kind of wait; scopes, spawn options
// and weft::await; destroying an executor with suspended tasks; `co_await join_handle`
// continuing in the awaiting task; deadlock reports naming tasks; errors for empty tasks.
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/weft.hpp>

#include "support/fixtures.hpp"
#include "support/sanitizers.hpp"

using namespace std::chrono_literals;
using weft_test::custom_error;
using weft_test::ended_cancelled;
using weft_test::with_workers;

namespace {

weft::task<int> value_of(int v) { co_return v; }

// Whether `co_return` of an A compiles in a coroutine with promise P.
template <class P, class A>
concept can_co_return = requires(P& p, A&& a) { p.return_value(std::forward<A>(a)); };

weft::task<void> throws_custom(int code) {
  co_await weft::async_yield();
  throw custom_error(code);
}

// Awaits throws_custom through `depth` more tasks.
weft::task<int> rethrows_through(int depth) {
  if (depth == 0) {
    co_await throws_custom(42);
    co_return 0;
  }
  co_return co_await rethrows_through(depth - 1);
}

}  // namespace

TEST_CASE("task: a task and a fiber ping-pong over one channel", "[executor][task]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  INFO(workers << " workers");
  weft::channel<int> to_fiber, to_task;
  constexpr int rounds = 2000;
  auto pinger = [&]() -> weft::task<long> {
    long sum = 0;
    for (int i = 0; i < rounds; ++i) {
      REQUIRE(co_await to_fiber.async_send(i));
      const std::optional<int> back = co_await to_task.async_recv();
      REQUIRE(back);
      sum += *back;
    }
    to_fiber.close();
    co_return sum;
  };
  weft::executor ex(with_workers(workers));
  auto task = ex.spawn(pinger());
  auto fiber = ex.spawn([&] {
    int n = 0;
    for (int v : to_fiber) {
      to_task.send(v + 1);
      ++n;
    }
    return n;
  });
  ex.run();
  CHECK(fiber.join() == rounds);
  CHECK(task.join() == long(rounds) * (rounds + 1) / 2);
}

TEST_CASE("task: tasks and fibers contend for one mutex", "[executor][task]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  INFO(workers << " workers");
  weft::mutex m;
  long counter = 0;  // guarded by m
  constexpr int each = 500;
  auto bump_in_task = [&]() -> weft::task<void> {
    for (int i = 0; i < each; ++i) {
      co_await m.async_lock();
      const long seen = counter;
      if (i % 7 == 0) co_await weft::async_yield();  // hold it across a switch now and then
      counter = seen + 1;
      m.unlock();
    }
  };
  weft::executor ex(with_workers(workers));
  std::vector<weft::join_handle<void>> all;
  for (int k = 0; k < 4; ++k) {
    all.push_back(ex.spawn(bump_in_task()));
    all.push_back(ex.spawn([&] {
      for (int i = 0; i < each; ++i) {
        std::lock_guard hold(m);
        const long seen = counter;
        if (i % 7 == 0) weft::this_fiber::yield();
        counter = seen + 1;
      }
    }));
  }
  ex.run();
  for (auto& h : all) h.join();
  CHECK(counter == 8L * each);
}

TEST_CASE("task: a fiber joins a task and a task joins a fiber", "[executor][task]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  INFO(workers << " workers");
  weft::run(
      [] {
        auto t = weft::spawn([]() -> weft::task<std::string> {
          co_await weft::async_sleep_for(1ms);
          co_return "from a task";
        }());
        CHECK(t.join() == "from a task");

        auto joiner = weft::spawn([]() -> weft::task<int> {
          auto fiber = weft::spawn([] {
            weft::this_fiber::sleep_for(1ms);
            return 7;
          });
          const int v = co_await fiber;  // a join: the task waits, the fiber runs on
          co_return v * 6;
        }());
        CHECK(joiner.join() == 42);
      },
      with_workers(workers));
}

TEST_CASE("task: co_await of a join_handle continues in the awaiting task", "[executor][task]") {
  // Before tasks, a coroutine that awaited a join_handle was resumed by the finishing fiber and
  // ran on as that fiber, on its stack (this_fiber::id() changed to the child's).
  const std::size_t workers = GENERATE(1, 2, 4);
  INFO(workers << " workers");
  weft::run(
      [] {
        auto checker = weft::spawn([]() -> weft::task<bool> {
          const std::uint64_t me = weft::this_fiber::id();
          auto child = weft::spawn([] { weft::this_fiber::sleep_for(2ms); });
          const std::uint64_t child_id = child.id();
          co_await child;
          const bool same_after_join = weft::this_fiber::id() == me && me != child_id;
          co_await weft::async_sleep_for(1ms);  // a blocking call after it works
          co_return same_after_join && weft::this_fiber::id() == me;
        }());
        CHECK(checker.join());
      },
      with_workers(workers));
}

TEST_CASE("task: exceptions travel through task chains to join, await and co_await",
          "[executor][task]") {
  const std::size_t workers = GENERATE(1, 2);
  weft::run(
      [] {
        auto joined = weft::spawn(rethrows_through(50));
        CHECK_THROWS_MATCHES(joined.join(), custom_error,
                             Catch::Matchers::Predicate<custom_error>(
                                 [](const custom_error& e) { return e.code == 42; }));
        CHECK_THROWS_AS(weft::await(rethrows_through(3)), custom_error);
        auto caught = weft::spawn([]() -> weft::task<std::string> {
          try {
            co_await rethrows_through(10);
          } catch (const custom_error& e) {
            co_return std::string("caught ") + e.what();
          }
          co_return "not thrown";
        }());
        CHECK(caught.join() == "caught custom 42");
      },
      with_workers(workers));
}

TEST_CASE("task: the awaitable twins of event, condition_variable and wait_group",
          "[executor][task]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  INFO(workers << " workers");
  weft::run(
      [] {
        weft::event go;
        weft::mutex m;
        weft::condition_variable cv;
        int stage = 0;  // guarded by m
        weft::wait_group group;
        group.add(3);
        std::vector<weft::join_handle<int>> tasks;
        // A coroutine lambda's captures live in the lambda object, which is gone once the
        // spawn returns: what a task needs is passed as parameters, which live in its frame.
        auto stage_two = [](int id, weft::event& go, weft::mutex& m, weft::condition_variable& cv,
                            int& stage, weft::wait_group& group) -> weft::task<int> {
            co_await go.async_wait();
            {
              std::unique_lock lock(m, std::defer_lock);
              co_await m.async_lock();
              lock = std::unique_lock(m, std::adopt_lock);
              co_await cv.async_wait(lock, [&] { return stage >= 1; });
              ++stage;
            }
            group.done();
            co_return id;
        };
        for (int k = 0; k < 3; ++k) tasks.push_back(weft::spawn(stage_two(k, go, m, cv, stage, group)));
        weft::this_fiber::sleep_for(1ms);
        go.set();
        {
          std::lock_guard hold(m);
          stage = 1;
        }
        cv.notify_all();
        auto waiter = weft::spawn([](weft::wait_group& group, weft::mutex& m,
                                     int& stage) -> weft::task<int> {
          co_await group.async_wait();
          std::lock_guard hold(m);
          co_return stage;
        }(group, m, stage));
        CHECK(waiter.join() == 4);
        int ids = 0;
        for (auto& t : tasks) ids += t.join();
        CHECK(ids == 0 + 1 + 2);
      },
      with_workers(workers));
}

TEST_CASE("task: async_select picks a ready channel and times out", "[executor][task]") {
  weft::run([] {
    weft::channel<int> a(1), b(1);
    REQUIRE(b.send(5));
    auto t = weft::spawn([](weft::channel<int>& a, weft::channel<int>& b) -> weft::task<int> {
      int got = 0;
      const std::size_t first = co_await weft::async_select(
          weft::recv_case(a, [&](std::optional<int> v) { got = v.value_or(-1); }),
          weft::recv_case(b, [&](std::optional<int> v) { got = v.value_or(-1); }));
      if (first != 1 || got != 5) co_return -1;
      const std::size_t second = co_await weft::async_select(
          weft::recv_case(a, [&](std::optional<int>) {}), weft::timeout_case(1ms, [] {}));
      co_return second == 1 ? got : -2;
    }(a, b));
    CHECK(t.join() == 5);
  });
}

TEST_CASE("task: io and net twins echo over a socket pair", "[executor][task]") {
  const std::size_t workers = GENERATE(1, 2);
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  weft::run(
      [&] {
        auto echo = weft::spawn([](int fd) -> weft::task<void> {
          std::array<std::byte, 16> buf;
          const std::size_t n = co_await weft::io::async_read_some(fd, buf);
          co_await weft::io::async_write_all(fd, std::span(buf.data(), n));
        }(fds[1]));
        auto ask = weft::spawn([](int fd) -> weft::task<std::string> {
          const std::string hello = "hello";
          co_await weft::io::async_write_all(fd, std::as_bytes(std::span(hello)));
          REQUIRE(co_await weft::io::async_wait_readable(fd, 5s));
          std::array<char, 16> buf{};
          const std::size_t n =
              co_await weft::io::async_read_some(fd, std::as_writable_bytes(std::span(buf)));
          co_return std::string(buf.data(), n);
        }(fds[0]));
        echo.join();
        CHECK(ask.join() == "hello");

        auto listener = weft::net::tcp_listener::bind("127.0.0.1", 0);
        auto server = weft::spawn([](weft::net::tcp_listener& listener) -> weft::task<void> {
          weft::net::tcp_stream s = co_await listener.async_accept();
          std::array<std::byte, 3> got;
          co_await s.async_read_exact(got);
          co_await s.async_write_all(got);
        }(listener));
        auto client = weft::net::tcp_stream::connect("127.0.0.1", listener.local_port());
        const std::string abc = "abc";
        client.write_all(std::as_bytes(std::span(abc)));
        std::array<char, 3> back{};
        client.read_exact(std::as_writable_bytes(std::span(back)));
        server.join();
        CHECK(std::string(back.data(), 3) == "abc");
      },
      with_workers(workers));
  ::close(fds[0]);
  ::close(fds[1]);
}

namespace {

// One task per kind of interruption point, each waiting forever through an awaitable twin.
struct blocked_tasks : weft_test::never_ready {
  std::vector<std::pair<std::string, std::function<weft::task<void>()>>> all() {
    return {
        {"async_sleep_for", []() -> weft::task<void> { co_await weft::async_sleep_for(1h); }},
        {"async_recv", [this]() -> weft::task<void> { (void)co_await empty.async_recv(); }},
        {"async_send", [this]() -> weft::task<void> { (void)co_await full.async_send(1); }},
        {"event async_wait", [this]() -> weft::task<void> { co_await never_set.async_wait(); }},
        {"wait_group async_wait",
         [this]() -> weft::task<void> { co_await never_done.async_wait(); }},
        {"condition_variable async_wait",
         [this]() -> weft::task<void> {
           std::unique_lock lock(m);
           co_await cv.async_wait(lock);
         }},
        {"async_select",
         [this]() -> weft::task<void> {
           (void)co_await weft::async_select(weft::recv_case(empty, [](std::optional<int>) {}),
                                             weft::timeout_case(1h, [] {}));
         }},
        {"co_await join_handle",
         [this]() -> weft::task<void> {
           co_await weft::spawn([this] { never_set.wait(); });  // the fiber outlives the task
         }},
        {"io async_read_some",
         [this]() -> weft::task<void> {
           std::byte b[1];
           (void)co_await weft::io::async_read_some(pipe_fds[0], b);
         }},
        {"a nested task's wait",
         [this]() -> weft::task<void> {
           auto inner = [this]() -> weft::task<int> {
             co_return (co_await empty.async_recv()).value_or(0);
           };
           (void)co_await inner();
         }},
    };
  }
};

}  // namespace

TEST_CASE("task: request_stop cancels a task blocked in each kind of wait", "[executor][task]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  INFO(workers << " workers");
  weft::run(
      [] {
        blocked_tasks waits;
        std::vector<weft::join_handle<void>> leftovers;
        for (auto& [name, make] : waits.all()) {
          CAPTURE(name);
          auto t = weft::spawn(make());
          weft::this_fiber::sleep_for(1ms);  // let it block
          CHECK_FALSE(t.done());
          CHECK(t.request_stop());
          CHECK(ended_cancelled(t));
        }
        waits.never_set.set();  // ends the joined fibers the cancelled tasks left
      },
      with_workers(workers));
}

TEST_CASE("task: scope::spawn, spawn_options and handle features work for tasks",
          "[executor][task]") {
  weft::run([] {
    weft::event never;
    weft::scope s;
    auto quick = s.spawn(value_of(3));
    auto stuck = s.spawn([](weft::event& e) -> weft::task<void> { co_await e.async_wait(); }(never));
    auto failing = s.spawn([]() -> weft::task<void> {
      co_await weft::async_sleep_for(1ms);
      throw custom_error(7);
    }());
    CHECK_THROWS_AS(s.join(), custom_error);  // the failure stopped the stuck task
    CHECK(quick.join() == 3);
    CHECK(ended_cancelled(stuck));

    auto named = weft::spawn(weft::spawn_options{.name = "named-task", .pinned = true},
                             []() -> weft::task<std::string> {
                               co_await weft::async_yield();
                               co_return weft::this_fiber::name() +
                                   (weft::this_fiber::pinned() ? " pinned" : "");
                             }());
    CHECK(named.wait_for(10s));
    CHECK(named.join() == "named-task pinned");

    weft::wait_group finished;
    finished.add();
    weft::spawn([](weft::wait_group& finished) -> weft::task<void> {
      co_await weft::async_sleep_for(1ms);
      finished.done();
    }(finished)).detach();
    finished.wait();
  });
}

TEST_CASE("task: destroying an executor frees the frames of suspended tasks",
          "[executor][task]") {
  // Under ASan a frame left behind is a leak; a frame freed twice or used after its free is
  // reported too.
  const std::size_t workers = GENERATE(1, 2);
  auto destroyed = std::make_shared<std::atomic<int>>(0);
  struct counts_destruction {
    std::shared_ptr<std::atomic<int>> count;
    ~counts_destruction() { ++*count; }
  };
  weft::channel<int> never(0);
  {
    weft::executor ex(with_workers(workers));
    // Each frame owns one counts_destruction: a parameter of the outer task, and a local of
    // the nested one.
    auto deeper = [](weft::channel<int>& never,
                     std::shared_ptr<std::atomic<int>> count) -> weft::task<int> {
      counts_destruction innermost{std::move(count)};
      co_return (co_await never.async_recv()).value_or(0);
    };
    auto outer = [](weft::channel<int>& never, counts_destruction guard,
                    decltype(deeper) deeper) -> weft::task<void> {
      (void)co_await deeper(never, guard.count);
    };
    for (int i = 0; i < 20; ++i) ex.spawn(outer(never, counts_destruction{destroyed}, deeper)).detach();
    ex.spawn([] {}).join();  // runs the executor until every task has blocked
    CHECK(*destroyed == 20);
  }
  // Per task: the argument (destroyed as outer() returns), its copy in the outer frame, and
  // the nested frame's local.
  CHECK(*destroyed == 20 * 3);
}

TEST_CASE("task: a deadlock report names the stuck task and what it waits on",
          "[executor][task]") {
  weft::executor ex(weft::executor_options{.deadlock_grace = 0ms});
  weft::channel<int> nobody_sends;
  auto h = ex.spawn(weft::spawn_options{.name = "lonely-task"},
                    [](weft::channel<int>& ch) -> weft::task<void> {
                      (void)co_await ch.async_recv();
                    }(nobody_sends));
  try {
    ex.run();
    FAIL("no deadlock_error");
  } catch (const weft::deadlock_error& e) {
    const std::string what = e.what();
    CHECK_THAT(what, Catch::Matchers::Contains("task " + std::to_string(h.id()) +
                                               " \"lonely-task\" waits on channel recv"));
  }
  nobody_sends.close();
  ex.run();
  h.join();
}

TEST_CASE("task: empty tasks and lost frames give clear errors", "[executor][task]") {
  weft::task<int> t = value_of(1);
  weft::task<int> moved = std::move(t);
  CHECK_FALSE(t.valid());
  CHECK(moved.valid());
  CHECK_THROWS_WITH(weft::await(std::move(t)),
                    Catch::Matchers::Contains("weft::task: run of an empty task"));
  CHECK(weft::await(std::move(moved)) == 1);
  CHECK_FALSE(moved.valid());  // consumed by the run

  weft::run([] {
    auto awaits_empty = weft::spawn([]() -> weft::task<int> {
      weft::task<int> empty;
      co_return co_await std::move(empty);
    }());
    CHECK_THROWS_WITH(awaits_empty.join(),
                      Catch::Matchers::Contains("weft::task: co_await of an empty task"));
    auto awaits_twice = weft::spawn([]() -> weft::task<int> {
      weft::task<int> once = value_of(2);
      int v = co_await once;
      v += co_await once;  // consumed by the first co_await
      co_return v;
    }());
    CHECK_THROWS_AS(awaits_twice.join(), std::logic_error);
  });

  weft::run([] {
    CHECK_THROWS_WITH(weft::spawn(weft::task<int>()),
                      Catch::Matchers::Contains("weft::task: spawn of an empty task"));
  });

  // On a plain thread the sleep and yield twins throw as their blocking forms do.
  auto naps = []() -> weft::task<void> { co_await weft::async_sleep_for(1ms); };
  CHECK_THROWS_AS(weft::await(naps()), std::logic_error);

  // A reference result must not refer to a temporary: such a co_return does not compile.
  using ref_promise = weft::detail::task_promise<const std::string&>;
  static_assert(!can_co_return<ref_promise, std::string>);
  static_assert(can_co_return<ref_promise, std::string&>);
  static_assert(can_co_return<weft::detail::task_promise<std::string>, const char*>);

  // A task that is never run is destroyed without running.
  bool ran = false;
  {
    auto never_run = [&]() -> weft::task<void> {
      ran = true;
      co_return;
    }();
  }
  CHECK_FALSE(ran);
}

// Not under valgrind, which aborts where operator new would throw, nor the sanitizers, whose
// allocators reserve more address space than the cap below leaves, nor clang 14, which keeps
// the array below out of the coroutine frame (the frame it allocates stays small), nor under
// qemu's user-mode emulation (WEFT_TEST_EMULATOR), which does not apply RLIMIT_AS to its guest.
#if !defined(WEFT_TEST_ASAN) && !defined(WEFT_TEST_TSAN) && !defined(WEFT_TEST_UNDER_VALGRIND) && \
    !defined(__clang__) && !defined(WEFT_TEST_EMULATOR)
namespace {
// A task with a 1 GiB frame (the array lives across a co_await; volatile, so it stays).
weft::task<int> huge_frame() {
  volatile char big[std::size_t(1) << 30];
  big[0] = 1;
  co_await weft::async_yield();
  co_return big[0];
}

// Caps the process's address space at what it maps now plus `headroom` while alive.
struct address_space_cap {
  rlimit old{};
  explicit address_space_cap(std::size_t headroom) {
    std::size_t pages = 0;
    if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
      if (std::fscanf(f, "%zu", &pages) != 1) pages = 0;
      std::fclose(f);
    }
    ::getrlimit(RLIMIT_AS, &old);
    rlimit capped = old;
    capped.rlim_cur = pages * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)) + headroom;
    ::setrlimit(RLIMIT_AS, &capped);
  }
  ~address_space_cap() { ::setrlimit(RLIMIT_AS, &old); }
};
}  // namespace

TEST_CASE("task: a frame that cannot be allocated is std::bad_alloc in the spawner",
          "[executor][task]") {
  weft::run([] {
    {
      address_space_cap cap(256 << 20);
      CHECK_THROWS_AS(weft::spawn(huge_frame()), std::bad_alloc);
    }
    CHECK(weft::spawn(value_of(4)).join() == 4);
  });
}
#endif
