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

bool parking_lot::sleep_polling(std::size_t who, time_point deadline,
                                const std::atomic<bool>& stop, reactor& io) {
  spot& s = spots_[who];
  s.parked = true;
  s.polling = true;
  poller_.store(who, std::memory_order_relaxed);
  polled_ = &io;
  if (!s.signalled && !stop.load(std::memory_order_acquire)) {
    mutex_.unlock();  // the poll makes fibers ready, which may take this mutex to wake workers
    io.poll(deadline);
    mutex_.lock();
  }
  polled_ = nullptr;
  poller_.store(nobody, std::memory_order_relaxed);
  s.polling = false;
  s.parked = false;
  return s.signalled;
}

bool parking_lot::signal(spot& s) noexcept {
  if (!s.parked || s.signalled) return false;
  s.signalled = true;
  if (s.polling) polled_->interrupt();
  else s.wakeup.notify_one();
  return true;
}

bool parking_lot::wake(std::size_t who) noexcept { return signal(spots_[who]); }

bool parking_lot::wake_one_sleeper() noexcept {
  for (spot& s : spots_)
    if (!s.polling && signal(s)) return true;
  return false;
}

bool parking_lot::wake_one() noexcept {
  if (wake_one_sleeper()) return true;
  const std::size_t poller = poller_.load(std::memory_order_relaxed);
  return poller != nobody && signal(spots_[poller]);
}

void parking_lot::wake_all() noexcept {
  for (spot& s : spots_)
    if (s.parked) {
      s.signalled = false;
      signal(s);
    }
}

}  // namespace weft::detail
