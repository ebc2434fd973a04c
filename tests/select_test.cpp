// weft::select over recv_case, send_case, timeout_case and default_case, on 1, 2 and 4 workers
// and from plain threads: exactly one case fires, ready cases are chosen fairly, and a
// randomized run against a model (every value sent once is received exactly once, totals per
// channel) loses and duplicates nothing.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/weft.hpp>

#include "support/fixtures.hpp"

using namespace std::chrono_literals;
using weft_test::with_workers;

TEST_CASE("select fires the one ready case and returns its position", "[select]") {
  weft::run([] {
    weft::channel<int> a(1), b(1);
    REQUIRE(b.try_send(*std::make_unique<int>(7)));
    std::optional<int> got;
    bool a_fired = false;
    const std::size_t fired = weft::select(
        weft::recv_case(a, [&](std::optional<int>) { a_fired = true; }),
        weft::recv_case(b, [&](std::optional<int> v) { got = v; }));
    CHECK(fired == 1);
    CHECK(got == 7);
    CHECK_FALSE(a_fired);
    CHECK(a.try_recv() == std::nullopt);  // nothing taken from the other channel
  });
}

TEST_CASE("select's default_case fires only when no other case is ready", "[select]") {
  weft::channel<int> ch(1);
  int defaults = 0;
  auto once = [&] {
    return weft::select(weft::recv_case(ch, [](std::optional<int>) {}),
                        weft::default_case([&] { ++defaults; }));
  };
  CHECK(once() == 1);  // from a plain thread too: never blocks
  int v = 3;
  REQUIRE(ch.try_send(v));
  CHECK(once() == 0);
  CHECK(defaults == 1);
}

TEST_CASE("select's timeout_case fires when nothing comes in time, and takes nothing",
          "[select]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  CAPTURE(workers);
  weft::run(
      [] {
        weft::channel<int> ch;
        const auto start = std::chrono::steady_clock::now();
        bool timed_out = false;
        CHECK(weft::select(weft::recv_case(ch, [](std::optional<int>) {}),
                           weft::timeout_case(20ms, [&] { timed_out = true; })) == 1);
        CHECK(timed_out);
        CHECK(std::chrono::steady_clock::now() - start >= 20ms);
        // The select left no waiter behind: a later send finds no receiver.
        int v = 1;
        CHECK_FALSE(ch.try_send(v));
        // A value arriving before the deadline wins over it.
        auto sender = weft::spawn([&] {
          weft::this_fiber::sleep_for(5ms);
          ch.send(42);
        });
        std::optional<int> got;
        CHECK(weft::select(weft::recv_case(ch, [&](std::optional<int> x) { got = x; }),
                           weft::timeout_case(10s, [] {})) == 0);
        CHECK(got == 42);
        sender.join();
      },
      with_workers(workers));
}

TEST_CASE("select with only a timeout_case sleeps", "[select]") {
  const auto start = std::chrono::steady_clock::now();
  CHECK(weft::select(weft::timeout_case(5ms, [] {})) == 0);  // a plain thread
  CHECK(std::chrono::steady_clock::now() - start >= 5ms);
  weft::run([] { CHECK(weft::select(weft::timeout_case(1ms, [] {})) == 0); });
}

TEST_CASE("select's send_case sends, and fires with false on a closed channel", "[select]") {
  weft::run([] {
    weft::channel<int> ch;  // rendezvous
    auto receiver = weft::spawn([&] { return ch.recv(); });
    bool sent = false;
    CHECK(weft::select(weft::send_case(ch, 5, [&](bool ok) { sent = ok; })) == 0);
    CHECK(sent);
    CHECK(receiver.join() == 5);
    ch.close();
    sent = true;
    CHECK(weft::select(weft::send_case(ch, 6, [&](bool ok) { sent = ok; })) == 0);
    CHECK_FALSE(sent);
  });
}

TEST_CASE("select's recv_case gets nullopt from a closed channel, also while it waits",
          "[select]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  CAPTURE(workers);
  weft::run(
      [] {
        weft::channel<int> a, b;
        auto closer = weft::spawn([&] {
          weft::this_fiber::sleep_for(2ms);
          b.close();
        });
        bool closed = false;
        CHECK(weft::select(weft::recv_case(a, [](std::optional<int>) {}),
                           weft::recv_case(b, [&](std::optional<int> v) { closed = !v; })) == 1);
        CHECK(closed);
        closer.join();
      },
      with_workers(workers));
}

TEST_CASE("a blocked select is woken by a fiber and by a plain thread, and works on a thread",
          "[select]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  CAPTURE(workers);
  weft::channel<int> a, b;
  std::thread feeder;
  weft::run(
      [&] {
        auto from_fiber = weft::spawn([&] { b.send(1); });
        int got = 0;
        weft::select(weft::recv_case(a, [&](std::optional<int> v) { got = 100 + *v; }),
                     weft::recv_case(b, [&](std::optional<int> v) { got = *v; }));
        CHECK(got == 1);
        from_fiber.join();
        feeder = std::thread([&] { a.send(2); });
        weft::select(weft::recv_case(a, [&](std::optional<int> v) { got = *v; }),
                     weft::recv_case(b, [&](std::optional<int>) { got = -1; }));
        CHECK(got == 2);
      },
      with_workers(workers));
  feeder.join();
}

