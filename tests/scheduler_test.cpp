// The scheduler and primitives on 1, 2 and 4 workers: results, migration, parking, pinning,
// deadlock detection and unwinding must not depend on how many threads run the fibers.
#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include <weft/weft.hpp>

#include "support/fixtures.hpp"
#include "support/internals.hpp"
#include "support/skynet.hpp"

namespace {

using namespace std::chrono_literals;
using weft_test::with_workers;
using weft_test::skynet;

double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace

TEST_CASE("skynet sums right on any number of workers", "[scheduler]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  CAPTURE(workers);
  // 1000 leaves: ThreadSanitizer counts every live fiber as a thread and allows only 8192.
  CHECK(weft::run([] { return skynet(0, 1000); }, with_workers(workers)) == 1000ull * 999 / 2);
}

namespace {
// A chain of spawns, each child started at once while every ancestor's continuation waits in
// the worker's deque: `depth` of them at the deepest point.
std::uint64_t spawn_chain(std::uint64_t depth) {
  if (depth == 0) return 0;
  return weft::spawn(&spawn_chain, depth - 1).join() + depth;
}
}  // namespace

TEST_CASE("a chain of spawns outgrows the continuation deque's first array", "[scheduler]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  CAPTURE(workers);
  constexpr std::uint64_t depth = 1000;  // the deque starts with 256 slots
  CHECK(weft::run([] { return spawn_chain(depth); }, with_workers(workers)) ==
        depth * (depth + 1) / 2);
}

TEST_CASE("a worker's inbox keeps each pusher's order and loses nothing", "[scheduler]") {
  // The lock-free inbox on its own: four threads push while the owner pops.
  constexpr int pushers = 4, per_pusher = 20000;
  const weft::detail::fiber_memory no_memory{};
  const weft::detail::task_ops no_task{};
  std::deque<weft::detail::fiber> fibers;
  for (std::uint64_t i = 0; i < pushers * per_pusher; ++i)
    fibers.emplace_back(nullptr, i, no_memory, no_task);
  weft::detail::fiber_inbox inbox;
  std::vector<std::thread> threads;
  for (int p = 0; p < pushers; ++p)
    threads.emplace_back([&, p] {
      for (int i = 0; i < per_pusher; ++i) inbox.push(&fibers[p * per_pusher + i]);
    });
  std::array<int, pushers> next{};  // per pusher: the index it must pop next
  int popped = 0, out_of_order = 0;
  while (popped < pushers * per_pusher) {
    weft::detail::fiber* f = inbox.pop();
    if (!f) continue;
    const int p = static_cast<int>(f->id) / per_pusher, i = static_cast<int>(f->id) % per_pusher;
    if (i != next[p]) ++out_of_order;
    next[p] = i + 1;
    ++popped;
  }
  for (auto& t : threads) t.join();
  CHECK(out_of_order == 0);
  CHECK(inbox.pop() == nullptr);
  CHECK(inbox.looks_empty());
}

TEST_CASE("channels ping-pong with migration: every value arrives once", "[scheduler]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  CAPTURE(workers);
  constexpr int producers = 8, per_producer = 2000;
  std::set<std::thread::id> threads;
  std::mutex threads_mutex;
  long total = weft::run(
      [&] {
        weft::channel<int> first(0), second(3);
        std::atomic<long> sum{0};
        std::vector<weft::join_handle<void>> fibers;
        for (int p = 0; p < producers; ++p)
          fibers.push_back(weft::spawn([&] {
            for (int i = 0; i < per_producer; ++i) first.send(i);
          }));
        for (int r = 0; r < producers; ++r)
          fibers.push_back(weft::spawn([&] {
            for (int i = 0; i < per_producer; ++i) {
              second.send(*first.recv());
              std::lock_guard guard(threads_mutex);
              threads.insert(weft::this_fiber::thread_now());
            }
          }));
        auto drain = weft::spawn([&] {
          for (int i = 0; i < producers * per_producer; ++i) sum += *second.recv();
        });
        for (auto& f : fibers) f.join();
        drain.join();
        return sum.load();
      },
      with_workers(workers));
  CHECK(total == long{producers} * per_producer * (per_producer - 1) / 2);
  CHECK(threads.size() <= workers);
}

TEST_CASE("a mutex excludes across workers, with yields inside", "[scheduler]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  CAPTURE(workers);
  long counter = 0;
  weft::run(
      [&] {
        weft::mutex m;
        std::vector<weft::join_handle<void>> fibers;
        for (int f = 0; f < 50; ++f)
          fibers.push_back(weft::spawn([&] {
            for (int i = 0; i < 200; ++i) {
              std::lock_guard guard(m);
              long seen = counter;
              if (i % 5 == 0) weft::this_fiber::yield();
              counter = seen + 1;
            }
          }));
        for (auto& f : fibers) f.join();
      },
      with_workers(workers));
  CHECK(counter == 50 * 200);
}

TEST_CASE("condition_variable, wait_group and event across workers", "[scheduler]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  CAPTURE(workers);
  long consumed = 0;
  int woken_count = 0;
  weft::run(
      [&] {
        weft::mutex m;
        weft::condition_variable cv;
        std::vector<int> queue;
        bool done = false;
        weft::wait_group consumers;
        consumers.add(4);
        for (int c = 0; c < 4; ++c)
          weft::spawn([&] {
            std::unique_lock lock(m);
            for (;;) {
              cv.wait(lock, [&] { return !queue.empty() || done; });
              if (queue.empty()) break;
              consumed += queue.back();
              queue.pop_back();
            }
            consumers.done();
          }).detach();
        for (int i = 1; i <= 1000; ++i) {
          {
            std::lock_guard guard(m);
            queue.push_back(i);
          }
          cv.notify_one();
          if (i % 100 == 0) weft::this_fiber::yield();
        }
        {
          std::lock_guard guard(m);
          done = true;
        }
        cv.notify_all();
        consumers.wait();

        weft::event go;
        std::atomic<int> woken{0};
        std::vector<weft::join_handle<void>> waiters;
        for (int i = 0; i < 100; ++i) waiters.push_back(weft::spawn([&] {
          go.wait();
          ++woken;
        }));
        go.set();
        for (auto& w : waiters) w.join();
        woken_count = woken;
      },
      with_workers(workers));
  CHECK(consumed == 1000 * 1001 / 2);
  CHECK(woken_count == 100);
}

TEST_CASE("sleepers wake in time on any worker", "[scheduler]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  CAPTURE(workers);
  // Catch2's assertions are not thread-safe: fibers on several workers only count.
  std::atomic<int> early{0};
  weft::run(
      [&] {
        std::vector<weft::join_handle<void>> sleepers;
        for (int i = 0; i < 40; ++i)
          sleepers.push_back(weft::spawn([i, &early] {
            auto wanted = std::chrono::milliseconds(1 + i % 8);
            auto start = std::chrono::steady_clock::now();
            weft::this_fiber::sleep_for(wanted);
            if (std::chrono::steady_clock::now() - start < wanted) ++early;
          }));
        for (auto& s : sleepers) s.join();
      },
      with_workers(workers));
  CHECK(early == 0);
}

// A fiber that only spawns and joins children never yields to the FIFO: its children end
// into it directly (worker::end_short), bypassing the scheduler. A sleeper whose time came
// and a fiber made ready meanwhile must still get their turn while it loops (not after it).
TEST_CASE("a spawn+join loop does not starve sleepers and ready fibers", "[scheduler]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  CAPTURE(workers);
  std::atomic<bool> slept{false}, yielded{false};
  bool both_ran_during_loop = false;
  weft::run(
      [&] {
        auto sleeper = weft::spawn([&] {
          weft::this_fiber::sleep_for(1ms);
          slept = true;
        });
        auto yielder = weft::spawn([&] {
          weft::this_fiber::yield();  // into the FIFO, behind the loop below
          yielded = true;
        });
        const auto give_up = std::chrono::steady_clock::now() + 10s;
        while (!(slept && yielded) && std::chrono::steady_clock::now() < give_up)
          weft::spawn([] {}).join();
        both_ran_during_loop = slept && yielded;
        sleeper.join();
        yielder.join();
      },
      with_workers(workers));
  CHECK(both_ran_during_loop);
}

TEST_CASE("deadlock_error with several workers names the blocked fibers", "[scheduler]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  CAPTURE(workers);
  try {
    weft::run(
        [] {
          weft::channel<int> a, b;
          auto x = weft::spawn([&] {
            weft::this_fiber::set_name("left");
            a.recv();
          });
          auto y = weft::spawn([&] {
            weft::this_fiber::set_name("right");
            b.recv();
          });
          x.join();
          y.join();
        },
        with_workers(workers));
    FAIL("no deadlock_error");
  } catch (const weft::deadlock_error& e) {
    const std::string what = e.what();
    CHECK_THAT(what, Catch::Contains("\"left\" waits on channel recv"));
    CHECK_THAT(what, Catch::Contains("\"right\" waits on channel recv"));
    CHECK_THAT(what, Catch::Contains("waits on join"));
  }
}

TEST_CASE("a plain thread holding a weft::mutex that fibers wait on is no deadlock",
          "[scheduler]") {
  // The thread runs its own code while it holds the mutex (no weft call, no work_guard): its
  // unlock() will wake the fiber, so the executor must wait for it, however long it takes.
  const std::size_t workers = GENERATE(1, 2, 4);
  CAPTURE(workers);
  weft::mutex m;
  std::atomic<bool> thread_holds{false}, fiber_locks{false};
  int shared = 0;  // guarded by m
  std::thread holder([&] {
    m.lock();
    thread_holds = true;
    while (!fiber_locks) std::this_thread::sleep_for(100us);
    std::this_thread::sleep_for(20ms);  // the fiber is blocked and every worker idle by now
    shared = 1;
    m.unlock();
  });
  const int seen = weft::run(
      [&] {
        while (!thread_holds) weft::this_fiber::sleep_for(100us);
        fiber_locks = true;
        std::lock_guard lk(m);
        return shared;
      },
      with_workers(workers));
  holder.join();
  CHECK(seen == 1);
}

TEST_CASE("run()'s own thread holding a weft::mutex its fibers wait for is a deadlock",
          "[scheduler]") {
  // Unlike another plain thread, the one running the executor cannot unlock while it runs
  // fibers: its hold must not keep the deadlock check waiting forever.
  const std::size_t workers = GENERATE(1, 2, 4);
  CAPTURE(workers);
  weft::mutex m;
  m.lock();
  try {
    weft::run([&] { std::lock_guard lk(m); }, with_workers(workers));
    FAIL("no deadlock_error");
  } catch (const weft::deadlock_error& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("waits on mutex"));
  }
  m.unlock();
  CHECK(m.try_lock());  // the unwound fiber left no waiter behind
  m.unlock();
}

