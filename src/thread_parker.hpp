// Plain threads in weft: how a thread that is not running a fiber blocks in a primitive, and
// what the deadlock check counts of plain threads (blocked ones, and holds: a thread that may
// wake fibers later without being blocked in weft now).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <span>

#include <weft/detail/spinlock.hpp>
#include <weft/detail/thread_annotations.hpp>

#include "thread_mutex.hpp"

namespace weft::detail {

// A plain thread's way to sleep until woken; one per thread, as a thread waits on one thing.
// It also counts the thread's holds (plain_thread_holds()).
struct thread_parker {
  // Releases `lock` and sleeps until unpark(), counted as a thread blocked in weft meanwhile.
  void park(spinlock& lock) WEFT_RELEASE(lock);
  // As park(), until `deadline` at the latest: false if it passed first (no unpark consumed).
  bool park_until(spinlock& lock, std::chrono::steady_clock::time_point deadline)
      WEFT_RELEASE(lock);
  // As park_until(), releasing every lock of `locks` (select's).
  bool park_until(std::span<spinlock* const> locks,
                  std::chrono::steady_clock::time_point deadline) WEFT_NO_THREAD_SAFETY_ANALYSIS;
  // Sleeps until unpark() (one already on its way: the thread holds no lock).
  void park() { park_until_notified(std::chrono::steady_clock::time_point::max()); }
  void unpark() noexcept;

  std::atomic<std::size_t> holds{0};

 private:
  bool park_until_notified(std::chrono::steady_clock::time_point deadline);
  thread_mutex mutex_;
  std::condition_variable wakeup_;
  bool notified_ WEFT_GUARDED_BY(mutex_) = false;
};

// A count of calls into weft by threads that are not running fibers of the executor they touch
// (holds taken, blocking, waking a fiber from outside), process-wide and only ever rising: the
// deadlock check's grace period starts over when it moves.
std::uint64_t calls_from_outside() noexcept;
void note_call_from_outside() noexcept;

// The calling thread's parker (every thread has one, fibers' threads included).
thread_parker& this_thread_parker() noexcept;

// Number of plain threads blocked inside weft calls, process-wide.
std::size_t threads_blocked_in_weft() noexcept;

// Holds of plain threads that may wake fibers without being blocked in weft: a weft::mutex
// owned by a plain thread (its unlock() wakes the next waiter), a plain thread inside
// condition_variable::wait or spawn. Counted process-wide and per thread; the deadlock check
// waits while any is held, except those of the thread running the executor (`except`), which
// cannot release them while it runs fibers. add_plain_thread_hold() must come before, and
// drop_plain_thread_hold() after, the wakes a hold stands for, so the count never reads zero
// while a fiber is about to become ready.
std::size_t plain_thread_holds(const thread_parker* except) noexcept;
void add_plain_thread_hold(thread_parker& holder) noexcept;
thread_parker& add_hold_of_this_thread() noexcept;  // the calling thread's; returns its parker
void drop_plain_thread_hold(thread_parker& holder) noexcept;
// A plain thread: counts a hold of it and returns its parker. A fiber: null, nothing counted.
thread_parker* hold_if_plain_thread() noexcept;

// Counts the calling plain thread's stay in a call as a hold; nothing for a fiber.
class plain_thread_hold {
 public:
  plain_thread_hold() noexcept : holder_(hold_if_plain_thread()) {}
  plain_thread_hold(const plain_thread_hold&) = delete;
  plain_thread_hold& operator=(const plain_thread_hold&) = delete;
  ~plain_thread_hold() {
    if (holder_) drop_plain_thread_hold(*holder_);
  }

 private:
  thread_parker* holder_;
};

}  // namespace weft::detail
