#include <weft/stack_pool.hpp>

#include "stack_memory.hpp"

namespace weft {

stack_pool::stack_pool(std::size_t stack_size, bool guard_pages, std::size_t max_cached)
    : stack_size_(detail::round_stack_size(stack_size, "weft::stack_pool")),
      guard_pages_(guard_pages),
      max_cached_(max_cached) {}

stack stack_pool::acquire() {
  if (free_.empty()) return stack(stack_size_, guard_pages_);
  stack s = std::move(free_.back());
  free_.pop_back();
  return s;
}

void stack_pool::release(stack s) noexcept {
  if (s.empty() || s.size() != stack_size_ || s.guarded() != guard_pages_ ||
      free_.size() >= max_cached_)
    return;  // unmapped by s's destructor
  try {
    free_.push_back(std::move(s));
  } catch (...) {  // no memory to cache it: unmapping is the right fallback
  }
}

}  // namespace weft
