// Layer 3: channel, event, mutex, condition_variable, wait_group; fibers and plain threads.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/weft.hpp>

#include "support/maps.hpp"

using namespace std::chrono_literals;
using Catch::Matchers::Contains;

namespace {
std::vector<int> iota_vector(int n, int from = 0) {
  std::vector<int> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), from);
  return v;
}
}  // namespace

// ---------------------------------------------------------------------------------------------
// channel
// ---------------------------------------------------------------------------------------------

TEST_CASE("rendezvous channel: a send completes only when a receiver takes the value",
          "[sync][channel]") {
  std::vector<std::string> trace;
  weft::run([&] {
    weft::channel<int> ch;  // capacity 0
    CHECK(ch.capacity() == 0);
    auto sender = weft::spawn([&] {
      trace.push_back("send");
      const bool ok = ch.send(1);
      trace.push_back("sent");
      return ok;
    });
    trace.push_back("sender blocked");
    weft::this_fiber::yield();  // nothing else can run: the sender waits for a receiver
    trace.push_back("recv");
    auto v = ch.recv();
    trace.push_back("received " + std::to_string(v.value_or(-1)));
    CHECK(sender.join());
  });
  CHECK(trace == std::vector<std::string>{"send", "sender blocked", "recv", "received 1", "sent"});

  // Receiver first: the sender hands the value over without waiting.
  trace.clear();
  weft::run([&] {
    weft::channel<std::string> ch;
    auto receiver = weft::spawn([&] {
      trace.push_back("recv waits");
      auto v = ch.recv();
      trace.push_back("received " + v.value_or("?"));
    });
    CHECK(ch.send("x"));
    trace.push_back("send returned");
    receiver.join();
  });
  CHECK(trace == std::vector<std::string>{"recv waits", "send returned", "received x"});
}

TEST_CASE("buffered channel: sends do not wait until the buffer is full", "[sync][channel]") {
  const std::size_t capacity = GENERATE(1u, 3u, 5u);
  weft::run([&] {
    weft::channel<int> ch(capacity);
    CHECK(ch.capacity() == capacity);
    std::size_t sent = 0;
    auto sender = weft::spawn([&] {
      for (int i = 0; i < 10; ++i) {
        CHECK(ch.send(i));
        ++sent;
      }
      ch.close();
    });
    CHECK(sent == capacity);  // blocked on the next one
    std::vector<int> got;
    while (auto v = ch.recv()) got.push_back(*v);
    CHECK(got == iota_vector(10));
    CHECK(sent == 10);
    sender.join();
  });
}

TEST_CASE("channel: FIFO order among buffered values, blocked senders and blocked receivers",
          "[sync][channel]") {
  const std::size_t capacity = GENERATE(0u, 1u, 2u, 3u);
  weft::run([&] {
    weft::channel<int> ch(capacity);
    std::vector<weft::join_handle<bool>> senders;
    for (int i = 0; i < 6; ++i) senders.push_back(weft::spawn([&ch, i] { return ch.send(i); }));
    std::vector<int> got;
    for (int i = 0; i < 6; ++i) got.push_back(ch.recv().value());
    CHECK(got == iota_vector(6));
    for (auto& s : senders) CHECK(s.join());

    // Receivers blocked first get values in the order they arrived.
    std::vector<std::pair<int, int>> received;  // (receiver, value)
    std::vector<weft::join_handle<void>> receivers;
    for (int r = 0; r < 4; ++r)
      receivers.push_back(weft::spawn([&, r] { received.emplace_back(r, ch.recv().value()); }));
    for (int v = 10; v < 14; ++v) CHECK(ch.send(v));
    for (auto& r : receivers) r.join();
    CHECK(received == std::vector<std::pair<int, int>>{{0, 10}, {1, 11}, {2, 12}, {3, 13}});
  });
}

