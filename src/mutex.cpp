// weft::mutex (include/weft/mutex.hpp).
#include <weft/mutex.hpp>

#include <stdexcept>

#include "thread_parker.hpp"

namespace weft {

void mutex::lock() { lock_until_deadline(detail::deadline::max()); }

bool mutex::lock_until_deadline(detail::deadline deadline) {
  lock_.lock();
  if (!locked_) {
    locked_ = true;
    holder_ = detail::hold_if_plain_thread();
    lock_.unlock();
    return true;
  }
  detail::waiter w;
  waiters_.push_back(w);
  // unlock() hands us ownership; a timeout leaves us without it (unlock skips a waiter whose
  // timeout claimed it).
  return detail::block_until(w, lock_, detail::wait_kind::mutex, this, deadline);
}

bool mutex::try_lock() {
  detail::spin_guard guard(lock_);
  if (locked_) return false;
  locked_ = true;
  holder_ = detail::hold_if_plain_thread();
  return true;
}

void mutex::unlock() {
  lock_.lock();
  if (!locked_) {
    lock_.unlock();
    throw std::logic_error("weft::mutex::unlock: the mutex is not locked");
  }
  detail::waiter* next = waiters_.pop_front();
  if (!next) locked_ = false;  // else ownership passes to `next`, locked_ stays true
  // A plain thread's hold passes with the ownership (a blocked thread's waiter names its
  // parker); the new one is taken before, the old one dropped after the wake.
  detail::thread_parker* const old_holder = holder_;
  holder_ = next ? next->parker : nullptr;
  if (holder_) detail::add_plain_thread_hold(*holder_);
  lock_.unlock();
  if (next) detail::wake(*next);
  if (old_holder) detail::drop_plain_thread_hold(*old_holder);
}

}  // namespace weft
