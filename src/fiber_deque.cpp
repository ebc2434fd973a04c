// A worker's continuations (fiber_deque.hpp): the Chase-Lev deque's thief side, growth, and
// the steal licence.
#include "fiber_deque.hpp"

#include "spin.hpp"

namespace weft::detail {

// ---- Chase-Lev, after Le, Pop, Cohen and Zappa Nardelli, "Correct and efficient
// work-stealing for weak memory models" (PPoPP 2013).

void deque_thief::before_steal() noexcept {
  last_steal_ = std::chrono::steady_clock::now();
  if (registered_) return;
  registered_ = true;
  count_.fetch_add(1, std::memory_order_seq_cst);
  // Every owner's take either comes after this barrier, and sees us counted, or stored its
  // bottom_ before it, where our loads after it see it (fiber_deque::take).
  heavy_barrier();
}

void deque_thief::unregister() noexcept {
  if (!registered_) return;
  registered_ = false;
  count_.fetch_sub(1, std::memory_order_seq_cst);  // a locked instruction: after our last steal
}

fiber_deque::fiber_deque(const std::atomic<std::uint32_t>& thieves) : thieves_(thieves) {
  arrays_.push_back(std::make_unique<array>(256));
  array_.store(arrays_.back().get(), std::memory_order_relaxed);
}

fiber_deque::~fiber_deque() = default;

fiber_deque::array* fiber_deque::grow(array* old, std::int64_t top, std::int64_t bottom) {
  auto bigger = std::make_unique<array>(old->size * 2);
  for (std::int64_t i = top; i < bottom; ++i)
    bigger->at(i).store(old->at(i).load(std::memory_order_relaxed), std::memory_order_relaxed);
  arrays_.push_back(std::move(bigger));  // the old one stays: a thief may still read it
  return arrays_.back().get();
}

void fiber_deque::grow_then_push(fiber* f) {
  const std::int64_t b = bottom_.load(std::memory_order_relaxed);
  const std::int64_t t = top_.load(std::memory_order_acquire);
  array_.store(grow(array_.load(std::memory_order_relaxed), t, b), std::memory_order_release);
  push(f);
}

fiber* fiber_deque::steal(deque_thief& thief) noexcept {
  thief.before_steal();
  std::int64_t t = top_.load(std::memory_order_acquire);
  store_load_fence();
  const std::int64_t b = bottom_.load(std::memory_order_acquire);
  if (t >= b) return nullptr;
  array* a = array_.load(std::memory_order_acquire);
  fiber* f = a->at(t).load(std::memory_order_acquire);
  if (!top_.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst,
                                    std::memory_order_relaxed))
    return nullptr;  // another thief or the owner won
  return f;
}

fiber_deque::glimpse fiber_deque::look() const noexcept {
  const std::int64_t t = top_.load(std::memory_order_acquire);
  const std::int64_t b = bottom_.load(std::memory_order_acquire);
  return {b - t + (newest_ ? 1 : 0), pushes_.load(std::memory_order_relaxed)};
}

bool fiber_deque::keeps_only_fiber(glimpse seen,
                                   std::chrono::steady_clock::duration wait) const noexcept {
  const auto until = std::chrono::steady_clock::now() + wait;
  do {
    cpu_relax();
    const glimpse now = look();
    if (now.size != 1 || now.pushes != seen.pushes) return false;
  } while (std::chrono::steady_clock::now() < until);
  return true;
}

}  // namespace weft::detail