TEST_CASE("channel with a huge capacity allocates nothing up front", "[sync][channel]") {
  using block = std::array<char, 64 * 1024>;  // even 1024 buffered slots would be 64 MiB
  // An eager buffer shows in the virtual size even when its pages are never touched, under
  // any sanitizer or valgrind.
  const std::size_t before = weft_test::virtual_size();
  auto ch = std::make_unique<weft::channel<block>>(std::size_t{1} << 40);
  const std::size_t after = weft_test::virtual_size();
  INFO("virtual size grew by " << (after > before ? after - before : 0) << " bytes");
  CHECK(after < before + (16u << 20));
  CHECK(ch->capacity() == std::size_t{1} << 40);
  // It works as an (effectively) unbounded buffer; from a plain thread, nothing blocks.
  auto v = std::make_unique<block>();
  for (int i = 0; i < 8; ++i) {
    (*v)[0] = static_cast<char>(i);
    REQUIRE(ch->try_send(*v));
  }
  for (int i = 0; i < 8; ++i) REQUIRE((*ch->try_recv())[0] == static_cast<char>(i));
  CHECK_FALSE(ch->try_recv().has_value());
  // Many small values through a fiber.
  weft::channel<std::uint64_t> wide(std::size_t{1} << 40);
  weft::run([&] {
    for (std::uint64_t i = 0; i < 5000; ++i) {
      std::uint64_t x = i;
      REQUIRE(wide.try_send(x));  // never full
    }
    for (std::uint64_t i = 0; i < 5000; ++i) REQUIRE(wide.recv() == i);
    CHECK(wide.try_recv() == std::nullopt);
  });
}

TEST_CASE("channel::try_send moves only on success, and try_recv never waits", "[sync][channel]") {
  SECTION("rendezvous without a receiver") {
    weft::channel<std::unique_ptr<int>> ch;
    auto v = std::make_unique<int>(1);
    CHECK_FALSE(ch.try_send(v));
    REQUIRE(v);
    CHECK(*v == 1);
    CHECK(ch.try_recv() == std::nullopt);
  }
  SECTION("full buffer") {
    weft::channel<std::string> ch(2);
    std::string a = "first value, long enough to live on the heap";
    std::string b = "second value, long enough to live on the heap";
    std::string c = "third value, long enough to live on the heap";
    CHECK(ch.try_send(a));
    CHECK(ch.try_send(b));
    CHECK_FALSE(ch.try_send(c));
    CHECK(c == "third value, long enough to live on the heap");
    CHECK(ch.try_recv() == "first value, long enough to live on the heap");
    CHECK(ch.try_send(c));
    CHECK(ch.try_recv() == "second value, long enough to live on the heap");
    CHECK(ch.try_recv() == "third value, long enough to live on the heap");
    CHECK(ch.try_recv() == std::nullopt);
  }
  SECTION("closed channel") {
    weft::channel<std::unique_ptr<int>> ch(4);
    ch.close();
    auto v = std::make_unique<int>(2);
    CHECK_FALSE(ch.try_send(v));
    REQUIRE(v);
    CHECK(*v == 2);
    CHECK(ch.try_recv() == std::nullopt);
  }
  SECTION("rendezvous with a waiting receiver") {
    weft::run([] {
      weft::channel<std::unique_ptr<int>> ch;
      auto receiver = weft::spawn([&] { return *ch.recv().value(); });
      auto v = std::make_unique<int>(3);
      CHECK(ch.try_send(v));
      CHECK_FALSE(v);  // moved away
      CHECK(receiver.join() == 3);
    });
  }
  SECTION("try_recv takes from a waiting sender and wakes it") {
    weft::run([] {
      weft::channel<int> ch;
      auto sender = weft::spawn([&] { return ch.send(4); });
      CHECK(ch.try_recv() == 4);
      CHECK(sender.join());
      // Buffered channel: a blocked sender refills the buffer.
      weft::channel<int> buffered(1);
      auto s2 = weft::spawn([&] {
        buffered.send(5);
        return buffered.send(6);
      });
      CHECK(buffered.try_recv() == 5);
      CHECK(buffered.try_recv() == 6);
      CHECK(s2.join());
      CHECK(buffered.try_recv() == std::nullopt);
    });
  }
}

