// weft::barrier's core (include/weft/barrier.hpp).
#include <weft/barrier.hpp>

#include <stdexcept>
#include <string>

namespace weft::detail {

barrier_core::barrier_core(std::ptrdiff_t expected) : expected_(expected), remaining_(expected) {
  if (expected < 0)
    throw std::invalid_argument("weft::barrier: negative expected count " + std::to_string(expected));
}

namespace {
[[noreturn]] void throw_bad_update(std::ptrdiff_t update, std::ptrdiff_t awaited) {
  throw std::logic_error("weft::barrier::arrive: update " + std::to_string(update) +
                         (update > 0 ? " exceeds the " + std::to_string(awaited) +
                                           " arrivals the phase still awaits"
                                     : " is not positive"));
}
}  // namespace

std::uint64_t barrier_core::arrive(std::ptrdiff_t update, bool drop, bool& completes) {
  std::ptrdiff_t awaited;
  {
    spin_guard guard(lock_);
    awaited = remaining_;
    if (update > 0 && update <= remaining_) {
      remaining_ -= update;
      if (drop) --expected_;
      completes = remaining_ == 0;
      return phase_;
    }
  }
  throw_bad_update(update, awaited);
}

bool barrier_core::arrive_and_wait() {
  lock_.lock();
  if (remaining_ < 1) {
    const std::ptrdiff_t awaited = remaining_;
    lock_.unlock();
    throw_bad_update(1, awaited);
  }
  if (--remaining_ == 0) {
    lock_.unlock();
    return true;
  }
  waiter w;
  waiters_.push_back(w);
  block(w, lock_, wait_kind::barrier, this);
  return false;
}

void barrier_core::complete_phase() {
  waiter_queue woken;
  {
    spin_guard guard(lock_);
    remaining_ = expected_;
    ++phase_;
    waiters_.move_all_to(woken);
  }
  wake_all(woken);
}

void barrier_core::wait(std::uint64_t phase) {
  lock_.lock();
  if (phase_ != phase) {
    lock_.unlock();
    return;
  }
  waiter w;
  waiters_.push_back(w);
  block(w, lock_, wait_kind::barrier, this);
}

void throw_foreign_barrier_token() {
  throw std::invalid_argument(
      "weft::barrier::wait: the arrival token is not one of this barrier's, or was used already");
}

}  // namespace weft::detail
