// A worker's FIFO of yielded and woken fibers: a bounded ring. The owner pushes at the tail,
// any thread takes from the head with a CAS. Lock-free.
#pragma once

#include <atomic>
#include <cstdint>

#include "fiber.hpp"

namespace weft::detail {

class fiber_ring {
 public:
  static constexpr std::uint32_t capacity = 256;

  bool push(fiber* f) noexcept {  // owner only; false when full
    const std::uint32_t t = tail_.load(std::memory_order_relaxed);
    const std::uint32_t h = head_.load(std::memory_order_acquire);
    if (t - h >= capacity) return false;
    slots_[t % capacity].store(f, std::memory_order_release);
    tail_.store(t + 1, std::memory_order_release);
    return true;
  }
  fiber* pop() noexcept;           // any thread; null when empty
  fiber* pop_unshared() noexcept {  // as pop(), when no other thread can pop (one worker)
    const std::uint32_t h = head_.load(std::memory_order_relaxed);
    if (h == tail_.load(std::memory_order_relaxed)) return nullptr;
    fiber* f = slots_[h % capacity].load(std::memory_order_relaxed);
    head_.store(h + 1, std::memory_order_relaxed);
    return f;
  }
  // As push(), right after a pop_unshared() that returned a fiber (so never full), when no
  // other thread can pop.
  void push_after_pop_unshared(fiber* f) noexcept {
    const std::uint32_t t = tail_.load(std::memory_order_relaxed);
    slots_[t % capacity].store(f, std::memory_order_relaxed);
    tail_.store(t + 1, std::memory_order_relaxed);
  }
  // Owner only: how many more push() will take.
  std::uint32_t room() const noexcept {
    return capacity - (tail_.load(std::memory_order_relaxed) - head_.load(std::memory_order_acquire));
  }
  bool looks_empty() const noexcept {
    return head_.load(std::memory_order_acquire) == tail_.load(std::memory_order_acquire);
  }

 private:
  alignas(64) std::atomic<std::uint32_t> head_{0};
  alignas(64) std::atomic<std::uint32_t> tail_{0};
  std::atomic<fiber*> slots_[capacity] = {};
};

}  // namespace weft::detail
