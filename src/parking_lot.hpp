// Where idle workers sleep, and how they are woken: one mutex for every worker's sleep, and a
// spot per worker (its condition variable, whether it is parked, whether a waker signalled
// it). Holding the one mutex, executor_core decides whether a worker parks at all (work
// visible, the end of run(), a deadlock) and whom a waker wakes; see executor_core::park.
//
// While fibers wait on file descriptors, one parked worker at a time sleeps in the reactor's
// poll instead of on its condition variable (the poller): readiness wakes it in the kernel,
// and a waker interrupts its poll.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <vector>

#include <weft/detail/thread_annotations.hpp>

#include "reactor.hpp"
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
  // As sleep(), as the poller: in io.poll() (without the mutex), which makes ready on this
  // worker the fibers whose descriptors became ready.
  // The caller's guard of the mutex stays in place; the mutex is let go and taken back inside.
  bool sleep_polling(std::size_t who, time_point deadline, const std::atomic<bool>& stop,
                     reactor& io) WEFT_REQUIRES(mutex_);
  // Whether a worker is the poller now.
  bool polling() const noexcept { return poller_.load(std::memory_order_relaxed) != nobody; }
  // Signals worker `who` if it is parked and not signalled yet; whether it did.
  bool wake(std::size_t who) noexcept WEFT_REQUIRES(mutex_);
  // Signals one parked worker, the poller only if no other is parked; whether it did.
  bool wake_one() noexcept WEFT_REQUIRES(mutex_);
  // Signals one parked worker that is not the poller; whether it did.
  bool wake_one_sleeper() noexcept WEFT_REQUIRES(mutex_);
  // Signals every parked worker.
  void wake_all() noexcept WEFT_REQUIRES(mutex_);
  bool parked(std::size_t who) const noexcept WEFT_REQUIRES(mutex_) { return spots_[who].parked; }

 private:
  struct spot {
    std::condition_variable wakeup;
    bool parked = false;
    bool polling = false;    // parked in the reactor's poll: woken through it
    bool signalled = false;  // set by a waker; after sleep(), whether one woke the worker
  };
  bool signal(spot& s) noexcept WEFT_REQUIRES(mutex_);  // wake()'s act, once it chose `s`
  static constexpr std::size_t nobody = ~std::size_t{0};

  thread_mutex mutex_;
  std::vector<spot> spots_ WEFT_GUARDED_BY(mutex_);
  std::atomic<std::size_t> poller_{nobody};  // written with mutex_ held
  reactor* polled_ WEFT_GUARDED_BY(mutex_) = nullptr;  // the poller's reactor
};

}  // namespace weft::detail
