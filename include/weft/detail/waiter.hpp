// weft/detail/waiter.hpp: how a fiber or a plain thread blocks in a weft primitive and is woken.
// Internal: used by the templates of the public headers; not part of the API.
#pragma once

#include <cstdint>
#include <string_view>

#include <weft/detail/spinlock.hpp>
#include <weft/detail/thread_annotations.hpp>

namespace weft::detail {

struct fiber;
struct thread_parker;

// What a blocked fiber waits on; shown by deadlock_error and traces.
enum class wait_kind : std::uint8_t {
  none, join, channel_send, channel_recv, event, mutex, condition_variable, wait_group, sleep,
  await, yield
};
std::string_view to_string(wait_kind) noexcept;

class waiter_queue;

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
};

// FIFO of waiters, intrusive: no allocation. Guarded by its primitive's spinlock.
class waiter_queue {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  waiter* front() const noexcept { return head_; }
  void push_back(waiter& w) noexcept;
  waiter* pop_front() noexcept;   // null when empty
  void remove(waiter& w) noexcept;
  void move_all_to(waiter_queue& to) noexcept;  // appends every waiter to `to`, in order

 private:
  waiter* head_ = nullptr;
  waiter* tail_ = nullptr;
};

// Blocks the calling fiber (suspending only it) or the calling plain thread until wake(w).
// `lock` must be held and `w` already queued where a waker will find it; `lock` is released
// once the caller can be woken safely and is not held on return. Throws (after releasing the
// lock) only when the executor is being destroyed and unwinds the fiber.
void block(waiter& w, spinlock& lock, wait_kind what, const void* object) WEFT_RELEASE(lock);

// Makes a blocked waiter runnable again; `w` must already be unlinked from its queue. Callable
// from any thread, with or without the primitive's lock held. `w` must not be used afterwards.
void wake(waiter& w) noexcept;

// Wakes every waiter of `q` (with the primitive's lock held), oldest first.
void wake_all(waiter_queue& q) noexcept;

}  // namespace weft::detail
