// weft/event.hpp: a manual-reset event.
#pragma once

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

 private:
  mutable detail::spinlock lock_;
  bool set_ WEFT_GUARDED_BY(lock_) = false;
  detail::waiter_queue waiters_ WEFT_GUARDED_BY(lock_);
};

}  // namespace weft
