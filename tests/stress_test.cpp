// Many fibers at once, and a randomised mix of everything with totals checked.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/weft.hpp>

#include "support/sanitizers.hpp"

using namespace std::chrono_literals;

TEST_CASE("100,000 live fibers blocked on one event all finish after set()", "[stress]") {
  // TSan tracks every fiber as a thread and stops the process past 8128 of them.
  const std::size_t fibers = weft_test::under_tsan ? 4000 : 100000;
  weft::executor_options options;
  options.guard_pages = false;
  options.stack_size = 16 * 1024;
  weft::executor ex(options);
  weft::event ev;
  std::size_t started = 0, finished = 0, live_at_peak = 0;
  ex.spawn([&] {
    for (std::size_t i = 0; i < fibers; ++i)
      weft::spawn([&] {
        ++started;
        ev.wait();
        ++finished;
      });  // handle dropped: detached
    live_at_peak = ex.live_fibers();
    ev.set();
  });
  ex.run();
  CHECK(started == fibers);
  CHECK(live_at_peak == fibers + 1);
  CHECK(finished == fibers);
  CHECK(ex.live_fibers() == 0);
}

namespace {

struct stress_totals {
  long long sent_sum = 0, received_sum = 0;
  long sent_count = 0, received_count = 0;
  long children_spawned = 0, children_joined = 0;
  long sleeps = 0, yields = 0;
};

// One random step of a fiber: yield, a short sleep (0-2 ms), a child spawned and joined, or
// nothing.
void random_step(std::mt19937& rng, stress_totals& t) {
  switch (rng() % 8) {
    case 0:
    case 1:
      ++t.yields;
      weft::this_fiber::yield();
      break;
    case 2:
      ++t.sleeps;
      weft::this_fiber::sleep_for(std::chrono::milliseconds(rng() % 3));
      break;
    case 3: {
      ++t.children_spawned;
      const int yields = static_cast<int>(rng() % 3);
      auto child = weft::spawn([yields] {
        for (int i = 0; i < yields; ++i) weft::this_fiber::yield();
        return 1;
      });
      if (rng() % 2) weft::this_fiber::yield();
      t.children_joined += child.join();
      break;
    }
    default:
      break;
  }
}

}  // namespace

TEST_CASE("randomised stress: yields, sleeps, channel pairs and joins", "[stress]") {
  constexpr int pairs = 1000;  // 2000 fibers in pairs, plus children
  std::mt19937 master(20240611);
  std::vector<std::uint32_t> seeds(pairs);
  for (auto& s : seeds) s = master();
  stress_totals t;
  std::vector<int> joined;  // per fiber index: how often its handle was joined
  int spawned = 0;
  weft::executor_options options;
  options.stack_size = 32 * 1024;
  weft::run(
      [&] {
        std::vector<weft::join_handle<int>> handles;
        std::mt19937 root_rng(master());
        for (int p = 0; p < pairs; ++p) {
          auto ch = std::make_shared<weft::channel<int>>(seeds[p] % 4);
          const int producer_index = spawned++;
          const int consumer_index = spawned++;
          handles.push_back(weft::spawn([&t, ch, seed = seeds[p], producer_index] {
            std::mt19937 rng(seed);
            const int n = 1 + static_cast<int>(rng() % 8);
            for (int i = 0; i < n; ++i) {
              random_step(rng, t);
              const int v = static_cast<int>(rng() % 1000);
              if (ch->send(v)) {
                t.sent_sum += v;
                ++t.sent_count;
              }
            }
            ch->close();
            return producer_index;
          }));
          handles.push_back(weft::spawn([&t, ch, seed = seeds[p] ^ 0x9e3779b9u, consumer_index] {
            std::mt19937 rng(seed);
            while (auto v = ch->recv()) {
              t.received_sum += *v;
              ++t.received_count;
              random_step(rng, t);
            }
            return consumer_index;
          }));
          if (root_rng() % 16 == 0) random_step(root_rng, t);
        }
        // Join every fiber once, in a random order.
        std::shuffle(handles.begin(), handles.end(), root_rng);
        joined.assign(static_cast<std::size_t>(spawned), 0);
        for (auto& h : handles) ++joined[static_cast<std::size_t>(h.join())];
        for (auto& h : handles) CHECK_FALSE(h.joinable());
      },
      options);
  CHECK(spawned == 2 * pairs);
  CHECK(std::all_of(joined.begin(), joined.end(), [](int n) { return n == 1; }));
  CHECK(t.sent_count > pairs);
  CHECK(t.sent_count == t.received_count);
  CHECK(t.sent_sum == t.received_sum);
  CHECK(t.children_spawned > 0);
  CHECK(t.children_joined == t.children_spawned);
  CHECK(t.sleeps > 0);
  CHECK(t.yields > 0);
}

