// weft/mutex.hpp: a fiber-aware mutual-exclusion lock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include <weft/detail/call_awaiter.hpp>
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
  // lock's awaitable twin for weft::task (<weft/task.hpp>): yields nothing; unlock() after.
  auto async_lock() {
    return detail::call_awaiter{[this] { lock(); }};
  }
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

// As std::timed_mutex: weft::mutex, whose timed forms it has.
class timed_mutex : public mutex {};

namespace detail {
// Who calls: the running fiber's id, or outside fibers an id of the calling thread (from a
// range fiber ids never reach). Never 0.
std::uint64_t caller_identity() noexcept;

// recursive_mutex's and recursive_timed_mutex's state: the owner may lock again; the lock is
// released when it has unlocked as often as it locked. Only the owner writes the count.
class recursive_lock {
 public:
  void lock() { (void)lock_until(deadline::max()); }
  bool try_lock();
  bool lock_until(deadline deadline);
  void unlock();

 private:
  // Takes it again if the caller owns it; else the mutex: try_lock() if `try_only`, otherwise
  // waiting until `deadline`.
  bool enter(deadline deadline, bool try_only);

  mutex mutex_;
  std::atomic<std::uint64_t> owner_{0};
  std::size_t depth_ = 0;
};
}  // namespace detail

// As std::recursive_mutex: a weft::mutex that its owner (a fiber, or a plain thread outside
// fibers) may lock again; it is released when the owner has unlocked it as often. unlock() by
// anybody else throws std::logic_error.
class recursive_mutex {
 public:
  recursive_mutex() = default;
  recursive_mutex(const recursive_mutex&) = delete;
  recursive_mutex& operator=(const recursive_mutex&) = delete;
  void lock() { lock_.lock(); }
  bool try_lock() { return lock_.try_lock(); }
  void unlock() { lock_.unlock(); }

 private:
  detail::recursive_lock lock_;
};

// As std::recursive_timed_mutex: recursive_mutex with timed forms.
class recursive_timed_mutex {
 public:
  recursive_timed_mutex() = default;
  recursive_timed_mutex(const recursive_timed_mutex&) = delete;
  recursive_timed_mutex& operator=(const recursive_timed_mutex&) = delete;
  void lock() { lock_.lock(); }
  bool try_lock() { return lock_.try_lock(); }
  template <class Rep, class Period>
  bool try_lock_for(std::chrono::duration<Rep, Period> d) {
    return lock_.try_lock() || lock_.lock_until(detail::deadline_after(d));
  }
  template <class Clock, class Duration>
  bool try_lock_until(std::chrono::time_point<Clock, Duration> t) {
    return lock_.try_lock() || lock_.lock_until(detail::deadline_at(t));
  }
  void unlock() { lock_.unlock(); }

 private:
  detail::recursive_lock lock_;
};

}  // namespace weft