TEST_CASE("select from a plain thread blocks the thread until a fiber is ready",
          "[select][thread]") {
  weft::channel<int> a, b;
  int got = 0;
  std::thread selector([&] {
    weft::select(weft::recv_case(a, [&](std::optional<int> v) { got = *v; }),
                 weft::recv_case(b, [&](std::optional<int> v) { got = 100 + *v; }));
  });
  weft::run([&] { b.send(9); });
  selector.join();
  CHECK(got == 109);
}

TEST_CASE("select chooses uniformly among ready cases", "[select]") {
  weft::run([] {
    weft::channel<int> a(1), b(1), c(1);
    int count[3] = {0, 0, 0};
    constexpr int rounds = 30000;
    for (int i = 0; i < rounds; ++i) {
      int one = 1;
      a.try_send(one);
      b.try_send(one);
      c.try_send(one);
      count[weft::select(weft::recv_case(a, [](std::optional<int>) {}),
                         weft::recv_case(b, [](std::optional<int>) {}),
                         weft::recv_case(c, [](std::optional<int>) {}))]++;
    }
    // Each third within ±10% of its expectation (about 18 standard deviations: never a fluke).
    for (int n : count) {
      CHECK(n > rounds / 3 * 9 / 10);
      CHECK(n < rounds / 3 * 11 / 10);
    }
  });
}

TEST_CASE("selectors and senders against a model: every value received exactly once",
          "[select][model]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  const std::uint32_t seed = GENERATE(1u, 2u, 3u);
  CAPTURE(workers, seed);
  constexpr int channels = 4, senders = 6, selectors = 6, values_per_sender = 400;
  std::vector<std::unique_ptr<weft::channel<std::uint32_t>>> ch;
  for (int i = 0; i < channels; ++i)
    ch.push_back(std::make_unique<weft::channel<std::uint32_t>>(i % 2 == 0 ? 0 : 3));
  // Per value: how often it was received. Per channel: how many went through it.
  std::vector<std::atomic<int>> received(senders * values_per_sender);
  std::vector<std::atomic<int>> sent_on(channels), received_on(channels);
  weft::run(
      [&] {
        weft::wait_group senders_done;
        for (int s = 0; s < senders; ++s) {
          senders_done.add();
          weft::spawn([&, s] {
            std::minstd_rand rng(seed * 100 + s);
            for (int k = 0; k < values_per_sender; ++k) {
              const std::uint32_t value = static_cast<std::uint32_t>(s * values_per_sender + k);
              // Offer it on two channels (maybe with a timeout), until one takes it.
              for (;;) {
                const int x = static_cast<int>(rng() % channels), y = static_cast<int>(rng() % channels);
                int took = -1;
                if (rng() % 2) {
                  weft::select(
                      weft::send_case(*ch[x], value, [&](bool ok) { if (ok) took = x; }),
                      weft::send_case(*ch[y], value, [&](bool ok) { if (ok) took = y; }),
                      weft::timeout_case(std::chrono::microseconds(rng() % 200),
                                         [] {}));
                } else {
                  weft::select(
                      weft::send_case(*ch[x], value, [&](bool ok) { if (ok) took = x; }),
                      weft::send_case(*ch[y], value, [&](bool ok) { if (ok) took = y; }));
                }
                if (took >= 0) {
                  ++sent_on[took];
                  break;
                }
              }
            }
            senders_done.done();
          }).detach();
        }
        for (int r = 0; r < selectors; ++r) {
          weft::spawn([&, r] {
            std::minstd_rand rng(seed * 1000 + r);
            bool open = true;
            while (open) {
              const int x = static_cast<int>(rng() % channels), y = static_cast<int>(rng() % channels);
              auto on = [&](int c) {
                return [&, c](std::optional<std::uint32_t> v) {
                  if (!v) {
                    open = false;
                    return;
                  }
                  ++received[*v];
                  ++received_on[c];
                };
              };
              if (rng() % 3 == 0)
                weft::select(weft::recv_case(*ch[x], on(x)), weft::recv_case(*ch[y], on(y)),
                             weft::default_case([] { weft::this_fiber::yield(); }));
              else
                weft::select(weft::recv_case(*ch[x], on(x)), weft::recv_case(*ch[y], on(y)),
                             weft::timeout_case(std::chrono::microseconds(rng() % 300),
                                                [] {}));
            }
          }).detach();
        }
        senders_done.wait();
        for (auto& c : ch) c->close();  // selectors drain what is buffered, then see the close
      },
      with_workers(workers));
  // Selectors stop at the first closed channel they see: what others still buffer is taken here.
  for (int c = 0; c < channels; ++c)
    while (auto v = ch[c]->try_recv()) {
      ++received[*v];
      ++received_on[c];
    }
  for (std::size_t v = 0; v < received.size(); ++v) {
    if (received[v] != 1) FAIL("value " << v << " received " << received[v] << " times");
  }
  for (int c = 0; c < channels; ++c) CHECK(sent_on[c] == received_on[c]);
}

TEST_CASE("select's callback exception leaves select with nothing held", "[select]") {
  weft::run([] {
    weft::channel<int> a(1);
    int v = 1;
    a.try_send(v);
    CHECK_THROWS_AS(weft::select(weft::recv_case(a, [](std::optional<int>) {
                      throw std::runtime_error("callback");
                    })),
                    std::runtime_error);
    CHECK(a.try_send(v));  // the channel's lock was released
  });
}
