// event, mutex, condition_variable and wait_group.
#include <weft/sync.hpp>

#include <stdexcept>

#include "executor_core.hpp"

namespace weft {

using detail::waiter;
using detail::waiter_queue;
using detail::wait_kind;

namespace {
// A plain thread: counts a hold of it for the deadlock check and returns it as the holder.
// A fiber: null, nothing counted.
detail::thread_parker* hold_if_plain_thread() noexcept {
  return detail::current_fiber() ? nullptr : &detail::add_hold_of_this_thread();
}

// Counts the calling plain thread's stay in a call as a hold; nothing for a fiber.
class plain_thread_hold {
 public:
  plain_thread_hold() noexcept : holder_(hold_if_plain_thread()) {}
  plain_thread_hold(const plain_thread_hold&) = delete;
  plain_thread_hold& operator=(const plain_thread_hold&) = delete;
  ~plain_thread_hold() {
    if (holder_) detail::drop_plain_thread_hold(*holder_);
  }

 private:
  detail::thread_parker* holder_;
};
}  // namespace

void event::set() {
  waiter_queue woken;
  {
    std::lock_guard guard(lock_);
    set_ = true;
    waiters_.move_all_to(woken);
  }
  detail::wake_all(woken);
}

void event::reset() {
  std::lock_guard guard(lock_);
  set_ = false;
}

bool event::is_set() const {
  std::lock_guard guard(lock_);
  return set_;
}

void event::wait() {
  lock_.lock();
  if (set_) {
    lock_.unlock();
    return;
  }
  waiter w;
  waiters_.push_back(w);
  detail::block(w, lock_, wait_kind::event, this);
}

void mutex::lock() {
  lock_.lock();
  if (!locked_) {
    locked_ = true;
    holder_ = hold_if_plain_thread();
    lock_.unlock();
    return;
  }
  waiter w;
  waiters_.push_back(w);
  detail::block(w, lock_, wait_kind::mutex, this);  // unlock() hands us ownership
}

bool mutex::try_lock() {
  std::lock_guard guard(lock_);
  if (locked_) return false;
  locked_ = true;
  holder_ = hold_if_plain_thread();
  return true;
}

void mutex::unlock() {
  lock_.lock();
  if (!locked_) {
    lock_.unlock();
    throw std::logic_error("weft::mutex::unlock: the mutex is not locked");
  }
  waiter* next = waiters_.pop_front();
  if (!next) locked_ = false;  // else ownership passes to `next`, locked_ stays true
  // A plain thread's hold passes with the ownership (a blocked thread's waiter names its
  // parker); the new one is taken before, the old one dropped after the wake.
  detail::thread_parker* const old_holder = holder_;
  holder_ = next ? next->parker : nullptr;
  if (holder_) detail::add_plain_thread_hold(*holder_);
  lock_.unlock();
  if (next) detail::wake(*next);
  if (old_holder) detail::drop_plain_thread_hold(*old_holder);
}

void condition_variable::wait(std::unique_lock<mutex>& lock) {
  if (!lock.owns_lock())
    throw std::logic_error("weft::condition_variable::wait: the unique_lock does not own its mutex");
  // A plain thread is counted throughout, also between releasing the mutex and blocking.
  const plain_thread_hold inside;
  waiter w;
  lock_.lock();
  waiters_.push_back(w);
  lock.unlock();  // after queueing, so a notify in between is not lost
  try {
    detail::block(w, lock_, wait_kind::condition_variable, this);
  } catch (...) {
    lock.lock();
    throw;
  }
  lock.lock();
}

void condition_variable::notify_one() {
  lock_.lock();
  waiter* w = waiters_.pop_front();
  lock_.unlock();
  if (w) detail::wake(*w);
}

void condition_variable::notify_all() {
  waiter_queue woken;
  {
    std::lock_guard guard(lock_);
    waiters_.move_all_to(woken);
  }
  detail::wake_all(woken);
}

void wait_group::add(std::ptrdiff_t n) {
  waiter_queue woken;
  {
    std::lock_guard guard(lock_);
    if (count_ + n < 0)
      throw std::logic_error("weft::wait_group: done() or add() would make the counter negative");
    count_ += n;
    if (count_ == 0) waiters_.move_all_to(woken);
  }
  detail::wake_all(woken);
}

void wait_group::done() { add(-1); }

void wait_group::wait() {
  lock_.lock();
  if (count_ == 0) {
    lock_.unlock();
    return;
  }
  waiter w;
  waiters_.push_back(w);
  detail::block(w, lock_, wait_kind::wait_group, this);
}

std::ptrdiff_t wait_group::count() const {
  std::lock_guard guard(lock_);
  return count_;
}

}  // namespace weft
