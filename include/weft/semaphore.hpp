// weft/semaphore.hpp: counting and binary semaphores for fibers and threads (std's).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include <weft/detail/deadline.hpp>
#include <weft/detail/thread_annotations.hpp>
#include <weft/detail/waiter.hpp>

namespace weft {
namespace detail {

// The part of counting_semaphore that does not depend on Max.
class semaphore_core {
 public:
  semaphore_core(std::ptrdiff_t desired, std::ptrdiff_t max);
  void release(std::ptrdiff_t update, std::ptrdiff_t max);
  bool try_acquire() noexcept;
  bool acquire_until(deadline deadline);  // time_point::max(): no deadline

 private:
  spinlock lock_;
  std::ptrdiff_t count_ WEFT_GUARDED_BY(lock_);
  waiter_queue waiters_ WEFT_GUARDED_BY(lock_);  // only while count_ is zero
};

}  // namespace detail

// As std::counting_semaphore: acquire() takes a unit, waiting while there is none, and
// release(n) returns n. The waits suspend only the calling fiber (a plain thread blocks) and
// are interruption points. Waiters are served in FIFO order: release() hands its units to the
// oldest waiters directly, so a late try_acquire() cannot take them first. Bad input throws
// instead of being undefined: a negative or too large desired count or update
// (std::invalid_argument: the counter would leave [0, max()]; nothing changes). Destroying a
// semaphore that somebody still waits on stops the process with one line.
template <std::ptrdiff_t Max = PTRDIFF_MAX>
class counting_semaphore {
  static_assert(Max >= 0, "weft::counting_semaphore: negative Max");

 public:
  static constexpr std::ptrdiff_t max() noexcept { return Max; }

  explicit counting_semaphore(std::ptrdiff_t desired) : core_(desired, Max) {}
  counting_semaphore(const counting_semaphore&) = delete;
  counting_semaphore& operator=(const counting_semaphore&) = delete;

  void release(std::ptrdiff_t update = 1) { core_.release(update, Max); }
  void acquire() { core_.acquire_until(detail::deadline::max()); }
  bool try_acquire() noexcept { return core_.try_acquire(); }
  // As acquire, for at most `d` (or until `t`): true if a unit was taken, false if that passed.
  template <class Rep, class Period>
  bool try_acquire_for(std::chrono::duration<Rep, Period> d) {
    return core_.try_acquire() || core_.acquire_until(detail::deadline_after(d));
  }
  template <class Clock, class Duration>
  bool try_acquire_until(std::chrono::time_point<Clock, Duration> t) {
    return core_.try_acquire() || core_.acquire_until(detail::deadline_at(t));
  }

 private:
  detail::semaphore_core core_;
};

using binary_semaphore = counting_semaphore<1>;

}  // namespace weft
