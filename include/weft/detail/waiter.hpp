// weft/detail/waiter.hpp: how a fiber or a plain thread blocks in a weft primitive and is woken.
// Internal: used by the templates of the public headers; not part of the API.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include <weft/detail/spinlock.hpp>
#include <weft/detail/thread_annotations.hpp>

namespace weft::detail {

struct fiber;
struct thread_parker;

// What a blocked fiber waits on; shown by deadlock_error and traces.
enum class wait_kind : std::uint8_t {
  none, join, channel_send, channel_recv, event, mutex, condition_variable, wait_group, sleep,
  await, yield, io_read, io_write, select, scope, scope_end, future, latch, barrier, semaphore,
  shared_mutex
};
std::string_view to_string(wait_kind) noexcept;

class waiter_queue;

// One blocked call that can be woken from more than one place: a timed wait is woken by a
// waker or by its timeout, and a fiber's wait also by a stop request. The first to claim the
// token wakes the caller; the others leave it alone, and the caller unlinks whatever it left
// queued once it resumes. A plain thread's lives on its stack, one per call; a fiber's is in
// its control block, reused by each of its waits: its worker opens it once the fiber has
// switched away, and it stays claimed (closed) while the fiber runs.
struct wait_token {
  // Open: claimable by wakers and timeouts. Open to a stop too: also by claim_for_stop.
  static const void* open_to_stop() noexcept { return &markers[0]; }
  // The winner when a stop request won.
  static const void* stopped() noexcept { return &markers[1]; }
  // A fiber's token before its first wait: claimed by nobody, claimable by nobody.
  static const void* closed() noexcept { return &markers[2]; }

  wait_token() noexcept = default;
  explicit wait_token(const void* initial) noexcept : winner(initial) {}

  // Whether `by` may wake the caller: true for the first claimer, and again for it.
  bool claim(const void* by) noexcept {
    const void* seen = winner.load(std::memory_order_acquire);
    while (seen == nullptr || seen == open_to_stop()) {
      if (winner.compare_exchange_weak(seen, by, std::memory_order_acq_rel,
                                       std::memory_order_acquire))
        return true;
    }
    return seen == by;
  }
  // A stop request's claim: succeeds only on a wait open to a stop.
  bool claim_for_stop() noexcept {
    const void* expected = open_to_stop();
    return winner.compare_exchange_strong(expected, stopped(), std::memory_order_acq_rel,
                                          std::memory_order_relaxed);
  }
  bool stopped_by_request() const noexcept {
    return winner.load(std::memory_order_acquire) == stopped();
  }

  std::atomic<const void*> winner{nullptr};  // who woke the caller (null: nobody yet)

 private:
  static constexpr char markers[3] = {};
};

struct timer_slot;

// One blocked caller, a fiber or a plain thread. It lives on the caller's stack while it waits.
struct waiter {
  fiber* blocked_fiber = nullptr;    // set by block(); null for a plain thread
  thread_parker* parker = nullptr;   // set by block() for a plain thread
  waiter* next = nullptr;
  waiter* prev = nullptr;
  waiter_queue* queue = nullptr;     // the queue it is linked into, if any
  spinlock* lock = nullptr;          // the lock guarding that queue (set by block())
  void* data = nullptr;              // per operation: e.g. where a channel value goes
  bool ok = false;                   // per operation: e.g. whether a transfer happened
  wait_token* token = nullptr;       // a fiber's, or a plain thread's timed wait; null: only
                                     // a waker wakes it
  timer_slot* timeout = nullptr;     // a fiber's timed wait (block_timed): its timer, which
                                     // the waker's pop_front takes out and clears
};

class waiter_queue;
// A primitive destroyed while callers wait on it: one line on stderr naming the primitive and
// each waiting fiber (or plain thread), then std::abort(). Waking them instead would resume
// them into a destroyed object.
[[noreturn, gnu::cold]] void abort_destroyed_with_waiters(const waiter_queue& q) noexcept;

// FIFO of waiters, intrusive: no allocation. Guarded by its primitive's spinlock.
class waiter_queue {
 public:
  waiter_queue() noexcept = default;
  waiter_queue(const waiter_queue&) = delete;
  waiter_queue& operator=(const waiter_queue&) = delete;
  ~waiter_queue() {
    if (head_) [[unlikely]] abort_destroyed_with_waiters(*this);
  }
  bool empty() const noexcept { return head_ == nullptr; }
  waiter* front() const noexcept { return head_; }
  void push_back(waiter& w) noexcept;
  // The oldest waiter that the caller may wake (its token, if it has one, claimed for it), or
  // null. Waiters that something else claimed first (a timeout) are unlinked and skipped:
  // their owners unlink nothing more.
  waiter* pop_front() noexcept;
  void remove(waiter& w) noexcept;
  // Appends to `to`, in order, every waiter pop_front() would return, claimed.
  void move_all_to(waiter_queue& to) noexcept;

 private:
  waiter* head_ = nullptr;
  waiter* tail_ = nullptr;
};

// Blocks the calling fiber (suspending only it) or the calling plain thread until wake(w).
// `lock` must be held and `w` already queued where a waker will find it; `lock` is released
// once the caller can be woken safely and is not held on return. Throws (after releasing the
// lock, with `w` unlinked) only in a fiber: fiber_unwind when the executor is being destroyed
// and unwinds it (never for scope_end), operation_cancelled when a stop was requested for it
// and `what` is an interruption point (not mutex, await or scope_end) that is not waited in
// while an exception unwinds the fiber (stop_request.hpp).
void block(waiter& w, spinlock& lock, wait_kind what, const void* object) WEFT_RELEASE(lock);

// As block(), until `deadline` at the latest: false if the deadline passed first, and then `w`
// is no longer queued and nothing was done to it. time_point::max(): no deadline (block()).
bool block_timed(waiter& w, spinlock& lock, wait_kind what, const void* object,
                 std::chrono::steady_clock::time_point deadline) WEFT_RELEASE(lock);
inline bool block_until(waiter& w, spinlock& lock, wait_kind what, const void* object,
                        std::chrono::steady_clock::time_point deadline) WEFT_RELEASE(lock) {
  if (deadline == std::chrono::steady_clock::time_point::max()) {  // folds away where constant
    block(w, lock, what, object);
    return true;
  }
  return block_timed(w, lock, what, object, deadline);
}

// select: blocks the caller on several waiters at once, each already queued in its own
// primitive, until a waker takes one of them or `deadline` passes. `locks` are the primitives'
// distinct locks, all held (each waiter's `lock` names its own); they are released once the
// caller can be woken safely. The waiters share one wait_token, so exactly one of them (or the
// timeout) wins. Returns the winner's index in `ws`, or ws.size() if the deadline passed
// first; every other waiter is unlinked on return. Throws as block().
std::size_t block_any(std::span<waiter> ws, std::span<spinlock* const> locks,
                      std::chrono::steady_clock::time_point deadline) WEFT_NO_THREAD_SAFETY_ANALYSIS;

// Makes a blocked waiter runnable again; `w` must already be unlinked from its queue. Callable
// from any thread, with or without the primitive's lock held. `w` must not be used afterwards.
void wake(waiter& w) noexcept;

// Wakes every waiter of `q` (with the primitive's lock held, or on a queue of waiters
// move_all_to claimed), oldest first.
void wake_all(waiter_queue& q) noexcept;

}  // namespace weft::detail
