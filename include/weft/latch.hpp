// weft/latch.hpp: a single-use countdown that fibers and threads wait for (std::latch).
#pragma once

#include <chrono>
#include <cstddef>
#include <limits>

#include <weft/detail/countdown.hpp>
#include <weft/detail/deadline.hpp>
#include <weft/detail/thread_annotations.hpp>
#include <weft/detail/waiter.hpp>

namespace weft {

// As std::latch: count_down() lowers the counter, and every wait returns once it is zero. The
// waits suspend only the calling fiber (a plain thread blocks) and are interruption points.
// Bad input throws instead of being undefined: a negative expected count or update
// (std::invalid_argument), a count_down below zero (std::logic_error, the counter unchanged).
// Destroying a latch that somebody still waits on stops the process with one line.
class latch {
 public:
  static constexpr std::ptrdiff_t max() noexcept { return std::numeric_limits<std::ptrdiff_t>::max(); }

  explicit latch(std::ptrdiff_t expected);
  latch(const latch&) = delete;
  latch& operator=(const latch&) = delete;

  void count_down(std::ptrdiff_t update = 1);  // at zero, wakes every waiter
  bool try_wait() const noexcept { return counter_.count() == 0; }  // whether the counter is zero
  void wait() const;                           // until the counter is zero
  void arrive_and_wait(std::ptrdiff_t update = 1);  // count_down(update), then wait()
  // As wait, for at most `d` (or until `t`): true if the counter reached zero, false if that
  // passed first (not in std::latch).
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> d) const {
    return try_wait() || wait_until_deadline(detail::deadline_after(d));
  }
  template <class Clock, class Duration>
  bool wait_until(std::chrono::time_point<Clock, Duration> t) const {
    return try_wait() || wait_until_deadline(detail::deadline_at(t));
  }

 private:
  bool wait_until_deadline(detail::deadline deadline) const;

  detail::countdown counter_;
};

}  // namespace weft
