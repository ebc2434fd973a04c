// weft::fiber_local: one value per fiber, value-initialised on first use, destroyed at the
// fiber's end, following the fiber across workers; each plain thread has its own. And
// channels as ranges.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/weft.hpp>

namespace {
std::atomic<int> live_values{0};
struct counted {
  counted() { ++live_values; }
  ~counted() { --live_values; }
  int value = 0;
};
}  // namespace

TEST_CASE("fiber_local: one value per fiber, kept across yields and migrations", "[executor][fiber_local]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  INFO(workers << " workers");
  weft::fiber_local<int> mine;
  weft::fiber_local<std::string> label;
  std::atomic<int> wrong{0};
  weft::run(
      [&] {
        std::vector<weft::join_handle<void>> fibers;
        for (int i = 0; i < 16; ++i)
          fibers.push_back(weft::spawn([&, i] {
            if (mine.get() != 0 || !label->empty()) ++wrong;  // value-initialised
            *mine = i;
            label.get() = std::to_string(i);
            for (int r = 0; r < 50; ++r) {
              weft::this_fiber::yield();  // may resume on another worker
              if (*mine != i || *label != std::to_string(i)) ++wrong;
            }
          }));
        for (auto& f : fibers) f.join();
      },
      weft::executor_options{.workers = workers});
  CHECK(wrong == 0);
}

TEST_CASE("fiber_local values are destroyed when their fiber ends, before its join returns", "[executor][fiber_local]") {
  weft::fiber_local<counted> local;
  weft::run([&] {
    auto h = weft::spawn([&] {
      local->value = 1;
      CHECK(live_values == 1);
    });
    h.join();
    CHECK(live_values == 0);
    auto unused = weft::spawn([] { weft::this_fiber::yield(); });  // never touches it
    unused.join();
    CHECK(live_values == 0);
  });
}

TEST_CASE("fiber_local outside fibers: each thread has its own", "[executor][fiber_local]") {
  weft::fiber_local<int> local;
  *local = 5;
  int in_thread = -1;
  std::thread t([&] {
    in_thread = *local;
    *local = 9;
  });
  t.join();
  CHECK(in_thread == 0);
  CHECK(*local == 5);
  weft::run([&] { CHECK(*local == 0); });  // a fiber is not the thread
  CHECK(*local == 5);
}

TEST_CASE("a channel is a range: range-for receives until closed and drained", "[executor][channel]") {
  const std::size_t capacity = GENERATE(0, 4);
  weft::channel<int> ch(capacity);
  std::vector<int> got;
  weft::run([&] {
    auto producer = weft::spawn([&] {
      for (int i = 0; i < 10; ++i) ch.send(i);
      ch.close();
    });
    for (int v : ch) got.push_back(v);
    producer.join();
  });
  REQUIRE(got.size() == 10);
  for (int i = 0; i < 10; ++i) CHECK(got[static_cast<std::size_t>(i)] == i);
  weft::channel<int> closed;
  closed.close();
  for (int v : closed) FAIL("received " << v);
}
