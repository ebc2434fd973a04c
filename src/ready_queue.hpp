// Intrusive FIFOs of ready fibers (linked through fiber::next_ready): ready_queue, used by one
// thread at a time, and locked_ready_queue, which any thread pushes to and pops from under a
// mutex (the executor's injection queue).
#pragma once

#include <atomic>

#include <weft/detail/thread_annotations.hpp>

#include "fiber.hpp"
#include "thread_mutex.hpp"

namespace weft::detail {

class ready_queue {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  void push_back(fiber* f) noexcept;
  fiber* pop_front() noexcept;
  void append(ready_queue& other) noexcept;  // moves all of `other` to our back

 private:
  fiber* head_ = nullptr;
  fiber* tail_ = nullptr;
};

// A ready_queue any thread pushes to and pops from, under a mutex, with a flag that spares
// the mutex while it is empty. Holds fibers made ready outside a worker's own queues.
class locked_ready_queue {
 public:
  void push(fiber* f) noexcept {
    thread_lock guard(mutex_);
    queue_.push_back(f);
    pending_.store(true, std::memory_order_release);
  }
  fiber* pop() noexcept {  // null when empty
    if (!pending_.load(std::memory_order_acquire)) return nullptr;
    thread_lock guard(mutex_);
    fiber* f = queue_.pop_front();
    if (queue_.empty()) pending_.store(false, std::memory_order_relaxed);
    return f;
  }
  bool looks_empty() const noexcept { return !pending_.load(std::memory_order_acquire); }

 private:
  thread_mutex mutex_;
  ready_queue queue_ WEFT_GUARDED_BY(mutex_);
  std::atomic<bool> pending_{false};
};

}  // namespace weft::detail