TEST_CASE("channel::close wakes blocked senders and receivers", "[sync][channel]") {
  SECTION("blocked senders get false") {
    const std::size_t capacity = GENERATE(0u, 2u);
    weft::run([&] {
      weft::channel<int> ch(capacity);
      std::vector<weft::join_handle<bool>> senders;
      for (std::size_t i = 0; i < capacity; ++i) CHECK(ch.send(static_cast<int>(i)));
      for (int i = 0; i < 3; ++i) senders.push_back(weft::spawn([&] { return ch.send(99); }));
      CHECK_FALSE(ch.closed());
      ch.close();
      CHECK(ch.closed());
      for (auto& s : senders) CHECK_FALSE(s.join());
      // Buffered values are still delivered, then nullopt; the rejected 99s never appear.
      for (std::size_t i = 0; i < capacity; ++i) CHECK(ch.recv() == static_cast<int>(i));
      CHECK(ch.recv() == std::nullopt);
      CHECK(ch.recv() == std::nullopt);
    });
  }
  SECTION("blocked receivers get nullopt") {
    weft::run([] {
      weft::channel<int> ch(3);
      std::vector<weft::join_handle<std::optional<int>>> receivers;
      for (int i = 0; i < 3; ++i) receivers.push_back(weft::spawn([&] { return ch.recv(); }));
      ch.close();
      for (auto& r : receivers) CHECK(r.join() == std::nullopt);
    });
  }
  SECTION("receivers drain the buffer after close, then get nullopt") {
    weft::channel<int> ch(3);
    CHECK(ch.send(1));
    CHECK(ch.send(2));
    ch.close();
    ch.close();  // closing twice is harmless
    CHECK_FALSE(ch.send(3));
    CHECK(ch.recv() == 1);
    CHECK(ch.try_recv() == 2);
    CHECK(ch.recv() == std::nullopt);
  }
  SECTION("a receiver draining in a loop ends at close") {
    weft::run([] {
      weft::channel<int> ch(1);
      auto consumer = weft::spawn([&] {
        int sum = 0;
        while (auto v = ch.recv()) sum += *v;
        return sum;
      });
      for (int i = 1; i <= 10; ++i) CHECK(ch.send(i));
      ch.close();
      CHECK(consumer.join() == 55);
      CHECK_FALSE(ch.send(11));
    });
  }
}

TEST_CASE("channel::close from a plain thread wakes fibers", "[sync][channel][threads]") {
  weft::channel<int> ch;
  weft::executor ex;
  auto receiver = ex.spawn([&] { return ch.recv(); });
  auto sender = ex.spawn([&] { return ch.send(1) ? 1 : 0; });  // pairs with the receiver
  ex.run();
  CHECK(receiver.join() == 1);
  CHECK(sender.join() == 1);

  auto r2 = ex.spawn([&] { return ch.recv(); });
  weft::executor::work_guard guard(ex);
  std::thread closer([&, g = std::move(guard)]() mutable {
    std::this_thread::sleep_for(5ms);
    ch.close();
    g.reset();
  });
  ex.run();
  closer.join();
  CHECK(r2.join() == std::nullopt);
}

