// Chains of a million task co_awaits that complete without suspending, compiled without
// optimisation (tests/CMakeLists.txt): tasks hand over through weft's driver loop, not through
// tail calls the compiler may or may not make, so no build's stack grows with the chain.
#include <catch2/catch.hpp>

#include <weft/weft.hpp>

namespace {

weft::task<int> one() { co_return 1; }

// Awaits the next level: depth frames are alive at once, the deepest completes first.
weft::task<long> nested_sum(int depth) {
  if (depth == 0) co_return 0;
  co_return 1 + co_await nested_sum(depth - 1);
}

}  // namespace

TEST_CASE("task: a million nested co_awaits that complete at once need no stack",
          "[executor][task]") {
  // The fiber's stack is 64 KiB: recursion through resume() would overflow it at once.
  weft::executor ex;
  auto h = ex.spawn(nested_sum(1'000'000));
  ex.run();
  CHECK(h.join() == 1'000'000);
}

TEST_CASE("task: a million co_awaits in a loop, on a plain thread", "[executor][task]") {
  auto sum_of_many = []() -> weft::task<long> {
    long s = 0;
    for (int i = 0; i < 1'000'000; ++i) s += co_await one();
    co_return s;
  };
  CHECK(weft::await(sum_of_many()) == 1'000'000);
}
