// weft::detail::countdown (include/weft/detail/countdown.hpp).
#include <weft/detail/countdown.hpp>

namespace weft::detail {

bool countdown::add(std::ptrdiff_t n, std::ptrdiff_t& was) {
  waiter_queue woken;
  {
    spin_guard guard(lock_);
    was = count_;
    if (n < 0 && count_ + n < 0) return false;
    count_ += n;
    if (count_ == 0) waiters_.move_all_to(woken);
  }
  wake_all(woken);
  return true;
}

std::ptrdiff_t countdown::count() const {
  spin_guard guard(lock_);
  return count_;
}

bool countdown::wait_until(deadline deadline, wait_kind what, const void* object) const {
  lock_.lock();
  if (count_ == 0) {
    lock_.unlock();
    return true;
  }
  waiter w;
  waiters_.push_back(w);
  return block_until(w, lock_, what, object, deadline);
}

}  // namespace weft::detail
