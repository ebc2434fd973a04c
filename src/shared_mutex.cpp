// weft::shared_mutex (include/weft/shared_mutex.hpp).
#include <weft/shared_mutex.hpp>

#include <stdexcept>

namespace weft {

bool shared_mutex::try_lock() {
  detail::spin_guard guard(lock_);
  if (writer_ || readers_ != 0) return false;
  writer_ = true;
  return true;
}

bool shared_mutex::lock_until_deadline(detail::deadline deadline) {
  lock_.lock();
  if (!writer_ && readers_ == 0) {
    writer_ = true;
    lock_.unlock();
    return true;
  }
  detail::waiter w;
  writers_waiting_.push_back(w);
  // The unlocker hands us the lock (writer_ is then set for us); a timeout leaves us without
  // it, and may leave readers queued behind nobody.
  bool ours;
  try {
    ours = detail::block_until(w, lock_, detail::wait_kind::shared_mutex, this, deadline);
  } catch (...) {  // the executor unwinds the fiber: not queued any more
    writer_left_queue();
    throw;
  }
  if (!ours) writer_left_queue();
  return ours;
}

void shared_mutex::writer_left_queue() noexcept {
  detail::waiter_queue woken;
  {
    detail::spin_guard guard(lock_);
    if (!writer_ && writers_waiting_.empty()) admit_readers(woken);
  }
  detail::wake_all(woken);
}

void shared_mutex::admit_readers(detail::waiter_queue& woken) noexcept {
  while (detail::waiter* r = readers_waiting_.pop_front()) {
    ++readers_;
    woken.push_back(*r);
  }
}

void shared_mutex::hand_over(detail::waiter_queue& woken) noexcept {
  if (detail::waiter* w = writers_waiting_.pop_front()) {
    writer_ = true;
    woken.push_back(*w);
    return;
  }
  admit_readers(woken);
}

bool shared_mutex::try_lock_shared() {
  detail::spin_guard guard(lock_);
  if (writer_ || !writers_waiting_.empty()) return false;
  ++readers_;
  return true;
}

bool shared_mutex::lock_shared_until_deadline(detail::deadline deadline) {
  lock_.lock();
  if (!writer_ && writers_waiting_.empty()) {
    ++readers_;
    lock_.unlock();
    return true;
  }
  detail::waiter w;
  readers_waiting_.push_back(w);
  return detail::block_until(w, lock_, detail::wait_kind::shared_mutex, this, deadline);
}

void shared_mutex::unlock() {
  detail::waiter_queue woken;
  bool held;
  {
    detail::spin_guard guard(lock_);
    held = writer_;
    if (held) {
      writer_ = false;
      hand_over(woken);
    }
  }
  if (!held) throw std::logic_error("weft::shared_mutex::unlock: the mutex is not locked exclusively");
  if (!woken.empty()) detail::wake_all(woken);
}

void shared_mutex::unlock_shared() {
  detail::waiter_queue woken;
  bool held;
  {
    detail::spin_guard guard(lock_);
    held = readers_ != 0;
    if (held && --readers_ == 0) hand_over(woken);
  }
  if (!held)
    throw std::logic_error("weft::shared_mutex::unlock_shared: the mutex is not locked shared");
  if (!woken.empty()) detail::wake_all(woken);
}

}  // namespace weft
