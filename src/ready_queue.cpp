// Intrusive FIFOs of ready fibers (ready_queue.hpp).
#include "ready_queue.hpp"

namespace weft::detail {

void ready_queue::push_back(fiber* f) noexcept {
  f->next_ready = nullptr;
  if (tail_) tail_->next_ready = f;
  else head_ = f;
  tail_ = f;
}

fiber* ready_queue::pop_front() noexcept {
  fiber* f = head_;
  if (f) {
    head_ = f->next_ready;
    if (!head_) tail_ = nullptr;
  }
  return f;
}

void ready_queue::append(ready_queue& other) noexcept {
  if (other.empty()) return;
  if (tail_) tail_->next_ready = other.head_;
  else head_ = other.head_;
  tail_ = other.tail_;
  other.head_ = other.tail_ = nullptr;
}

}  // namespace weft::detail
