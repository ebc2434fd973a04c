// weft/stack.hpp: memory for one fiber's stack.
#pragma once

#include <cstddef>

namespace weft {

// A contiguous region that a context can run on: [low, low + size), growing down from the top.
struct stack_span {
  void* low = nullptr;     // lowest usable address (just above any guard page)
  std::size_t size = 0;    // usable bytes
  void* top() const noexcept { return static_cast<char*>(low) + size; }
};

// The page size of this machine, in bytes. Callable from anywhere.
std::size_t page_size() noexcept;

// Owner of one mmap'd fiber stack, with an optional PROT_NONE guard page below it so that
// an overflow faults instead of corrupting memory. Movable, not copyable.
class stack {
 public:
  // Maps `size` usable bytes, rounded up to whole pages, plus one guard page if asked.
  // Throws std::invalid_argument for a size of 0, std::length_error for a size that cannot be
  // rounded or mapped at all, and std::system_error when mmap or mprotect fails; that message
  // names the size asked for and the likely cause (vm.max_map_count, RLIMIT_AS, memory).
  // Callable from any thread.
  explicit stack(std::size_t size = 64 * 1024, bool guard_page = true);
  ~stack();
  stack(stack&& other) noexcept;
  stack& operator=(stack&& other) noexcept;
  stack(const stack&) = delete;
  stack& operator=(const stack&) = delete;

  std::size_t size() const noexcept { return span_.size; }      // usable bytes
  bool guarded() const noexcept { return guarded_; }            // has a guard page below it
  stack_span span() const noexcept { return span_; }            // the usable region
  bool empty() const noexcept { return span_.low == nullptr; }  // true after being moved from

 private:
  void release() noexcept;

  stack_span span_{};
  bool guarded_ = false;
  unsigned valgrind_id_ = 0;
};

}  // namespace weft
