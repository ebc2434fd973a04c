// weft/condition_variable.hpp: waiting for a condition under a weft::mutex.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include <weft/detail/deadline.hpp>
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
  // As wait, for at most `d` (or until `t`): std::cv_status::timeout if that passed with
  // nobody notifying (never before: no spurious wakeups).
  template <class Rep, class Period>
  std::cv_status wait_for(std::unique_lock<mutex>& lock, std::chrono::duration<Rep, Period> d) {
    return wait_until_deadline(lock, detail::deadline_after(d));
  }
  template <class Clock, class Duration>
  std::cv_status wait_until(std::unique_lock<mutex>& lock,
                            std::chrono::time_point<Clock, Duration> t) {
    return wait_until_deadline(lock, detail::deadline_at(t));
  }
  // Waits until pred() holds or the time passes: pred()'s value at the end.
  template <class Rep, class Period, class Pred>
  bool wait_for(std::unique_lock<mutex>& lock, std::chrono::duration<Rep, Period> d, Pred pred) {
    return wait_until_deadline(lock, detail::deadline_after(d), pred);
  }
  template <class Clock, class Duration, class Pred>
  bool wait_until(std::unique_lock<mutex>& lock, std::chrono::time_point<Clock, Duration> t,
                  Pred pred) {
    return wait_until_deadline(lock, detail::deadline_at(t), pred);
  }
  void notify_one();  // wakes the oldest waiter, if any
  void notify_all();  // wakes every waiter

 private:
  std::cv_status wait_until_deadline(std::unique_lock<mutex>& lock, detail::deadline deadline);
  template <class Pred>
  bool wait_until_deadline(std::unique_lock<mutex>& lock, detail::deadline deadline, Pred& pred) {
    while (!pred())
      if (wait_until_deadline(lock, deadline) == std::cv_status::timeout) return pred();
    return true;
  }

  detail::spinlock lock_;
  detail::waiter_queue waiters_ WEFT_GUARDED_BY(lock_);
};

}  // namespace weft
