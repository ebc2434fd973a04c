// Plain threads in weft (thread_parker.hpp).
#include "thread_parker.hpp"

#include "current.hpp"

namespace weft::detail {
namespace {
std::atomic<std::size_t> blocked_threads{0};
std::atomic<std::size_t> held_by_threads{0};
std::atomic<std::uint64_t> outside_calls{0};
}  // namespace

std::uint64_t calls_from_outside() noexcept {
  return outside_calls.load(std::memory_order_relaxed);
}
void note_call_from_outside() noexcept { outside_calls.fetch_add(1, std::memory_order_relaxed); }

void thread_parker::park(spinlock& lock) {
  park_until(lock, std::chrono::steady_clock::time_point::max());
}

bool thread_parker::park_until(spinlock& lock, std::chrono::steady_clock::time_point deadline)
    WEFT_NO_THREAD_SAFETY_ANALYSIS {
  spinlock* const locks[] = {&lock};
  return park_until(locks, deadline);
}

bool thread_parker::park_until(std::span<spinlock* const> locks,
                               std::chrono::steady_clock::time_point deadline) {
  blocked_threads.fetch_add(1);
  note_call_from_outside();
  for (spinlock* lock : locks) lock->unlock();
  const bool notified = park_until_notified(deadline);
  blocked_threads.fetch_sub(1);
  return notified;
}

bool thread_parker::park_until_notified(std::chrono::steady_clock::time_point deadline) {
  thread_lock guard(mutex_);
  while (!notified_) {
    if (deadline == std::chrono::steady_clock::time_point::max()) {
      guard.wait(wakeup_);
    } else if (guard.wait_until(wakeup_, deadline) == std::cv_status::timeout) {
      if (!notified_) return false;
    }
  }
  notified_ = false;
  return true;
}

void thread_parker::unpark() noexcept {
  thread_lock guard(mutex_);
  notified_ = true;
  wakeup_.notify_one();
}

thread_parker& this_thread_parker() noexcept {
  thread_local thread_parker parker;
  return parker;
}

std::size_t threads_blocked_in_weft() noexcept { return blocked_threads.load(); }

std::size_t plain_thread_holds(const thread_parker* except) noexcept {
  const std::size_t own = except ? except->holds.load() : 0;
  const std::size_t all = held_by_threads.load();
  return all > own ? all - own : 0;
}

void add_plain_thread_hold(thread_parker& holder) noexcept {
  holder.holds.fetch_add(1);
  held_by_threads.fetch_add(1);
  note_call_from_outside();
}

thread_parker& add_hold_of_this_thread() noexcept {
  thread_parker& me = this_thread_parker();
  add_plain_thread_hold(me);
  return me;
}

void drop_plain_thread_hold(thread_parker& holder) noexcept {
  held_by_threads.fetch_sub(1);
  holder.holds.fetch_sub(1);
}

thread_parker* hold_if_plain_thread() noexcept {
  return current_fiber() ? nullptr : &add_hold_of_this_thread();
}

}  // namespace weft::detail
