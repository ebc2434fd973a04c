// A worker's inbox: fibers pinned to it and made ready elsewhere. Lock-free, unbounded.
#pragma once

#include <atomic>

#include "fiber.hpp"

namespace weft::detail {

// Any thread pushes with one CAS onto a list, newest first; the owner takes the whole list
// with one exchange when its own batch runs out, and pops the batch oldest first. So fibers
// leave in the order they came, and a push and a pop each touch the shared line once (a mutex
// costs a pop a second round of the line, to lock after the emptiness check).
class fiber_inbox {
 public:
  void push(fiber* f) noexcept {  // any thread
    fiber* newest = incoming_.load(std::memory_order_relaxed);
    do {
      f->next_ready = newest;
    } while (!incoming_.compare_exchange_weak(newest, f, std::memory_order_release,
                                              std::memory_order_relaxed));
  }
  fiber* pop() noexcept {  // owner only; null when empty
    fiber* f = batch_.load(std::memory_order_relaxed);
    if (!f) {
      if (!incoming_.load(std::memory_order_relaxed)) return nullptr;
      // Newest first: reverse into the batch, oldest first.
      for (fiber* next = incoming_.exchange(nullptr, std::memory_order_acquire); next;) {
        fiber* after = next->next_ready;
        next->next_ready = f;
        f = next;
        next = after;
      }
    }
    batch_.store(f->next_ready, std::memory_order_relaxed);
    return f;
  }
  // Any thread: whether pop() would return null (a hint unless called by the owner).
  bool looks_empty() const noexcept {
    return !incoming_.load(std::memory_order_acquire) && !batch_.load(std::memory_order_relaxed);
  }

 private:
  alignas(64) std::atomic<fiber*> incoming_{nullptr};  // pushed, newest first
  std::atomic<fiber*> batch_{nullptr};  // taken by the owner, oldest first; others only look
};

}  // namespace weft::detail