namespace {
// A callable that, on its second move (spawn moves it into its bound call, then, once the
// fiber's memory is taken, into the task), says it is `inside` spawn, waits until
// `fiber_waits` and then 20 ms more: the spawning thread sits inside spawn() while every
// fiber is blocked.
struct slow_second_move {
  weft::event* go;
  std::atomic<bool>* inside;
  std::atomic<bool>* fiber_waits;
  int moves = 0;
  slow_second_move(weft::event& g, std::atomic<bool>& in, std::atomic<bool>& w)
      : go(&g), inside(&in), fiber_waits(&w) {}
  slow_second_move(slow_second_move&& o) noexcept
      : go(o.go), inside(o.inside), fiber_waits(o.fiber_waits), moves(o.moves + 1) {
    if (moves != 2) return;
    *inside = true;
    while (!*fiber_waits) std::this_thread::sleep_for(100us);
    std::this_thread::sleep_for(20ms);
  }
  void operator()() const { go->set(); }
};
}  // namespace

TEST_CASE("a plain thread inside spawn() is no deadlock", "[scheduler]") {
  // Every fiber waits for an event that only the fiber being spawned will set: the executor
  // must wait for the spawn to finish instead of declaring a deadlock.
  const std::size_t workers = GENERATE(1, 2, 4);
  CAPTURE(workers);
  weft::executor ex(with_workers(workers));
  weft::event go;
  std::atomic<bool> inside{false}, fiber_waits{false};
  auto waiter = ex.spawn([&] {
    fiber_waits = true;
    go.wait();
  });
  std::thread spawner([&] { ex.spawn(slow_second_move(go, inside, fiber_waits)).detach(); });
  while (!inside) std::this_thread::sleep_for(100us);  // the thread is inside spawn()
  std::string deadlock;
  try {
    ex.run();
  } catch (const weft::deadlock_error& e) {
    deadlock = e.what();
  }
  spawner.join();
  CHECK(deadlock.empty());
  CHECK(waiter.done());
}