TEST_CASE("channel: many producers and consumers, totals add up", "[sync][channel]") {
  const std::size_t capacity = GENERATE(0u, 1u, 3u, 64u);
  constexpr int producers = 4, consumers = 3, per_producer = 500;
  long long sent_sum = 0, received_sum = 0;
  int received_count = 0;
  std::vector<int> per_consumer(consumers, 0);
  weft::run([&] {
    weft::channel<int> ch(capacity);
    std::vector<weft::join_handle<void>> ps, cs;
    for (int c = 0; c < consumers; ++c)
      cs.push_back(weft::spawn([&, c] {
        while (auto v = ch.recv()) {
          received_sum += *v;
          ++received_count;
          ++per_consumer[c];
          if (*v % 7 == 0) weft::this_fiber::yield();
        }
      }));
    for (int p = 0; p < producers; ++p)
      ps.push_back(weft::spawn([&, p] {
        for (int i = 0; i < per_producer; ++i) {
          const int v = p * per_producer + i;
          REQUIRE(ch.send(v));
          sent_sum += v;
          if (i % 5 == 0) weft::this_fiber::yield();
        }
      }));
    for (auto& p : ps) p.join();
    ch.close();
    for (auto& c : cs) c.join();
  });
  const int total = producers * per_producer;
  CHECK(received_count == total);
  CHECK(sent_sum == static_cast<long long>(total) * (total - 1) / 2);
  CHECK(received_sum == sent_sum);
  for (int n : per_consumer) CHECK(n > 0);  // every consumer took part
}

TEST_CASE("channel: move-only values", "[sync][channel]") {
  weft::run([] {
    weft::channel<std::unique_ptr<std::string>> ch(2);
    auto producer = weft::spawn([&] {
      for (int i = 0; i < 5; ++i) CHECK(ch.send(std::make_unique<std::string>(std::to_string(i))));
      ch.close();
    });
    std::string all;
    while (auto v = ch.recv()) all += **v;
    CHECK(all == "01234");
    producer.join();
  });
}

TEST_CASE("channel: a std::thread feeds fibers that drain it", "[sync][channel][threads]") {
  const std::size_t capacity = GENERATE(0u, 4u);
  constexpr int values = 1000;
  weft::channel<int> ch(capacity);
  weft::executor ex;
  std::vector<weft::join_handle<long>> consumers;
  for (int c = 0; c < 3; ++c)
    consumers.push_back(ex.spawn([&] {
      long sum = 0;
      while (auto v = ch.recv()) sum += *v;
      return sum;
    }));
  // The thread may not be inside a weft call while every fiber waits: hold a work_guard.
  weft::executor::work_guard guard(ex);
  std::thread feeder([&, g = std::move(guard)]() mutable {
    for (int i = 1; i <= values; ++i) ch.send(i);
    ch.close();
    g.reset();
  });
  ex.run();
  feeder.join();
  long total = 0;
  for (auto& c : consumers) total += c.join();
  CHECK(total == static_cast<long>(values) * (values + 1) / 2);
}

TEST_CASE("channel: fibers feed a std::thread that drains it", "[sync][channel][threads]") {
  const std::size_t capacity = GENERATE(0u, 4u);
  constexpr int producers = 3, per_producer = 300;
  weft::channel<int> ch(capacity);
  weft::executor ex;
  long drained = 0;
  int count = 0;
  weft::executor::work_guard guard(ex);
  std::thread drainer([&, g = std::move(guard)]() mutable {
    while (auto v = ch.recv()) {
      drained += *v;
      ++count;
    }
    g.reset();
  });
  ex.spawn([&] {
    std::vector<weft::join_handle<void>> ps;
    for (int p = 0; p < producers; ++p)
      ps.push_back(weft::spawn([&, p] {
        for (int i = 1; i <= per_producer; ++i) ch.send(p * 1000 + i);
      }));
    for (auto& p : ps) p.join();
    ch.close();
  });
  ex.run();
  drainer.join();
  long expected = 0;
  for (int p = 0; p < producers; ++p)
    for (int i = 1; i <= per_producer; ++i) expected += p * 1000 + i;
  CHECK(count == producers * per_producer);
  CHECK(drained == expected);
}

TEST_CASE("channel between two plain threads", "[sync][channel][threads]") {
  weft::channel<int> ch(GENERATE(0u, 2u));
  long sum = 0;
  std::thread receiver([&] {
    while (auto v = ch.recv()) sum += *v;
  });
  for (int i = 1; i <= 200; ++i) REQUIRE(ch.send(i));
  ch.close();
  receiver.join();
  CHECK(sum == 200 * 201 / 2);
}

