// Where idle workers sleep (parking_lot.hpp).
#include "parking_lot.hpp"

namespace weft::detail {

bool parking_lot::sleep(thread_lock& held, std::size_t who, time_point deadline,
                        const std::atomic<bool>& stop) {
  spot& s = spots_[who];
  s.parked = true;
  while (!s.signalled && !stop.load(std::memory_order_acquire)) {
    if (deadline == time_point::max()) {
      held.wait(s.wakeup);
    } else if (held.wait_until(s.wakeup, deadline) == std::cv_status::timeout) {
      break;
    }
  }
  s.parked = false;
  return s.signalled;
}

bool parking_lot::wake(std::size_t who) noexcept {
  spot& s = spots_[who];
  if (!s.parked || s.signalled) return false;
  s.signalled = true;
  s.wakeup.notify_one();
  return true;
}

void parking_lot::wake_all() noexcept {
  for (spot& s : spots_)
    if (s.parked) {
      s.signalled = true;
      s.wakeup.notify_one();
    }
}

}  // namespace weft::detail