TEST_CASE("randomised stress: plain threads and fibers exchanging through channels",
          "[stress][threads]") {
  constexpr int threads = 3, per_thread = 400, fiber_consumers = 8;
  constexpr int fiber_producers = 6, per_fiber = 200;
  weft::channel<int> to_fibers(5), to_threads(0);
  std::atomic<long long> thread_received_sum{0};
  std::atomic<long> thread_received_count{0};
  long long fiber_received_sum = 0, fiber_sent_sum = 0;
  long fiber_received_count = 0;
  long long thread_sent_sum_expected = 0;
  for (int t = 0; t < threads; ++t)
    for (int i = 0; i < per_thread; ++i) thread_sent_sum_expected += t * 10000 + i;

  weft::executor ex;
  weft::executor::work_guard feeders_guard(ex), drainers_guard(ex);
  std::atomic<int> feeders_left{threads};
  std::vector<std::thread> feeders, drainers;
  for (int t = 0; t < threads; ++t)
    feeders.emplace_back([&, t] {
      std::mt19937 rng(100 + t);
      for (int i = 0; i < per_thread; ++i) {
        to_fibers.send(t * 10000 + i);
        if (rng() % 32 == 0) std::this_thread::yield();
      }
      if (--feeders_left == 0) {
        to_fibers.close();
        feeders_guard.reset();
      }
    });
  std::atomic<int> drainers_left{2};
  for (int d = 0; d < 2; ++d)
    drainers.emplace_back([&] {
      while (auto v = to_threads.recv()) {
        thread_received_sum += *v;
        ++thread_received_count;
      }
      if (--drainers_left == 0) drainers_guard.reset();
    });
  ex.spawn([&] {
    std::mt19937 rng(42);
    std::vector<weft::join_handle<void>> consumers, producers;
    for (int c = 0; c < fiber_consumers; ++c)
      consumers.push_back(weft::spawn([&, seed = rng()] {
        std::mt19937 r(seed);
        while (auto v = to_fibers.recv()) {
          fiber_received_sum += *v;
          ++fiber_received_count;
          if (r() % 4 == 0) weft::this_fiber::yield();
        }
      }));
    for (int p = 0; p < fiber_producers; ++p)
      producers.push_back(weft::spawn([&, p, seed = rng()] {
        std::mt19937 r(seed);
        for (int i = 0; i < per_fiber; ++i) {
          const int v = p * 1000 + i;
          if (to_threads.send(v)) fiber_sent_sum += v;
          if (r() % 8 == 0) weft::this_fiber::sleep_for(std::chrono::microseconds(r() % 500));
        }
      }));
    for (auto& p : producers) p.join();
    to_threads.close();
    for (auto& c : consumers) c.join();
  });
  ex.run();
  for (auto& t : feeders) t.join();
  for (auto& t : drainers) t.join();
  CHECK(fiber_received_count == threads * per_thread);
  CHECK(fiber_received_sum == thread_sent_sum_expected);
  CHECK(thread_received_count == fiber_producers * per_fiber);
  CHECK(thread_received_sum == fiber_sent_sum);
}
