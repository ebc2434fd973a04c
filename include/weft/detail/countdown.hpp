// weft/detail/countdown.hpp: a counter that fibers and threads wait to see at zero, shared by
// wait_group and latch. Internal: not part of the API.
#pragma once

#include <cstddef>

#include <weft/detail/deadline.hpp>
#include <weft/detail/thread_annotations.hpp>
#include <weft/detail/waiter.hpp>

namespace weft::detail {

class countdown {
 public:
  explicit countdown(std::ptrdiff_t initial) noexcept : count_(initial) {}
  countdown(const countdown&) = delete;
  countdown& operator=(const countdown&) = delete;

  // Adds n (may be negative); at zero every waiter wakes. If the counter would go below zero,
  // changes nothing and returns false; `was` is the counter before.
  bool add(std::ptrdiff_t n, std::ptrdiff_t& was);
  std::ptrdiff_t count() const;
  // Until the counter is zero, or the deadline: false if that passed first. The wait is shown
  // as `what` on `object`.
  bool wait_until(deadline deadline, wait_kind what, const void* object) const;

 private:
  mutable spinlock lock_;
  std::ptrdiff_t count_ WEFT_GUARDED_BY(lock_);
  mutable waiter_queue waiters_ WEFT_GUARDED_BY(lock_);
};

}  // namespace weft::detail