// ---------------------------------------------------------------------------------------------
// event
// ---------------------------------------------------------------------------------------------

TEST_CASE("event: set, reset, is_set, wait", "[sync][event]") {
  weft::event ev;
  CHECK_FALSE(ev.is_set());
  ev.set();
  CHECK(ev.is_set());
  ev.wait();  // set: returns at once, even from a plain thread
  ev.set();   // setting twice is harmless
  ev.reset();
  CHECK_FALSE(ev.is_set());
  ev.reset();
  CHECK_FALSE(ev.is_set());

  std::vector<std::string> trace;
  weft::run([&] {
    auto waiter = weft::spawn([&] {
      ev.wait();
      trace.push_back("woken 1");
      ev.wait();  // still set: no wait
      trace.push_back("passed");
      ev.reset();
      ev.wait();  // reset: waits again
      trace.push_back("woken 2");
    });
    trace.push_back("set 1");
    ev.set();
    weft::this_fiber::yield();
    trace.push_back("set 2");
    ev.set();
    waiter.join();
  });
  CHECK(trace == std::vector<std::string>{"set 1", "woken 1", "passed", "set 2", "woken 2"});
}

TEST_CASE("event: one set wakes many waiters", "[sync][event]") {
  constexpr int waiters = 200;
  int woken = 0;
  weft::run([&] {
    weft::event ev;
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < waiters; ++i)
      hs.push_back(weft::spawn([&] {
        ev.wait();
        ++woken;
      }));
    CHECK(woken == 0);
    ev.set();
    for (auto& h : hs) h.join();
  });
  CHECK(woken == waiters);
}

TEST_CASE("event between a plain thread and fibers", "[sync][event][threads]") {
  weft::event to_thread, to_fiber;
  weft::executor ex;
  weft::executor::work_guard guard(ex);
  std::atomic<bool> thread_woken{false};
  std::thread t([&, g = std::move(guard)]() mutable {
    to_thread.wait();  // blocks this thread until a fiber sets it
    thread_woken = true;
    to_fiber.set();
    g.reset();
  });
  auto h = ex.spawn([&] {
    weft::this_fiber::sleep_for(1ms);
    to_thread.set();
    to_fiber.wait();
    return thread_woken.load();
  });
  ex.run();
  t.join();
  CHECK(h.join());
}

// ---------------------------------------------------------------------------------------------
// mutex
// ---------------------------------------------------------------------------------------------

TEST_CASE("mutex: mutual exclusion across yields", "[sync][mutex]") {
  constexpr int fibers = 10, iterations = 50;
  int counter = 0;
  int inside = 0, max_inside = 0;
  weft::run([&] {
    weft::mutex m;
    std::vector<weft::join_handle<void>> hs;
    for (int f = 0; f < fibers; ++f)
      hs.push_back(weft::spawn([&] {
        for (int i = 0; i < iterations; ++i) {
          m.lock();
          ++inside;
          max_inside = std::max(max_inside, inside);
          const int seen = counter;
          weft::this_fiber::yield();  // others run, and must wait for the mutex
          counter = seen + 1;
          --inside;
          m.unlock();
          if (i % 3 == 0) weft::this_fiber::yield();
        }
      }));
    for (auto& h : hs) h.join();
  });
  CHECK(counter == fibers * iterations);
  CHECK(max_inside == 1);
}

TEST_CASE("mutex: try_lock", "[sync][mutex]") {
  weft::mutex m;
  CHECK(m.try_lock());
  CHECK_FALSE(m.try_lock());
  weft::run([&] { CHECK_FALSE(m.try_lock()); });
  m.unlock();
  CHECK(m.try_lock());
  m.unlock();
  weft::run([&] {
    auto holder = weft::spawn([&] {
      std::lock_guard g(m);
      weft::this_fiber::yield();
    });
    CHECK_FALSE(m.try_lock());  // held by the yielding fiber
    holder.join();
    CHECK(m.try_lock());
    m.unlock();
  });
}

