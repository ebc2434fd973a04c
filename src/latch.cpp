// weft::latch (include/weft/latch.hpp).
#include <weft/latch.hpp>

#include <stdexcept>
#include <string>

namespace weft {

latch::latch(std::ptrdiff_t expected) : count_(expected) {
  if (expected < 0)
    throw std::invalid_argument("weft::latch: negative expected count " + std::to_string(expected));
}

void latch::count_down(std::ptrdiff_t update) {
  if (update < 0)
    throw std::invalid_argument("weft::latch::count_down: negative update " + std::to_string(update));
  detail::waiter_queue woken;
  std::ptrdiff_t was;
  {
    detail::spin_guard guard(lock_);
    was = count_;
    if (update <= count_) {
      count_ -= update;
      if (count_ == 0) waiters_.move_all_to(woken);
    }
  }
  if (update > was)
    throw std::logic_error("weft::latch::count_down: update " + std::to_string(update) +
                           " exceeds the counter " + std::to_string(was));
  detail::wake_all(woken);
}

bool latch::try_wait() const noexcept {
  detail::spin_guard guard(lock_);
  return count_ == 0;
}

void latch::wait() const { wait_until_deadline(detail::deadline::max()); }

void latch::arrive_and_wait(std::ptrdiff_t update) {
  count_down(update);
  wait();
}

bool latch::wait_until_deadline(detail::deadline deadline) const {
  lock_.lock();
  if (count_ == 0) {
    lock_.unlock();
    return true;
  }
  detail::waiter w;
  waiters_.push_back(w);
  return detail::block_until(w, lock_, detail::wait_kind::latch, this, deadline);
}

}  // namespace weft
