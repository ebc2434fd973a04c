// skynet: a 10-ary tree of fibers summing its leaves' numbers, each node spawning its ten
// children and joining them in order. A test of results across workers (scheduler_test.cpp)
// and a benchmark (bench/pingpong_bench.cpp, bench/executor_bench.cpp).
#pragma once

#include <array>
#include <cstdint>

#include <weft/weft.hpp>

namespace weft_test {

// The default leaf hook: nothing.
struct no_leaf_hook {
  void operator()() const noexcept {}
};

// Called on a fiber of an executor: the sum num + (num + 1) + ... + (num + size - 1), size a
// power of ten, computed by a node that spawns ten children of a tenth of its size (with
// weft::spawn) and joins them. OnLeaf{}() runs on each leaf's fiber (e.g. to count the
// threads that ran leaves); the default hook compiles to nothing.
//
// static: a copy per translation unit, as the benchmarks' own copies were. GCC moves the cold
// paths of such a function out of line, but not those of an inline template's shared
// (comdat) copy: the benchmarked code keeps its layout.
template <class OnLeaf = no_leaf_hook>
static std::uint64_t skynet(std::uint64_t num, std::uint64_t size) {
  if (size == 1) {
    OnLeaf{}();
    return num;
  }
  std::array<weft::join_handle<std::uint64_t>, 10> children;
  for (std::uint64_t i = 0; i < 10; ++i)
    children[i] = weft::spawn(&skynet<OnLeaf>, num + i * (size / 10), size / 10);
  std::uint64_t sum = 0;
  for (auto& c : children) sum += c.join();
  return sum;
}

}  // namespace weft_test