TEST_CASE("a plain thread waiting on a condition_variable keeps fibers alive", "[scheduler]") {
  // Ownership of the mutex moves between a plain thread and a fiber through cv.wait(): at no
  // point may the executor think that nothing can wake the fiber. (A work_guard covers only
  // the thread's start, before it first holds the mutex.)
  const std::size_t workers = GENERATE(1, 2, 4);
  CAPTURE(workers);
  constexpr int rounds = 200;
  weft::mutex m;
  weft::condition_variable cv;
  int turn = 0;  // even: the thread's turn, odd: the fiber's; guarded by m
  weft::executor ex(with_workers(workers));
  weft::executor::work_guard starting(ex);
  std::thread t([&] {
    std::unique_lock lk(m);
    starting.reset();
    for (int i = 0; i < rounds; ++i) {
      cv.wait(lk, [&] { return turn % 2 == 0; });
      ++turn;
      if (i % 16 == 0) std::this_thread::sleep_for(200us);  // hold m a while now and then
      cv.notify_all();
    }
  });
  ex.spawn([&] {
    std::unique_lock lk(m);
    for (int i = 0; i < rounds; ++i) {
      cv.wait(lk, [&] { return turn % 2 == 1; });
      ++turn;
      cv.notify_all();
    }
  });
  ex.run();
  t.join();
  CHECK(turn == 2 * rounds);
}

