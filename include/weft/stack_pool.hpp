// weft/stack_pool.hpp: layer 1's cache of stacks of one size, for programs that make their own
// contexts. The executor does not use it: its fibers' memory comes from its own allocator, with
// a cache per worker.
#pragma once

#include <cstddef>
#include <vector>

#include <weft/stack.hpp>

namespace weft {

// Keeps up to `max_cached` released stacks of one size and guard setting and hands them out
// again, so a program that keeps starting and ending contexts maps no new memory. Not
// thread-safe: give each thread its own pool.
class stack_pool {
 public:
  // Stacks of `stack_size` bytes (rounded up to pages) with or without a guard page.
  // Throws as weft::stack does for a size of 0 or one too large.
  explicit stack_pool(std::size_t stack_size = 64 * 1024, bool guard_pages = true,
                      std::size_t max_cached = 1024);

  // A cached stack, or a newly mapped one; throws as weft::stack's constructor does.
  stack acquire();
  // Takes a stack back for reuse; one of another size or guard setting, or one over the cache
  // limit, is unmapped instead.
  void release(stack s) noexcept;

  std::size_t stack_size() const noexcept { return stack_size_; }  // usable bytes per stack
  std::size_t cached() const noexcept { return free_.size(); }      // stacks ready for reuse

 private:
  std::size_t stack_size_;
  bool guard_pages_;
  std::size_t max_cached_;
  std::vector<stack> free_;
};

}  // namespace weft
