// weft/detail/spinlock.hpp: the short lock around a primitive's state and a fiber's join state.
// Internal: used by the templates of the public headers; not part of the API.
#pragma once

#include <atomic>

#include <weft/detail/thread_annotations.hpp>

namespace weft::detail {

// A short critical section. Never held across a switch, except by block(), which releases it
// once the caller is safely suspended. Uncontended, lock() is one exchange; contended, it
// spins a little and then gives the CPU away (the holder may have been preempted).
class WEFT_CAPABILITY("spinlock") spinlock {
 public:
  void lock() noexcept WEFT_ACQUIRE() {
    if (locked_.exchange(true, std::memory_order_acquire)) [[unlikely]] lock_contended();
  }
  bool try_lock() noexcept WEFT_TRY_ACQUIRE(true) {
    return !locked_.exchange(true, std::memory_order_acquire);
  }
  void unlock() noexcept WEFT_RELEASE() { locked_.store(false, std::memory_order_release); }

 private:
  void lock_contended() noexcept;  // waits for the holder (src/spin.hpp), then takes the lock
  std::atomic<bool> locked_{false};
};

// Holds a spinlock until it is destroyed or unlock() is called.
class WEFT_SCOPED_CAPABILITY spin_guard {
 public:
  explicit spin_guard(spinlock& lock) noexcept WEFT_ACQUIRE(lock) : lock_(lock) { lock.lock(); }
  ~spin_guard() WEFT_RELEASE() {
    if (held_) lock_.unlock();
  }
  spin_guard(const spin_guard&) = delete;
  spin_guard& operator=(const spin_guard&) = delete;
  void unlock() noexcept WEFT_RELEASE() {
    held_ = false;
    lock_.unlock();
  }
  // The lock stays held past the guard: its new owner (block()) releases it.
  void keep_locked() noexcept { held_ = false; }

 private:
  spinlock& lock_;
  bool held_ = true;
};

}  // namespace weft::detail
