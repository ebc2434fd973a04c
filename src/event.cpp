// weft::event (include/weft/event.hpp).
#include <weft/event.hpp>

namespace weft {

void event::set() {
  detail::waiter_queue woken;
  {
    detail::spin_guard guard(lock_);
    set_ = true;
    waiters_.move_all_to(woken);
  }
  detail::wake_all(woken);
}

void event::reset() {
  detail::spin_guard guard(lock_);
  set_ = false;
}

bool event::is_set() const {
  detail::spin_guard guard(lock_);
  return set_;
}

void event::wait() { wait_until_deadline(detail::deadline::max()); }

bool event::wait_until_deadline(detail::deadline deadline) {
  lock_.lock();
  if (set_) {
    lock_.unlock();
    return true;
  }
  detail::waiter w;
  waiters_.push_back(w);
  return detail::block_until(w, lock_, detail::wait_kind::event, this, deadline);
}

}  // namespace weft