TEST_CASE("an executor destroyed with blocked fibers on several workers unwinds them",
          "[scheduler]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  CAPTURE(workers);
  std::atomic<int> destroyed{0};
  struct counted {
    std::atomic<int>& n;
    ~counted() { ++n; }
  };
  {
    weft::event never;  // outlives the executor, whose destruction takes the fibers out of it
    weft::executor ex(with_workers(workers));
    for (int i = 0; i < 20; ++i) ex.spawn([&] {
      counted c{destroyed};
      never.wait();
    });
    try {
      ex.run();
    } catch (const weft::deadlock_error&) {
    }
  }
  CHECK(destroyed == 20);
}

TEST_CASE("await completed from another thread, on several workers", "[scheduler]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  CAPTURE(workers);
  struct from_thread {
    int value;
    std::thread* thread;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) {
      *thread = std::thread([h] {
        std::this_thread::sleep_for(1ms);
        h.resume();
      });
    }
    int await_resume() const noexcept { return value; }
  };
  int sum = weft::run(
      [] {
        std::vector<std::thread> threads(8);
        std::vector<weft::join_handle<int>> fibers;
        for (int i = 0; i < 8; ++i)
          fibers.push_back(weft::spawn([i, &threads] { return weft::await(from_thread{i, &threads[i]}); }));
        int s = 0;
        for (auto& f : fibers) s += f.join();
        for (auto& t : threads) t.join();
        return s;
      },
      with_workers(workers));
  CHECK(sum == 28);
}

TEST_CASE("spawn is thread-safe from plain threads while workers run", "[scheduler]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  CAPTURE(workers);
  weft::executor ex(with_workers(workers));
  std::atomic<int> ran{0};
  {
    weft::executor::work_guard guard(ex);
    std::vector<std::thread> spawners;
    for (int t = 0; t < 3; ++t)
      spawners.emplace_back([&] {
        for (int i = 0; i < 200; ++i) ex.spawn([&] { ++ran; }).detach();
      });
    std::thread runner([&] { ex.run(); });
    for (auto& s : spawners) s.join();
    guard.reset();
    runner.join();
  }
  CHECK(ran == 600);
}

// Without a work_guard, run() ends whenever no fiber is left, here often while the plain
// thread is between spawns or inside one, and with several workers it is decided by whichever
// worker runs dry first, while others may still run fibers. Every fiber must still run, in
// that run or the next.
TEST_CASE("runs that end while a plain thread spawns lose no fiber", "[scheduler]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  CAPTURE(workers);
  constexpr int roots = 2000;
  weft::executor ex(with_workers(workers));
  std::atomic<int> done{0};
  std::atomic<bool> spawning{true};
  std::thread runner([&] {
    while (spawning.load()) ex.run();
  });
  for (int i = 0; i < roots; ++i)
    ex.spawn([&] {
      auto yielding = weft::spawn([&] {
        weft::this_fiber::yield();
        ++done;
      });
      auto plain = weft::spawn([&] { ++done; });
      yielding.join();
      plain.join();
      ++done;
    }).detach();
  spawning = false;
  runner.join();
  ex.run();  // what the last of the runner's runs left
  CHECK(done == 3 * roots);
  CHECK(ex.live_fibers() == 0);
}

