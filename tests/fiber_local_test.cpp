// weft::fiber_local: one value per fiber, value-initialised on first use, destroyed at the
// fiber's end, following the fiber across workers; each plain thread has its own. And
// channels as ranges.
#include <atomic>
#include <memory>
#include <stdexcept>
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

TEST_CASE("fiber_local: values survive the growth of a fiber's slots, and destructors may use others", "[executor][fiber_local]") {
  // Keys made after a fiber's first value grow its slots (4, then doubling): values made
  // earlier stay where their references point. A destructor that reads another fiber_local
  // at the fiber's end gets a fresh value, destroyed in turn.
  std::vector<std::unique_ptr<weft::fiber_local<int>>> locals;
  for (int i = 0; i < 3; ++i) locals.push_back(std::make_unique<weft::fiber_local<int>>());
  weft::fiber_local<counted> watched;
  struct uses_another {
    weft::fiber_local<counted>* other = nullptr;
    ~uses_another() {
      if (other) (*other)->value = 7;
    }
  };
  weft::fiber_local<uses_another> last;
  int wrong = 0;
  weft::run([&] {
    auto h = weft::spawn([&] {
      int& first = locals[0]->get();
      first = 100;
      for (int i = 3; i < 40; ++i) locals.push_back(std::make_unique<weft::fiber_local<int>>());
      for (int i = 0; i < 40; ++i) {
        if (i > 0) locals[static_cast<std::size_t>(i)]->get() = 100 + i;
        weft::this_fiber::yield();
      }
      if (&first != &locals[0]->get()) ++wrong;  // the value did not move
      for (int i = 0; i < 40; ++i)
        if (locals[static_cast<std::size_t>(i)]->get() != 100 + i) ++wrong;
      last->other = &watched;  // its destructor makes watched's value again
      watched->value = 1;
    });
    h.join();
  });
  CHECK(wrong == 0);
  CHECK(live_values == 0);
}

TEST_CASE("fiber_local: a value's constructor may use other fiber_locals", "[executor][fiber_local]") {
  // The inner key is beyond the fiber's first slots, so the outer value's construction grows
  // them: the outer value must land in the grown slots (AddressSanitizer would see a write to
  // the freed ones).
  static weft::fiber_local<int>* inner = nullptr;
  struct outer_value {
    int seen;
    outer_value() : seen(++inner->get()) {}
  };
  weft::fiber_local<outer_value> outer;
  std::vector<std::unique_ptr<weft::fiber_local<int>>> spacers;
  for (int i = 0; i < 20; ++i) spacers.push_back(std::make_unique<weft::fiber_local<int>>());
  weft::fiber_local<int> inner_local;
  inner = &inner_local;
  weft::run([&] {
    weft::spawn([&] {
      CHECK(outer->seen == 1);
      CHECK(*inner_local == 1);
      CHECK(outer->seen == 1);  // made once
    }).join();
  });
  inner = nullptr;
}

// A value whose constructor reads its own fiber_local would recurse or leak a second value:
// the inner get() throws instead, and the slot is left empty for a later try.
struct reads_itself {
  static inline weft::fiber_local<reads_itself>* local = nullptr;
  static inline bool read_self = true;
  static inline int made = 0;
  reads_itself() {
    if (read_self) (void)local->get();
    ++made;
  }
};

TEST_CASE("fiber_local: a value's constructor reading the same fiber_local throws logic_error",
          "[executor][fiber_local]") {
  weft::fiber_local<reads_itself> local;
  reads_itself::local = &local;
  const auto check = [&] {
    reads_itself::read_self = true;
    reads_itself::made = 0;
    CHECK_THROWS_MATCHES(local.get(), std::logic_error,
                         Catch::Matchers::Message(
                             "weft::fiber_local::get: called from the constructor of the value "
                             "it is making (the same fiber_local, on the same fiber or thread)"));
    CHECK(reads_itself::made == 0);
    reads_itself::read_self = false;
    CHECK(&local.get() == &local.get());  // made now, once
    CHECK(reads_itself::made == 1);
  };
  weft::run([&] { weft::spawn(check).join(); });
  std::thread(check).join();  // a plain thread's value
  reads_itself::local = nullptr;
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
