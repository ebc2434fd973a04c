// weft/mutex.hpp: a fiber-aware mutual-exclusion lock.
#pragma once

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
  void unlock();      // hands it to the oldest waiter; throws std::logic_error if not locked

 private:
  detail::spinlock lock_;
  bool locked_ WEFT_GUARDED_BY(lock_) = false;
  // The plain thread owning it, if one does (counted for the deadlock check).
  detail::thread_parker* holder_ WEFT_GUARDED_BY(lock_) = nullptr;
  detail::waiter_queue waiters_ WEFT_GUARDED_BY(lock_);
};

}  // namespace weft
