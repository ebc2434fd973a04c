// weft/condition_variable.hpp: waiting for a condition under a weft::mutex, or under any lock.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include <weft/detail/call_awaiter.hpp>
#include <weft/detail/deadline.hpp>
#include <weft/detail/thread_annotations.hpp>
#include <weft/detail/waiter.hpp>
#include <weft/mutex.hpp>

namespace weft {

namespace detail {
// condition_variable_any's part that does not depend on the lock type.
class cv_any_core {
 public:
  // Queues the caller, calls unlock(lock), waits for a notify or the deadline, and calls
  // relock(lock), also when the wait throws: true if notified. If unlock throws, nothing stays
  // queued and relock is not called.
  bool wait_until(void (*unlock)(void*), void (*relock)(void*), void* lock, deadline deadline);
  void notify_one();
  void notify_all();

 private:
  spinlock lock_;
  waiter_queue waiters_ WEFT_GUARDED_BY(lock_);
};
}  // namespace detail

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
  // wait's awaitable twins for weft::task (<weft/task.hpp>).
  auto async_wait(std::unique_lock<mutex>& lock) {
    return detail::call_awaiter{[this, &lock] { wait(lock); }};
  }
  template <class Pred>
  auto async_wait(std::unique_lock<mutex>& lock, Pred pred) {
    return detail::call_awaiter{[this, &lock, pred = std::move(pred)] { wait(lock, pred); }};
  }
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
  void notify_one() { core_.notify_one(); }  // wakes the oldest waiter, if any
  void notify_all() { core_.notify_all(); }  // wakes every waiter

 private:
  std::cv_status wait_until_deadline(std::unique_lock<mutex>& lock, detail::deadline deadline);
  template <class Pred>
  bool wait_until_deadline(std::unique_lock<mutex>& lock, detail::deadline deadline, Pred& pred) {
    while (!pred())
      if (wait_until_deadline(lock, deadline) == std::cv_status::timeout) return pred();
    return true;
  }

  detail::cv_any_core core_;
};

// As std::condition_variable_any: condition_variable for any lock with lock() and unlock()
// (std::unique_lock<weft::shared_mutex>, std::shared_lock, weft::recursive_mutex held once, a
// std::mutex...). The same guarantees: no wakeup is lost between unlocking and waiting, FIFO
// wakeups, none spurious, the lock held again on return (also when an exception leaves).
class condition_variable_any {
 public:
  condition_variable_any() = default;
  condition_variable_any(const condition_variable_any&) = delete;
  condition_variable_any& operator=(const condition_variable_any&) = delete;

  template <class Lock>
  void wait(Lock& lock) {
    (void)wait_until_deadline(lock, detail::deadline::max());
  }
  template <class Lock, class Pred>
  void wait(Lock& lock, Pred pred) {
    while (!pred()) wait(lock);
  }
  template <class Lock, class Rep, class Period>
  std::cv_status wait_for(Lock& lock, std::chrono::duration<Rep, Period> d) {
    return wait_until_deadline(lock, detail::deadline_after(d));
  }
  template <class Lock, class Clock, class Duration>
  std::cv_status wait_until(Lock& lock, std::chrono::time_point<Clock, Duration> t) {
    return wait_until_deadline(lock, detail::deadline_at(t));
  }
  template <class Lock, class Rep, class Period, class Pred>
  bool wait_for(Lock& lock, std::chrono::duration<Rep, Period> d, Pred pred) {
    return wait_until_pred(lock, detail::deadline_after(d), pred);
  }
  template <class Lock, class Clock, class Duration, class Pred>
  bool wait_until(Lock& lock, std::chrono::time_point<Clock, Duration> t, Pred pred) {
    return wait_until_pred(lock, detail::deadline_at(t), pred);
  }
  void notify_one() { core_.notify_one(); }
  void notify_all() { core_.notify_all(); }

 private:
  template <class Lock>
  std::cv_status wait_until_deadline(Lock& lock, detail::deadline deadline) {
    const bool notified = core_.wait_until([](void* l) { static_cast<Lock*>(l)->unlock(); },
                                           [](void* l) { static_cast<Lock*>(l)->lock(); }, &lock,
                                           deadline);
    return notified ? std::cv_status::no_timeout : std::cv_status::timeout;
  }
  template <class Lock, class Pred>
  bool wait_until_pred(Lock& lock, detail::deadline deadline, Pred& pred) {
    while (!pred())
      if (wait_until_deadline(lock, deadline) == std::cv_status::timeout) return pred();
    return true;
  }

  detail::cv_any_core core_;
};

}  // namespace weft
