// weft::wait_group (include/weft/wait_group.hpp).
#include <weft/wait_group.hpp>

#include <stdexcept>

namespace weft {

void wait_group::add(std::ptrdiff_t n) {
  detail::waiter_queue woken;
  {
    detail::spin_guard guard(lock_);
    if (count_ + n < 0)
      throw std::logic_error("weft::wait_group: done() or add() would make the counter negative");
    count_ += n;
    if (count_ == 0) waiters_.move_all_to(woken);
  }
  detail::wake_all(woken);
}

void wait_group::done() { add(-1); }

void wait_group::wait() { wait_until_deadline(detail::deadline::max()); }

bool wait_group::wait_until_deadline(detail::deadline deadline) {
  lock_.lock();
  if (count_ == 0) {
    lock_.unlock();
    return true;
  }
  detail::waiter w;
  waiters_.push_back(w);
  return detail::block_until(w, lock_, detail::wait_kind::wait_group, this, deadline);
}

std::ptrdiff_t wait_group::count() const {
  detail::spin_guard guard(lock_);
  return count_;
}

}  // namespace weft
