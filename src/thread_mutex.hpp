// A std::mutex whose use clang's thread-safety analysis checks (libstdc++'s std::mutex carries
// no annotations), and the guard that holds it, with condition-variable waits.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include <weft/detail/thread_annotations.hpp>

namespace weft::detail {

class WEFT_CAPABILITY("mutex") thread_mutex {
 public:
  void lock() WEFT_ACQUIRE() { mutex_.lock(); }
  void unlock() WEFT_RELEASE() { mutex_.unlock(); }

 private:
  friend class thread_lock;
  std::mutex mutex_;
};

// Holds a thread_mutex for its lifetime; condition-variable waits release it meanwhile.
class WEFT_SCOPED_CAPABILITY thread_lock {
 public:
  explicit thread_lock(thread_mutex& m) WEFT_ACQUIRE(m) : lock_(m.mutex_) {}
  ~thread_lock() WEFT_RELEASE() {}
  thread_lock(const thread_lock&) = delete;
  thread_lock& operator=(const thread_lock&) = delete;

  // One wait (it may end spuriously: callers loop on their condition, which they read with
  // the mutex held, as the analysis checks).
  void wait(std::condition_variable& cv) { cv.wait(lock_); }
  template <class Clock, class Duration>
  std::cv_status wait_until(std::condition_variable& cv,
                            std::chrono::time_point<Clock, Duration> deadline) {
    return cv.wait_until(lock_, deadline);
  }

 private:
  std::unique_lock<std::mutex> lock_;
};

}  // namespace weft::detail
