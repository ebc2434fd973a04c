// weft/event.hpp: a manual-reset event.
#pragma once

#include <chrono>

#include <weft/detail/call_awaiter.hpp>
#include <weft/detail/deadline.hpp>
#include <weft/detail/thread_annotations.hpp>
#include <weft/detail/waiter.hpp>

namespace weft {

// A flag that fibers and threads can wait for. set() wakes every waiter and lets later waits
// pass until reset(). Safe from any fiber or thread.
class event {
 public:
  event() = default;
  event(const event&) = delete;
  event& operator=(const event&) = delete;

  void set();              // sets the flag and wakes every waiter
  void reset();            // clears the flag
  bool is_set() const;     // the flag now
  void wait();             // suspends the calling fiber (blocks a thread) until the flag is set
  // wait's awaitable twin for weft::task (<weft/task.hpp>).
  auto async_wait() {
    return detail::call_awaiter{[this] { wait(); }};
  }
  // As wait, for at most `d` (or until `t`): true if the flag was set, false if that passed.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> d) {
    return is_set() || wait_until_deadline(detail::deadline_after(d));  // set: no clock read
  }
  template <class Clock, class Duration>
  bool wait_until(std::chrono::time_point<Clock, Duration> t) {
    return wait_until_deadline(detail::deadline_at(t));
  }

 private:
  bool wait_until_deadline(detail::deadline deadline);

  mutable detail::spinlock lock_;
  bool set_ WEFT_GUARDED_BY(lock_) = false;
  detail::waiter_queue waiters_ WEFT_GUARDED_BY(lock_);
};

}  // namespace weft
