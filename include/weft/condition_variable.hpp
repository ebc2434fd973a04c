// weft/condition_variable.hpp: waiting for a condition under a weft::mutex.
#pragma once

#include <mutex>

#include <weft/detail/thread_annotations.hpp>
#include <weft/detail/waiter.hpp>
#include <weft/mutex.hpp>

namespace weft {

// Like std::condition_variable, for weft::mutex: wait() suspends only the calling fiber (a
// plain thread blocks). No wakeup is lost between unlocking and waiting. Wakeups are FIFO and
// never spurious, but use the predicate overload anyway.
class condition_variable {
 public:
  condition_variable() = default;
  condition_variable(const condition_variable&) = delete;
  condition_variable& operator=(const condition_variable&) = delete;

  // Atomically releases `lock` and waits for a notify, then re-acquires `lock` (also when an
  // exception leaves). Throws std::logic_error if `lock` does not own its mutex.
  void wait(std::unique_lock<mutex>& lock);
  // Waits until pred() holds, checked under the lock.
  template <class Pred>
  void wait(std::unique_lock<mutex>& lock, Pred pred) {
    while (!pred()) wait(lock);
  }
  void notify_one();  // wakes the oldest waiter, if any
  void notify_all();  // wakes every waiter

 private:
  detail::spinlock lock_;
  detail::waiter_queue waiters_ WEFT_GUARDED_BY(lock_);
};

}  // namespace weft