TEST_CASE("mutex works with std::lock_guard, std::unique_lock and std::scoped_lock",
          "[sync][mutex]") {
  weft::mutex m;
  weft::run([&] {
    {
      std::lock_guard g(m);
      CHECK_FALSE(m.try_lock());
    }
    {
      std::unique_lock lk(m);
      CHECK(lk.owns_lock());
      lk.unlock();
      CHECK(m.try_lock());
      m.unlock();
      lk.lock();
      CHECK_FALSE(m.try_lock());
    }
    {
      std::unique_lock lk(m, std::try_to_lock);
      CHECK(lk.owns_lock());
      std::unique_lock lk2(m, std::try_to_lock);
      CHECK_FALSE(lk2.owns_lock());
    }
    {
      std::unique_lock lk(m, std::defer_lock);
      CHECK_FALSE(lk.owns_lock());
      CHECK(lk.try_lock());
    }
    weft::mutex m2;
    {
      std::scoped_lock both(m, m2);
      CHECK_FALSE(m.try_lock());
      CHECK_FALSE(m2.try_lock());
    }
    CHECK(m2.try_lock());
    m2.unlock();
  });
  CHECK(m.try_lock());
  m.unlock();
}

TEST_CASE("mutex: unlocking an unlocked mutex throws std::logic_error", "[sync][mutex][misuse]") {
  weft::mutex m;
  CHECK_THROWS_AS(m.unlock(), std::logic_error);
  CHECK_THROWS_WITH(m.unlock(), Contains("weft::mutex::unlock"));
  m.lock();
  m.unlock();
  CHECK_THROWS_AS(m.unlock(), std::logic_error);
  weft::run([&] { CHECK_THROWS_AS(m.unlock(), std::logic_error); });
  CHECK(m.try_lock());  // the failed unlock left it unlocked
  m.unlock();
}

TEST_CASE("mutex: ownership passes to waiters in FIFO order", "[sync][mutex]") {
  std::vector<int> order;
  weft::run([&] {
    weft::mutex m;
    m.lock();
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < 5; ++i)
      hs.push_back(weft::spawn([&, i] {
        std::lock_guard g(m);
        order.push_back(i);
        weft::this_fiber::yield();
      }));
    m.unlock();
    // A newcomer does not jump the queue: ownership went to the oldest waiter.
    CHECK_FALSE(m.try_lock());
    for (auto& h : hs) h.join();
  });
  CHECK(order == iota_vector(5));
}

TEST_CASE("mutex: a plain thread and fibers contend", "[sync][mutex][threads]") {
  constexpr int fibers = 4, per_fiber = 200, per_thread = 400;
  long counter = 0;  // not atomic: the mutex alone protects it (TSan checks)
  weft::mutex m;
  weft::executor ex;
  // While the thread holds the mutex outside a weft call, every fiber may be blocked.
  weft::executor::work_guard guard(ex);
  std::thread t([&, g = std::move(guard)]() mutable {
    for (int i = 0; i < per_thread; ++i) {
      std::lock_guard lk(m);
      ++counter;
      if (i % 50 == 0) std::this_thread::yield();
    }
    g.reset();
  });
  for (int f = 0; f < fibers; ++f)
    ex.spawn([&] {
      for (int i = 0; i < per_fiber; ++i) {
        std::lock_guard lk(m);
        const long seen = counter;
        if (i % 10 == 0) weft::this_fiber::yield();
        counter = seen + 1;
      }
    });
  ex.run();
  t.join();
  CHECK(counter == fibers * per_fiber + per_thread);
}

// ---------------------------------------------------------------------------------------------
// condition_variable
// ---------------------------------------------------------------------------------------------

