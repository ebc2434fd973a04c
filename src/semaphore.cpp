// weft::counting_semaphore (include/weft/semaphore.hpp).
#include <weft/semaphore.hpp>

#include <stdexcept>
#include <string>

namespace weft::detail {

semaphore_core::semaphore_core(std::ptrdiff_t desired, std::ptrdiff_t max) : count_(desired) {
  if (desired < 0 || desired > max)
    throw std::invalid_argument("weft::counting_semaphore: desired count " + std::to_string(desired) +
                                " is outside [0, " + std::to_string(max) + "]");
}

void semaphore_core::release(std::ptrdiff_t update, std::ptrdiff_t max) {
  waiter_queue woken;
  std::ptrdiff_t was;
  bool fits;
  {
    spin_guard guard(lock_);
    was = count_;
    fits = update >= 0 && update <= max - count_;
    if (fits) {
      // Waiters exist only while count_ is zero: each of the oldest takes one unit.
      for (; update > 0; --update) {
        waiter* w = waiters_.pop_front();
        if (!w) break;
        woken.push_back(*w);
      }
      count_ += update;
    }
  }
  if (!fits)
    throw std::invalid_argument("weft::counting_semaphore::release: update " + std::to_string(update) +
                                " would take the counter " + std::to_string(was) +
                                " outside [0, " + std::to_string(max) + "]");
  wake_all(woken);
}

bool semaphore_core::try_acquire() noexcept {
  spin_guard guard(lock_);
  if (count_ == 0) return false;
  --count_;
  return true;
}

bool semaphore_core::acquire_until(deadline deadline) {
  lock_.lock();
  if (count_ > 0) {
    --count_;
    lock_.unlock();
    return true;
  }
  waiter w;
  waiters_.push_back(w);
  // release() hands us a unit when it wakes us; a timeout or a stop leaves us without one.
  return block_until(w, lock_, wait_kind::semaphore, this, deadline);
}

}  // namespace weft::detail
