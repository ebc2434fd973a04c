// A worker's sleeping fibers (timer_heap.hpp).
#include "timer_heap.hpp"

#include <algorithm>
#include <functional>

namespace weft::detail {

void timer_heap::add(fiber* sleeper, time_point deadline) {
  entries_.push_back(entry{deadline, next_seq_++, sleeper});
  std::push_heap(entries_.begin(), entries_.end(), std::greater<>{});
}

fiber* timer_heap::pop_due(time_point now) noexcept {
  if (entries_.empty() || entries_.front().deadline > now) return nullptr;
  std::pop_heap(entries_.begin(), entries_.end(), std::greater<>{});
  fiber* f = entries_.back().sleeper;
  entries_.pop_back();
  return f;
}

void timer_heap::restore_heap() noexcept {
  std::make_heap(entries_.begin(), entries_.end(), std::greater<>{});
}

}  // namespace weft::detail