TEST_CASE("condition_variable: bounded producer/consumer with predicates", "[sync][cv]") {
  constexpr int producers = 3, consumers = 2, per_producer = 200;
  constexpr std::size_t bound = 2;
  long long consumed_sum = 0;
  int consumed = 0;
  std::size_t max_size = 0;
  weft::run([&] {
    weft::mutex m;
    weft::condition_variable not_full, not_empty;
    std::deque<int> queue;
    int producers_left = producers;
    std::vector<weft::join_handle<void>> hs;
    for (int c = 0; c < consumers; ++c)
      hs.push_back(weft::spawn([&] {
        for (;;) {
          std::unique_lock lk(m);
          not_empty.wait(lk, [&] { return !queue.empty() || producers_left == 0; });
          if (queue.empty()) return;
          consumed_sum += queue.front();
          ++consumed;
          queue.pop_front();
          not_full.notify_one();
          lk.unlock();
          weft::this_fiber::yield();
        }
      }));
    for (int p = 0; p < producers; ++p)
      hs.push_back(weft::spawn([&, p] {
        for (int i = 0; i < per_producer; ++i) {
          std::unique_lock lk(m);
          not_full.wait(lk, [&] { return queue.size() < bound; });
          queue.push_back(p * per_producer + i);
          max_size = std::max(max_size, queue.size());
          not_empty.notify_one();
        }
        std::lock_guard lk(m);
        if (--producers_left == 0) not_empty.notify_all();
      }));
    for (auto& h : hs) h.join();
  });
  const int total = producers * per_producer;
  CHECK(consumed == total);
  CHECK(consumed_sum == static_cast<long long>(total) * (total - 1) / 2);
  CHECK(max_size <= bound);
}

TEST_CASE("condition_variable::wait with a lock that does not own its mutex throws",
          "[sync][cv][misuse]") {
  weft::mutex m;
  weft::condition_variable cv;
  std::unique_lock<weft::mutex> deferred(m, std::defer_lock);
  CHECK_THROWS_AS(cv.wait(deferred), std::logic_error);
  CHECK_THROWS_WITH(cv.wait(deferred), Contains("weft::condition_variable::wait"));
  std::unique_lock<weft::mutex> empty;
  CHECK_THROWS_AS(cv.wait(empty), std::logic_error);
  CHECK_THROWS_AS(cv.wait(deferred, [] { return false; }), std::logic_error);
  weft::run([&] { CHECK_THROWS_AS(cv.wait(deferred), std::logic_error); });
  CHECK(m.try_lock());  // untouched
  m.unlock();
}

TEST_CASE("condition_variable: notify_one wakes the oldest waiter, notify_all wakes all",
          "[sync][cv]") {
  std::vector<int> order;
  weft::run([&] {
    weft::mutex m;
    weft::condition_variable cv;
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < 4; ++i)
      hs.push_back(weft::spawn([&, i] {
        std::unique_lock lk(m);
        cv.wait(lk);  // no predicate: wakeups are never spurious
        CHECK(lk.owns_lock());
        order.push_back(i);
      }));
    cv.notify_one();
    weft::this_fiber::yield();
    CHECK(order == std::vector<int>{0});
    cv.notify_one();
    weft::this_fiber::yield();
    CHECK(order == std::vector<int>{0, 1});
    cv.notify_all();
    for (auto& h : hs) h.join();
    cv.notify_one();  // nobody waits: harmless
    cv.notify_all();
  });
  CHECK(order == std::vector<int>{0, 1, 2, 3});
}

