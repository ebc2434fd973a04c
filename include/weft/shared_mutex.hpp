// weft/shared_mutex.hpp: a readers-writer lock for fibers and threads (std::shared_mutex).
#pragma once

#include <chrono>
#include <cstddef>

#include <weft/detail/deadline.hpp>
#include <weft/detail/thread_annotations.hpp>
#include <weft/detail/waiter.hpp>

namespace weft {

// As std::shared_mutex (with std::shared_timed_mutex's timed forms): one writer or any number
// of readers. lock()/lock_shared() suspend only the calling fiber (a plain thread blocks);
// like weft::mutex's, these waits are not interruption points. Writers are preferred: once a
// writer waits, new readers queue behind it, so a stream of readers cannot starve writers.
// unlock() hands the lock to the oldest waiting writer, or else to every waiting reader;
// the last reader's unlock_shared() hands it to the oldest waiting writer. Works with
// std::unique_lock and std::shared_lock. unlock() or unlock_shared() of a mutex not held that
// way throws std::logic_error. Destroying one that somebody still waits on stops the process
// with one line.
class shared_mutex {
 public:
  shared_mutex() = default;
  shared_mutex(const shared_mutex&) = delete;
  shared_mutex& operator=(const shared_mutex&) = delete;

  void lock() { lock_until_deadline(detail::deadline::max()); }
  bool try_lock();
  template <class Rep, class Period>
  bool try_lock_for(std::chrono::duration<Rep, Period> d) {
    return try_lock() || lock_until_deadline(detail::deadline_after(d));
  }
  template <class Clock, class Duration>
  bool try_lock_until(std::chrono::time_point<Clock, Duration> t) {
    return try_lock() || lock_until_deadline(detail::deadline_at(t));
  }
  void unlock();

  void lock_shared() { lock_shared_until_deadline(detail::deadline::max()); }
  bool try_lock_shared();
  template <class Rep, class Period>
  bool try_lock_shared_for(std::chrono::duration<Rep, Period> d) {
    return try_lock_shared() || lock_shared_until_deadline(detail::deadline_after(d));
  }
  template <class Clock, class Duration>
  bool try_lock_shared_until(std::chrono::time_point<Clock, Duration> t) {
    return try_lock_shared() || lock_shared_until_deadline(detail::deadline_at(t));
  }
  void unlock_shared();

 private:
  bool lock_until_deadline(detail::deadline deadline);
  bool lock_shared_until_deadline(detail::deadline deadline);
  // A waiting writer gave up (timeout, unwinding): readers queued behind it may go now.
  void writer_left_queue() noexcept;
  // With nobody holding it: to the oldest waiting writer, or else to every waiting reader.
  void hand_over(detail::waiter_queue& woken) noexcept WEFT_REQUIRES(lock_);
  void admit_readers(detail::waiter_queue& woken) noexcept WEFT_REQUIRES(lock_);

  detail::spinlock lock_;
  bool writer_ WEFT_GUARDED_BY(lock_) = false;
  std::size_t readers_ WEFT_GUARDED_BY(lock_) = 0;
  detail::waiter_queue writers_waiting_ WEFT_GUARDED_BY(lock_);
  detail::waiter_queue readers_waiting_ WEFT_GUARDED_BY(lock_);
};

}  // namespace weft
