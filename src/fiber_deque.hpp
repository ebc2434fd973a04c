// A worker's continuations: a Chase-Lev deque of spawners waiting for their child to suspend.
// The owner pushes and takes at the bottom (LIFO), any thread steals from the top (FIFO)
// through a deque_thief. Lock-free; the owner's paths are inline (they run on every spawn and
// every fiber's end). Slot stores are release and loads acquire (free on x86), so
// ThreadSanitizer, which ignores standalone fences, sees the happens-before edge that hands a
// fiber to another thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "asymmetric_barrier.hpp"
#include "fiber.hpp"

namespace weft::detail {

// A thread's licence to steal from the deques of one executor, whose registered thieves are
// counted in `count`. While no thief is registered, the owners' takes skip their store-load
// fence (fiber_deque::take); registering costs a heavy barrier (every running thread executes
// a full barrier: tens of microseconds in a VM). So a licence registers at its first steal and
// stays registered while its thread keeps stealing: the owner unregisters it once it has not
// been used for a while (expire_unused), and before its thread parks or leaves. Owner only.
class deque_thief {
 public:
  explicit deque_thief(std::atomic<std::uint32_t>& count) noexcept : count_(count) {}
  ~deque_thief() { unregister(); }
  deque_thief(const deque_thief&) = delete;
  deque_thief& operator=(const deque_thief&) = delete;

  void before_steal() noexcept;  // registers if it is not; notes the time
  void unregister() noexcept;    // only between steals
  // Unregisters if the last steal was longer ago than `idle`, when registered.
  void expire_unused(std::chrono::steady_clock::duration idle) noexcept {
    if (registered_ && std::chrono::steady_clock::now() - last_steal_ > idle) unregister();
  }

 private:
  std::atomic<std::uint32_t>& count_;
  bool registered_ = false;
  std::chrono::steady_clock::time_point last_steal_{};
};

class fiber_deque {
 public:
  // `thieves`: the count of registered deque_thief objects that may steal from this deque.
  explicit fiber_deque(const std::atomic<std::uint32_t>& thieves);
  ~fiber_deque();
  fiber_deque(const fiber_deque&) = delete;
  fiber_deque& operator=(const fiber_deque&) = delete;

  void push(fiber* f);            // owner only; grows as needed (may throw std::bad_alloc)
  fiber* take() noexcept;         // owner only: the newest, or null
  // As push() and take(), when no other thread can steal (one worker), and never mixed with
  // them: the newest fiber waits in a plain slot in front of the deque, so a spawn whose
  // child ends at once (which takes its spawner right back) does not touch the deque.
  void push_unshared(fiber* f) {
    if (newest_) push(newest_);
    newest_ = f;
  }
  fiber* take_unshared() noexcept {
    if (newest_) return std::exchange(newest_, nullptr);
    const std::int64_t b = bottom_.load(std::memory_order_relaxed);
    if (b <= top_.load(std::memory_order_relaxed)) return nullptr;
    bottom_.store(b - 1, std::memory_order_relaxed);
    return array_.load(std::memory_order_relaxed)->at(b - 1).load(std::memory_order_relaxed);
  }
  bool looks_empty_unshared() const noexcept {  // as take_unshared() would return null
    return !newest_ && bottom_.load(std::memory_order_relaxed) <= top_.load(std::memory_order_relaxed);
  }
  fiber* steal(deque_thief& thief) noexcept;  // any thread: the oldest, or null (also racing)
  // Any thread: how many fibers the deque seems to hold, and how many pushes it has had (which
  // tells a fiber taken back and pushed again from one that stayed). A hint.
  struct glimpse {
    std::int64_t size;
    std::uint64_t pushes;
  };
  glimpse look() const noexcept;
  // Any thread: whether the deque still holds the one fiber it held when `seen` was taken
  // after `wait` (spinning meanwhile; false as soon as it changes).
  bool keeps_only_fiber(glimpse seen, std::chrono::steady_clock::duration wait) const noexcept;

 private:
  struct array {
    explicit array(std::size_t n) : size(n), slots(new std::atomic<fiber*>[n]) {}
    std::size_t size;
    std::unique_ptr<std::atomic<fiber*>[]> slots;
    std::atomic<fiber*>& at(std::int64_t i) noexcept { return slots[static_cast<std::size_t>(i) & (size - 1)]; }
  };
  array* grow(array* old, std::int64_t top, std::int64_t bottom);
  void grow_then_push(fiber* f);  // push()'s rare path, out of line (the fast path saves nothing)

  const std::atomic<std::uint32_t>& thieves_;
  alignas(64) std::atomic<std::int64_t> top_{0};
  alignas(64) std::atomic<std::int64_t> bottom_{0};
  std::atomic<std::uint64_t> pushes_{0};  // written by the owner only
  std::atomic<array*> array_;
  std::vector<std::unique_ptr<array>> arrays_;  // every array ever used, freed at the end
  fiber* newest_ = nullptr;  // push_unshared's slot; never set where thieves may look
};

// ---- fiber_deque's owner paths, inline: they run on every spawn and every fiber's end (the
// Chase-Lev algorithm's source: fiber_deque.cpp).

inline void fiber_deque::push(fiber* f) {
  const std::int64_t b = bottom_.load(std::memory_order_relaxed);
  const std::int64_t t = top_.load(std::memory_order_acquire);
  array* a = array_.load(std::memory_order_relaxed);
  if (b - t > static_cast<std::int64_t>(a->size) - 1) [[unlikely]] return grow_then_push(f);
  a->at(b).store(f, std::memory_order_release);
  pushes_.store(pushes_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  bottom_.store(b + 1, std::memory_order_release);
}

inline fiber* fiber_deque::take() noexcept {
  // Only the owner adds, so an empty deque stays empty: skip the fence below.
  if (bottom_.load(std::memory_order_relaxed) <= top_.load(std::memory_order_relaxed))
    return nullptr;
  const std::int64_t b = bottom_.load(std::memory_order_relaxed) - 1;
  array* a = array_.load(std::memory_order_relaxed);
  bottom_.store(b, std::memory_order_relaxed);
  asm volatile("" ::: "memory");  // the count's load below stays after this store
  // Chase-Lev: the store above must be visible to thieves before we load top_, or a thief and
  // we could both take the fiber at b. A thief registers before it steals, then runs a heavy
  // barrier: every running thread executes a full barrier somewhere inside it. If that point
  // falls before our load of the count, we see the thief and fence; if after, our store was
  // already visible when the barrier ended, before the thief's first load. So while no thief
  // is counted, a compiler barrier does (asymmetric_barrier.hpp).
  const bool no_thief = asymmetric_barriers.load(std::memory_order_relaxed) &&
                        thieves_.load(std::memory_order_acquire) == 0;
  if (no_thief)
    asm volatile("" ::: "memory");
  else
    store_load_fence();
  std::int64_t t = top_.load(std::memory_order_relaxed);
  if (t > b) {  // empty
    bottom_.store(b + 1, std::memory_order_relaxed);
    return nullptr;
  }
  fiber* f = a->at(b).load(std::memory_order_acquire);
  // The last one: race the thieves for it, unless none is counted. Then none is inside a
  // steal (a thief registers before its first load and unregisters after its last CAS), and
  // one that registers from now on sees our bottom_ store, which left the deque empty.
  if (t == b && !no_thief) {
    if (!top_.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst,
                                      std::memory_order_relaxed))
      f = nullptr;
    bottom_.store(b + 1, std::memory_order_relaxed);
  }
  return f;
}

}  // namespace weft::detail