TEST_CASE("condition_variable: no wakeup is lost between unlock and wait", "[sync][cv]") {
  // The notifier runs as soon as the waiter releases the mutex; the waiter must still see it.
  int rounds = 0;
  weft::run([&] {
    weft::mutex m;
    weft::condition_variable cv;
    int turn = 0;
    auto other = weft::spawn([&] {
      for (int i = 0; i < 100; ++i) {
        std::unique_lock lk(m);
        cv.wait(lk, [&] { return turn == 1; });
        turn = 0;
        cv.notify_one();
      }
    });
    for (int i = 0; i < 100; ++i) {
      std::unique_lock lk(m);
      turn = 1;
      cv.notify_one();
      cv.wait(lk, [&] { return turn == 0; });
      ++rounds;
    }
    other.join();
  });
  CHECK(rounds == 100);
}

TEST_CASE("condition_variable: a plain thread waits, a fiber notifies", "[sync][cv][threads]") {
  weft::mutex m;
  weft::condition_variable cv;
  bool ready = false;
  int seen = 0;
  std::thread t([&] {
    std::unique_lock lk(m);
    cv.wait(lk, [&] { return ready; });
    seen = 1;
  });
  weft::run([&] {
    weft::this_fiber::sleep_for(2ms);
    std::lock_guard lk(m);
    ready = true;
    cv.notify_all();
  });
  t.join();
  CHECK(seen == 1);
}

// ---------------------------------------------------------------------------------------------
// wait_group
// ---------------------------------------------------------------------------------------------

TEST_CASE("wait_group: add, done, wait", "[sync][wait_group]") {
  constexpr int workers = 20;
  std::vector<bool> finished(workers, false);
  bool all_seen = false;
  weft::run([&] {
    weft::wait_group wg;
    CHECK(wg.count() == 0);
    wg.wait();  // zero: returns at once
    wg.add(workers);
    CHECK(wg.count() == workers);
    for (int i = 0; i < workers; ++i)
      weft::spawn([&, i] {
        if (i % 2) weft::this_fiber::sleep_for(std::chrono::milliseconds(i % 3));
        else weft::this_fiber::yield();
        finished[i] = true;
        wg.done();
      });
    auto second_waiter = weft::spawn([&] { wg.wait(); return wg.count(); });
    wg.wait();
    all_seen = std::all_of(finished.begin(), finished.end(), [](bool b) { return b; });
    CHECK(wg.count() == 0);
    CHECK(second_waiter.join() == 0);
    // Reusable.
    wg.add(1);
    weft::spawn([&] { wg.done(); });
    wg.wait();
    CHECK(wg.count() == 0);
  });
  CHECK(all_seen);
}

TEST_CASE("wait_group: a negative count throws std::logic_error and leaves the count alone",
          "[sync][wait_group][misuse]") {
  weft::wait_group wg;
  CHECK_THROWS_AS(wg.done(), std::logic_error);
  CHECK(wg.count() == 0);
  CHECK_THROWS_AS(wg.add(-1), std::logic_error);
  CHECK(wg.count() == 0);
  wg.add(3);
  CHECK_THROWS_AS(wg.add(-5), std::logic_error);
  CHECK_THROWS_WITH(wg.add(-5), Contains("weft::wait_group"));
  CHECK(wg.count() == 3);
  wg.add(0);
  CHECK(wg.count() == 3);
  // A negative add down to exactly zero releases waiters.
  bool released = false;
  weft::run([&] {
    auto waiter = weft::spawn([&] {
      wg.wait();
      released = true;
    });
    CHECK_FALSE(released);
    wg.add(-3);
    waiter.join();
  });
  CHECK(released);
  CHECK(wg.count() == 0);
}

TEST_CASE("wait_group: a plain thread waits for fibers", "[sync][wait_group][threads]") {
  weft::wait_group wg;
  wg.add(5);
  std::atomic<int> done_count{0};
  weft::executor ex;
  for (int i = 0; i < 5; ++i)
    ex.spawn([&] {
      weft::this_fiber::sleep_for(1ms);
      ++done_count;
      wg.done();
    });
  std::thread waiter([&] { wg.wait(); });
  ex.run();
  waiter.join();
  CHECK(done_count == 5);
  CHECK(wg.count() == 0);
}
