// weft/wait_group.hpp: waiting for a counted set of tasks, as Go's sync.WaitGroup.
#pragma once

#include <cstddef>

#include <chrono>

#include <weft/detail/countdown.hpp>
#include <weft/detail/call_awaiter.hpp>
#include <weft/detail/deadline.hpp>
#include <weft/detail/thread_annotations.hpp>
#include <weft/detail/waiter.hpp>

namespace weft {

// A counter: add() before starting work, done() when each piece ends, wait() until it is zero.
// Safe from any fiber or thread.
class wait_group {
 public:
  wait_group() = default;
  wait_group(const wait_group&) = delete;
  wait_group& operator=(const wait_group&) = delete;

  // Adds n (may be negative) to the counter; at zero every waiter wakes. Throws
  // std::logic_error, leaving the counter unchanged, if it would become negative.
  void add(std::ptrdiff_t n = 1);
  void done();   // add(-1)
  void wait();   // suspends the caller until the counter is zero (returns at once if it is)
  // wait's awaitable twin for weft::task (<weft/task.hpp>).
  auto async_wait() {
    return detail::call_awaiter{[this] { wait(); }};
  }
  // As wait, for at most `d` (or until `t`): true if the counter reached zero, false if that
  // passed first.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> d) {
    return count() == 0 || wait_until_deadline(detail::deadline_after(d));  // no clock read
  }
  template <class Clock, class Duration>
  bool wait_until(std::chrono::time_point<Clock, Duration> t) {
    return wait_until_deadline(detail::deadline_at(t));
  }
  std::ptrdiff_t count() const;

 private:
  bool wait_until_deadline(detail::deadline deadline);

  detail::countdown counter_{0};
};

}  // namespace weft