TEST_CASE("no wakeup is lost: a plain thread wakes a parked executor many times",
          "[scheduler]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  // Pinned, the fiber is woken through its worker's inbox, which wakes that worker alone.
  const bool pinned = GENERATE(false, true);
  CAPTURE(workers, pinned);
  constexpr int rounds = 2000;
  std::atomic<int> mismatches{0};
  weft::executor ex(with_workers(workers));
  weft::channel<int> to_fiber, to_thread;
  weft::executor::work_guard guard(ex);
  std::thread partner([&] {
    std::minstd_rand random(7);
    for (int i = 0; i < rounds; ++i) {
      if (random() % 4 == 0) std::this_thread::sleep_for(std::chrono::microseconds(random() % 50));
      to_fiber.send(i);
      if (to_thread.recv() != i) ++mismatches;
    }
    guard.reset();
  });
  auto echo = ex.spawn([&] {
    if (pinned) weft::this_fiber::pin();
    for (int i = 0; i < rounds; ++i) to_thread.send(*to_fiber.recv());
  });
  ex.run();
  partner.join();
  echo.join();
  CHECK(mismatches == 0);
}

TEST_CASE("idle workers use no CPU while fibers sleep", "[scheduler]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  CAPTURE(workers);
  weft::executor ex(with_workers(workers));
  double cpu = 0;
  ex.spawn([&] {
    weft::this_fiber::sleep_for(20ms);  // let every worker start and park
    const double before = process_cpu_seconds();
    weft::this_fiber::sleep_for(300ms);
    cpu = process_cpu_seconds() - before;
  });
  ex.run();
  // 300 ms of wall time; parked workers should cost almost nothing (allow scheduler noise).
  CHECK(cpu < 0.05);
}

TEST_CASE("a worker stuck in a blocking call does not freeze its timers", "[scheduler]") {
  // A ticker sleeps in 10 ms steps on the worker that then blocks in a plain read() for 300 ms:
  // another worker fires the ticker's overdue timers (worker::rescue_overdue_timers) and runs
  // it. A lone worker cannot: its timers wait for the read (documented).
  const std::size_t workers = GENERATE(2, 4);
  CAPTURE(workers);
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  std::atomic<int> ticks_while_blocked{0};
  std::atomic<bool> reading{false}, done{false};
  std::atomic<ssize_t> written{0};
  std::thread writer([&] {  // Catch's assertions are for the test's own thread: none here
    std::this_thread::sleep_for(300ms);
    const char byte = 'x';
    written.store(::write(fds[1], &byte, 1));
  });
  weft::run(
      [&] {
        weft::this_fiber::pin();  // so that the read blocks the worker the ticker sleeps on
        auto ticker = weft::spawn([&] {  // starts at once, here, and sleeps on this worker
          while (!done.load()) {
            weft::this_fiber::sleep_for(10ms);
            if (reading.load()) ticks_while_blocked.fetch_add(1);
          }
        });
        weft::this_fiber::sleep_for(15ms);
        reading.store(true);
        char byte = 0;
        CHECK(::read(fds[0], &byte, 1) == 1);  // blocks this worker's thread, not only the fiber
        reading.store(false);
        done.store(true);
        ticker.join();
      },
      with_workers(workers));
  writer.join();
  CHECK(written.load() == 1);
  ::close(fds[0]);
  ::close(fds[1]);
  // About 30 ticks fit in 300 ms; without the rescue there would be none.
  CHECK(ticks_while_blocked.load() >= 5);
}

TEST_CASE("weft's current-fiber lookups stay right when fibers migrate", "[scheduler]") {
  const std::size_t workers = GENERATE(2, 4);
  CAPTURE(workers);
  std::atomic<int> migrations{0};
  std::atomic<int> wrong{0};
  weft::run(
      [&] {
        std::vector<weft::join_handle<void>> fibers;
        for (int f = 0; f < 16; ++f)
          fibers.push_back(weft::spawn([&] {
            const std::uint64_t me = weft::this_fiber::id();
            auto thread = weft::this_fiber::thread_now();
            for (int i = 0; i < 300; ++i) {
              weft::this_fiber::yield();
              if (weft::this_fiber::thread_now() != thread) {
                ++migrations;
                thread = weft::this_fiber::thread_now();
              }
              // Read after every resumption: a cached TLS address would show the other
              // thread's fiber (or none).
              if (weft::this_fiber::id() != me) ++wrong;
              if (weft::detail::current_fiber() == nullptr ||
                  weft::detail::current_fiber()->id != me)
                ++wrong;
            }
          }));
        for (auto& f : fibers) f.join();
      },
      with_workers(workers));
  CHECK(wrong == 0);
  WARN("migrations seen: " << migrations.load());
}

