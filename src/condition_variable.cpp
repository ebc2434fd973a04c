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
  // A plain thread is counted throughout, also between releasing the mutex and blocking.
  const detail::plain_thread_hold inside;
  detail::waiter w;
  lock_.lock();
  waiters_.push_back(w);
  lock.unlock();  // after queueing, so a notify in between is not lost
  bool notified;
  try {
    notified = detail::block_until(w, lock_, detail::wait_kind::condition_variable, this, deadline);
  } catch (...) {
    lock.lock();
    throw;
  }
  lock.lock();
  return notified ? std::cv_status::no_timeout : std::cv_status::timeout;
}

void condition_variable::notify_one() {
  lock_.lock();
  detail::waiter* w = waiters_.pop_front();
  lock_.unlock();
  if (w) detail::wake(*w);
}

void condition_variable::notify_all() {
  detail::waiter_queue woken;
  {
    detail::spin_guard guard(lock_);
    waiters_.move_all_to(woken);
  }
  detail::wake_all(woken);
}

}  // namespace weft
