// Cancellation: join_handle::request_stop and get_stop_token, this_fiber::stop_token and
// stop_requested, a std::stop_token first parameter, and operation_cancelled thrown by every
// interruption point, while the fiber is blocked there and before it blocks, on 1, 2 and 4
// workers, from fibers and plain threads; what is not an interruption point; a race of stop
// against wake that loses nothing; destructors that join or lock during a cancelled fiber's
// unwinding; a detached fiber ending cancelled says nothing.
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/weft.hpp>

#include "support/child_process.hpp"
#include "support/fixtures.hpp"
#include "support/wait_until.hpp"

using namespace std::chrono_literals;
using weft_test::ended_cancelled;
using weft_test::with_workers;

namespace {

// One wait of each kind that is an interruption point, each of which would block forever.
struct interruption_points : weft_test::never_ready {
  weft::join_handle<void> forever;  // a fiber that never ends (until stopped itself)
  weft::net::tcp_listener listener = weft::net::tcp_listener::bind("127.0.0.1", 0);

  interruption_points() { forever = weft::spawn([this] { never_set.wait(); }); }
  ~interruption_points() {
    forever.request_stop();
    try {
      forever.join();
    } catch (const weft::operation_cancelled&) {
    }
  }

  std::vector<std::pair<std::string, std::function<void()>>> all() {
    return {
        {"sleep_for", [] { weft::this_fiber::sleep_for(1h); }},
        {"sleep_until",
         [] { weft::this_fiber::sleep_until(std::chrono::steady_clock::now() + 1h); }},
        {"join", [this] { forever.join(); }},  // throws: the handle stays joinable
        {"join_handle wait_for", [this] { (void)forever.wait_for(1h); }},
        {"channel recv", [this] { (void)empty.recv(); }},
        {"channel recv_for", [this] { (void)empty.recv_for(1h); }},
        {"channel send", [this] { full.send(1); }},
        {"channel send_for",
         [this] {
           int v = 1;
           (void)full.send_for(v, 1h);
         }},
        {"select",
         [this] {
           weft::select(weft::recv_case(empty, [](std::optional<int>) {}),
                        weft::send_case(full, 1, [](bool) {}));
         }},
        {"select with a timeout",
         [this] {
           weft::select(weft::recv_case(empty, [](std::optional<int>) {}),
                        weft::timeout_case(1h, [] {}));
         }},
        {"event wait", [this] { never_set.wait(); }},
        {"event wait_for", [this] { (void)never_set.wait_for(1h); }},
        {"wait_group wait", [this] { never_done.wait(); }},
        {"wait_group wait_for", [this] { (void)never_done.wait_for(1h); }},
        {"condition_variable wait",
         [this] {
           std::unique_lock lock(m);
           try {
             cv.wait(lock);
           } catch (...) {
             if (!lock.owns_lock()) throw std::logic_error("the mutex was not locked again");
             throw;
           }
         }},
        {"condition_variable wait_for",
         [this] {
           std::unique_lock lock(m);
           (void)cv.wait_for(lock, 1h, [] { return false; });
         }},
        {"io read", [this] {
           std::byte b[1];
           (void)weft::io::read_some(pipe_fds[0], b);
         }},
        {"tcp accept", [this] { (void)listener.accept(); }},
    };
  }
};

}  // namespace

// Runs check(wait) for each interruption point's wait, in a run with `workers` workers.
template <class Check>
void for_each_interruption_point(std::size_t workers, Check check) {
  weft::run(
      [&] {
        interruption_points points;
        for (auto& [name, wait] : points.all()) {
          CAPTURE(name);
          check(wait);
        }
      },
      with_workers(workers));
}

TEST_CASE("a stop wakes a fiber blocked in each interruption point", "[cancel]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  CAPTURE(workers);
  for_each_interruption_point(workers, [](const std::function<void()>& wait) {
    std::atomic<bool> returned{false};
    auto h = weft::spawn([&] {
      wait();
      returned = true;
    });
    CHECK(h.request_stop());
    CHECK_FALSE(h.request_stop());  // true only for the call that made the request
    CHECK(ended_cancelled(h));
    CHECK_FALSE(returned.load());
  });
}

TEST_CASE("a fiber stopped before it blocks throws at its next interruption point", "[cancel]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  CAPTURE(workers);
  for_each_interruption_point(workers, [](const std::function<void()>& wait) {
    std::atomic<bool> go{false};
    std::atomic<bool> saw_stop{false};
    auto h = weft::spawn([&] {
      while (!go.load()) weft::this_fiber::yield();  // yield is no interruption point
      saw_stop = weft::this_fiber::stop_requested();
      wait();
    });
    CHECK(h.request_stop());
    go = true;
    CHECK(ended_cancelled(h));
    CHECK(saw_stop.load());
  });
}

TEST_CASE("a stop from a plain thread wakes a fiber on any worker", "[cancel]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  CAPTURE(workers);
  weft::executor ex(with_workers(workers));
  weft::channel<int> ch(0);
  std::vector<weft::join_handle<void>> blocked;
  for (int i = 0; i < 64; ++i) blocked.push_back(ex.spawn([&] { (void)ch.recv(); }));
  std::thread runner([&] { ex.run(); });
  for (auto& h : blocked) CHECK(h.request_stop());
  runner.join();
  for (auto& h : blocked) CHECK(ended_cancelled(h));
}

