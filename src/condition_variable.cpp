// weft::condition_variable (include/weft/condition_variable.hpp).
#include <weft/condition_variable.hpp>

#include <stdexcept>

#include "thread_parker.hpp"

namespace weft {

void condition_variable::wait(std::unique_lock<mutex>& lock) {
  wait_until_deadline(lock, detail::deadline::max());
}

std::cv_status condition_variable::wait_until_deadline(std::unique_lock<mutex>& lock,
                                                       detail::deadline deadline) {
  if (!lock.owns_lock())
    throw std::logic_error("weft::condition_variable::wait: the unique_lock does not own its mutex");
  using held = std::unique_lock<mutex>;
  const bool notified = core_.wait_until([](void* l) { static_cast<held*>(l)->unlock(); },
                                         [](void* l) { static_cast<held*>(l)->lock(); }, &lock,
                                         deadline);
  return notified ? std::cv_status::no_timeout : std::cv_status::timeout;
}

namespace detail {

bool cv_any_core::wait_until(void (*unlock)(void*), void (*relock)(void*), void* lock,
                             deadline deadline) {
  // A plain thread is counted throughout, also between releasing the lock and blocking.
  const plain_thread_hold inside;
  waiter w;
  lock_.lock();
  waiters_.push_back(w);
  try {
    unlock(lock);  // after queueing, so a notify in between is not lost
  } catch (...) {
    waiters_.remove(w);
    lock_.unlock();
    throw;
  }
  bool notified;
  try {
    notified = block_until(w, lock_, wait_kind::condition_variable, this, deadline);
  } catch (...) {
    relock(lock);
    throw;
  }
  relock(lock);
  return notified;
}

void cv_any_core::notify_one() {
  lock_.lock();
  waiter* w = waiters_.pop_front();
  lock_.unlock();
  if (w) wake(*w);
}

void cv_any_core::notify_all() {
  waiter_queue woken;
  {
    spin_guard guard(lock_);
    waiters_.move_all_to(woken);
  }
  wake_all(woken);
}

}  // namespace detail
}  // namespace weft
