// A worker's FIFO of yielded and woken fibers (fiber_ring.hpp).
#include "fiber_ring.hpp"

namespace weft::detail {

// ---- bounded single-producer, multi-consumer FIFO

fiber* fiber_ring::pop() noexcept {
  std::uint32_t h = head_.load(std::memory_order_acquire);
  for (;;) {
    const std::uint32_t t = tail_.load(std::memory_order_acquire);
    if (h == t) return nullptr;
    fiber* f = slots_[h % capacity].load(std::memory_order_acquire);
    if (head_.compare_exchange_weak(h, h + 1, std::memory_order_acq_rel,
                                    std::memory_order_acquire))
      return f;
  }
}

}  // namespace weft::detail