TEST_CASE("a fiber whose spawner is stolen while it runs still hands its end to the handle",
          "[scheduler]") {
  // A fiber that ends without ever suspending, while its spawner waits in the deque unresumed,
  // publishes its end without the lock: no handle exists yet (worker::reclaim_spawner). Here
  // a thief takes the spawner while the child still runs, so the child's end must go the
  // locked way: wake the spawner joining it, or free itself when the handle was dropped.
  const std::size_t workers = GENERATE(2, 4);
  const bool drop_handle = GENERATE(false, true);
  CAPTURE(workers, drop_handle);
  constexpr int rounds = 100;
  struct round_state {
    std::atomic<bool> spawner_resumed{false};
    std::atomic<bool> ended{false};
  };
  std::array<round_state, rounds> state;
  int stolen = 0, joined_right = 0;
  weft::run(
      [&] {
        for (int i = 0; i < rounds; ++i) {
          round_state& r = state[static_cast<std::size_t>(i)];
          auto child = weft::spawn([&r, i, &stolen] {
            // Never suspends: spins until the spawner runs elsewhere (or a while passes).
            const auto give_up = std::chrono::steady_clock::now() + 200ms;
            while (!r.spawner_resumed.load() && std::chrono::steady_clock::now() < give_up) {
            }
            if (r.spawner_resumed.load()) ++stolen;
            r.ended.store(true);
            return i;
          });
          r.spawner_resumed.store(true);
          if (drop_handle) {
            child.detach();
            while (!r.ended.load()) weft::this_fiber::yield();
          } else if (child.join() == i) {
            ++joined_right;
          }
        }
      },
      with_workers(workers));
  if (!drop_handle) CHECK(joined_right == rounds);
  CHECK(stolen > 0);  // the idle worker steals the spawner: the locked path ran
  WARN("spawners stolen while their child ran: " << stolen << " of " << rounds);
}

TEST_CASE("a long child's spawner is stolen by a worker that was parked", "[scheduler]") {
  // The spawner's continuation is the only one in its deque: a thief watches it a few
  // microseconds before taking it, and a worker in a brief park is not woken for it
  // (executor_core::notify_for_continuation). Neither may leave it there while the child runs:
  // the other workers park first (a sleep), then the child spins until its spawner runs.
  const std::size_t workers = GENERATE(2, 4);
  CAPTURE(workers);
  constexpr int rounds = 5;
  int stolen = 0;
  weft::run(
      [&] {
        for (int i = 0; i < rounds; ++i) {
          weft::this_fiber::sleep_for(20ms);  // the other workers search ~50 us, then park
          std::atomic<bool> spawner_resumed{false};
          auto child = weft::spawn([&] {
            const auto give_up = std::chrono::steady_clock::now() + 2s;
            while (!spawner_resumed.load() && std::chrono::steady_clock::now() < give_up) {
            }
            return spawner_resumed.load();
          });
          spawner_resumed.store(true);
          if (child.join()) ++stolen;
        }
      },
      with_workers(workers));
  CHECK(stolen == rounds);
}

TEST_CASE("a pinned fiber stays on its thread", "[scheduler]") {
  const std::size_t workers = GENERATE(2, 4);
  CAPTURE(workers);
  std::atomic<int> moved{0};
  weft::run(
      [&] {
        std::vector<weft::join_handle<void>> fibers;
        weft::event tick;
        for (int f = 0; f < 8; ++f)
          fibers.push_back(weft::spawn([&, f] {
            weft::this_fiber::scoped_pin pin;
            if (!weft::this_fiber::pinned()) ++moved;
            const auto thread = weft::this_fiber::thread_now();
            for (int i = 0; i < 200; ++i) {
              if (i % 50 == 0) weft::this_fiber::sleep_for(std::chrono::microseconds(100 + f));
              weft::this_fiber::yield();
              if (weft::this_fiber::thread_now() != thread) ++moved;
            }
          }));
        // Unpinned busy fibers give idle workers something to steal.
        for (int f = 0; f < 8; ++f)
          fibers.push_back(weft::spawn([] {
            for (int i = 0; i < 200; ++i) weft::this_fiber::yield();
          }));
        for (auto& f : fibers) f.join();
        if (weft::this_fiber::pinned()) ++moved;
      },
      with_workers(workers));
  CHECK(moved == 0);
}

TEST_CASE("pin and unpin outside a fiber throw", "[scheduler]") {
  CHECK_THROWS_WITH(weft::this_fiber::pin(), Catch::Contains("weft::this_fiber::pin"));
  CHECK_THROWS_WITH(weft::this_fiber::unpin(), Catch::Contains("weft::this_fiber::unpin"));
}
