// weft/mutex.hpp: a fiber-aware mutual-exclusion lock.
#pragma once

#include <chrono>

#include <weft/detail/deadline.hpp>
#include <weft/detail/thread_annotations.hpp>
#include <weft/detail/waiter.hpp>

namespace weft {

// A mutex whose lock() suspends only the calling fiber (a plain thread blocks). Ownership is
// handed to waiters in FIFO order, so no waiter starves. Works with std::unique_lock and
// std::lock_guard. Not recursive. While a plain thread owns it, run() does not report fibers
// waiting for it as deadlocked: the thread's unlock() will wake them.
class mutex {
 public:
  mutex() = default;
  mutex(const mutex&) = delete;
  mutex& operator=(const mutex&) = delete;

  void lock();        // waits until the mutex is ours
  bool try_lock();    // takes it if free; never waits
  // As lock, for at most `d` (or until `t`): true if the mutex is ours, false if that passed
  // first (std::unique_lock's timed locking uses these).
  template <class Rep, class Period>
  bool try_lock_for(std::chrono::duration<Rep, Period> d) {
    return try_lock() || lock_until_deadline(detail::deadline_after(d));  // free: no clock read
  }
  template <class Clock, class Duration>
  bool try_lock_until(std::chrono::time_point<Clock, Duration> t) {
    return lock_until_deadline(detail::deadline_at(t));
  }
  void unlock();      // hands it to the oldest waiter; throws std::logic_error if not locked

 private:
  bool lock_until_deadline(detail::deadline deadline);

  detail::spinlock lock_;
  bool locked_ WEFT_GUARDED_BY(lock_) = false;
  // The plain thread owning it, if one does (counted for the deadlock check).
  detail::thread_parker* holder_ WEFT_GUARDED_BY(lock_) = nullptr;
  detail::waiter_queue waiters_ WEFT_GUARDED_BY(lock_);
};

}  // namespace weft