TEST_CASE("mutex lock and await are no interruption points, and yield goes on", "[cancel]") {
  weft::run([] {
    weft::mutex m;
    m.lock();
    std::atomic<bool> locked{false};
    auto locker = weft::spawn([&] {
      m.lock();
      locked = true;
      m.unlock();
      weft::this_fiber::yield();
      return weft::this_fiber::stop_requested();
    });
    CHECK(locker.request_stop());
    weft::this_fiber::sleep_for(2ms);
    CHECK_FALSE(locked.load());  // still waiting for the mutex
    m.unlock();
    CHECK(locker.join());  // took the lock, and saw the stop only as a flag

    std::atomic<bool> resumed{false};
    std::thread resumer;
    auto awaiting = weft::spawn([&] {
      struct later {
        std::thread& t;
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> h) {
          t = std::thread([h] {
            std::this_thread::sleep_for(5ms);
            h.resume();
          });
        }
        int await_resume() const noexcept { return 7; }
      };
      const int v = weft::await(later{resumer});
      resumed = true;
      return v;
    });
    CHECK(awaiting.request_stop());
    CHECK(awaiting.join() == 7);
    CHECK(resumed.load());
    resumer.join();
  });
}

TEST_CASE("a std::stop_token first parameter gets the fiber's token", "[cancel]") {
  weft::run([] {
    std::atomic<int> callbacks{0};
    auto h = weft::spawn(
        [&](std::stop_token token, int base) {
          std::stop_callback on_stop(token, [&] { ++callbacks; });
          CHECK(token.stop_possible());
          CHECK(weft::this_fiber::stop_token() == token);
          try {
            weft::this_fiber::sleep_for(1h);
          } catch (const weft::operation_cancelled&) {
            CHECK(token.stop_requested());
            return base + 1;
          }
          return base;
        },
        41);
    static_assert(std::is_same_v<decltype(h), weft::join_handle<int>>);
    std::stop_token from_handle = h.get_stop_token();
    CHECK_FALSE(from_handle.stop_requested());
    CHECK(h.request_stop());
    CHECK(from_handle.stop_requested());
    CHECK(h.join() == 42);
    CHECK(callbacks.load() == 1);
  });
  CHECK_FALSE(weft::this_fiber::stop_requested());  // outside fibers
  CHECK_FALSE(weft::this_fiber::stop_token().stop_possible());
  weft::join_handle<int> empty;
  CHECK_FALSE(empty.request_stop());
  CHECK_FALSE(empty.get_stop_token().stop_possible());
  CHECK(std::string(weft::operation_cancelled().what()).find("cancelled") != std::string::npos);
}

TEST_CASE("a token asked for after the stop is stopped already", "[cancel]") {
  weft::run([] {
    std::atomic<bool> go{false};
    auto h = weft::spawn([&] {
      while (!go.load()) weft::this_fiber::yield();
      return weft::this_fiber::stop_token().stop_requested();
    });
    CHECK(h.request_stop());
    go = true;
    CHECK(h.join());
  });
}

TEST_CASE("a stop racing a wake loses no value and wakes once", "[cancel]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  CAPTURE(workers);
  constexpr int rounds = 2000;
  int received = 0, cancelled = 0, left = 0;
  weft::run(
      [&] {
        for (int i = 0; i < rounds; ++i) {
          weft::channel<int> ch(1);
          auto receiver = weft::spawn([&] { return ch.recv_for(1h).value_or(-1); });
          auto sender = weft::spawn([&] { ch.send(1); });
          auto stopper = weft::spawn([&] { receiver.request_stop(); });
          stopper.join();  // done with the handle before join() empties it
          try {
            if (receiver.join() == 1) ++received;
          } catch (const weft::operation_cancelled&) {
            ++cancelled;
          }
          sender.join();
          if (ch.try_recv()) ++left;
        }
      },
      with_workers(workers));
  CHECK(received + cancelled == rounds);
  CHECK(left == cancelled);  // a cancelled receiver took nothing
}

TEST_CASE("destructors join and lock while a cancelled fiber unwinds", "[cancel]") {
  weft::run([] {
    weft::mutex m;
    weft::channel<int> never(0);
    std::atomic<bool> cleaned{false};
    auto h = weft::spawn([&] {
      struct cleanup {
        weft::mutex& m;
        std::atomic<bool>& cleaned;
        ~cleanup() {
          auto helper = weft::spawn([] { weft::this_fiber::sleep_for(1ms); return 5; });
          std::lock_guard lock(m);  // locks and joins while the stop unwinds us
          cleaned = helper.join() == 5;
        }
      } c{m, cleaned};
      (void)never.recv();
    });
    h.request_stop();
    CHECK(ended_cancelled(h));
    CHECK(cleaned.load());
  });
}

TEST_CASE("a detached fiber ending cancelled says nothing", "[cancel]") {
  const weft_test::child_result r = weft_test::run_in_child([] {
    weft::run([] {
      weft::event never;
      auto h = weft::spawn([&] { never.wait(); });
      h.request_stop();
      h.detach();
      weft::this_fiber::sleep_for(5ms);
    });
  });
  INFO(r.describe());
  CHECK(r.exited_ok());
  CHECK(r.err.empty());
}
