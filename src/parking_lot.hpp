// Where idle workers sleep, and how they are woken: one mutex for every worker's sleep, and a
// spot per worker (its condition variable, whether it is parked, whether a waker signalled
// it). Holding the one mutex, executor_core decides whether a worker parks at all (work
// visible, the end of run(), a deadlock) and whom a waker wakes; see executor_core::park.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <vector>

#include <weft/detail/thread_annotations.hpp>

#include "thread_mutex.hpp"

namespace weft::detail {

class parking_lot {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  explicit parking_lot(std::size_t workers) : spots_(workers) {}

  thread_mutex& mutex() noexcept WEFT_RETURN_CAPABILITY(mutex_) { return mutex_; }

  // Worker `who` is about to decide whether to park: forget an earlier signal.
  void clear_signal(std::size_t who) noexcept WEFT_REQUIRES(mutex_) {
    spots_[who].signalled = false;
  }
  // Parks worker `who` (releasing the mutex meanwhile) until a wake signals it, `stop` is set
  // or `deadline` passes (time_point::max(): none). Returns whether a wake signalled it.
  bool sleep(thread_lock& held, std::size_t who, time_point deadline,
             const std::atomic<bool>& stop) WEFT_REQUIRES(mutex_);
  // Signals worker `who` if it is parked and not signalled yet; whether it did.
  bool wake(std::size_t who) noexcept WEFT_REQUIRES(mutex_);
  // Signals every parked worker.
  void wake_all() noexcept WEFT_REQUIRES(mutex_);
  bool parked(std::size_t who) const noexcept WEFT_REQUIRES(mutex_) { return spots_[who].parked; }

 private:
  struct spot {
    std::condition_variable wakeup;
    bool parked = false;
    bool signalled = false;  // set by a waker; after sleep(), whether one woke the worker
  };
  thread_mutex mutex_;
  std::vector<spot> spots_ WEFT_GUARDED_BY(mutex_);
};

}  // namespace weft::detail
