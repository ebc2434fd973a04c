// How every primitive waits (include/weft/detail/waiter.hpp): the intrusive queue of waiters,
// block() and wake(), for fibers and plain threads alike.
#include <weft/detail/waiter.hpp>

#include <weft/this_fiber.hpp>

#include "current.hpp"
#include "executor_core.hpp"
#include "fiber.hpp"
#include "thread_parker.hpp"
#include "trace_points.hpp"
#include "unwinding.hpp"
#include "worker.hpp"

namespace weft::detail {

std::string_view to_string(wait_kind k) noexcept {
  switch (k) {
    case wait_kind::none: return "nothing";
    case wait_kind::join: return "join";
    case wait_kind::channel_send: return "channel send";
    case wait_kind::channel_recv: return "channel recv";
    case wait_kind::event: return "event";
    case wait_kind::mutex: return "mutex";
    case wait_kind::condition_variable: return "condition_variable";
    case wait_kind::wait_group: return "wait_group";
    case wait_kind::sleep: return "sleep";
    case wait_kind::await: return "await";
    case wait_kind::yield: return "yield";
  }
  return "?";
}

void waiter_queue::push_back(waiter& w) noexcept {
  w.next = nullptr;
  w.prev = tail_;
  w.queue = this;
  if (tail_) tail_->next = &w;
  else head_ = &w;
  tail_ = &w;
}

waiter* waiter_queue::pop_front() noexcept {
  waiter* w = head_;
  if (w) remove(*w);
  return w;
}

void waiter_queue::remove(waiter& w) noexcept {
  if (w.prev) w.prev->next = w.next;
  else head_ = w.next;
  if (w.next) w.next->prev = w.prev;
  else tail_ = w.prev;
  w.next = w.prev = nullptr;
  w.queue = nullptr;
}

void waiter_queue::move_all_to(waiter_queue& to) noexcept {
  while (waiter* w = pop_front()) to.push_back(*w);
}

// The analysis cannot follow the lock into the switch: the worker that resumes next releases
// it (after_switch_actions::unlock), once our context is saved.
void block(waiter& w, spinlock& lock, wait_kind what, const void* object)
    WEFT_NO_THREAD_SAFETY_ANALYSIS {
  w.lock = &lock;
  fiber* self = current_fiber();
  if (!self) {  // a plain thread: sleep on its parker
    thread_parker& parker = this_thread_parker();
    w.parker = &parker;
    parker.park(lock);
    return;
  }
  if (must_unwind(*self)) {
    if (w.queue) w.queue->remove(w);
    lock.unlock();
    throw_fiber_unwind();
  }
  w.blocked_fiber = self;
  self->waiting_on = what;
  self->wait_object = object;
  self->current_waiter = &w;
  WEFT_TRACE_EVENT(trace::event_kind::block, self, to_string(what));
  worker* current = current_worker();
  current->actions().unlock = &lock;  // released once our context is saved
  current->suspend(*self);
  self->waiting_on = wait_kind::none;
  self->wait_object = nullptr;
  self->current_waiter = nullptr;
  if (must_unwind(*self)) throw_fiber_unwind();
}

void wake(waiter& w) noexcept {
  fiber* f = w.blocked_fiber;
  thread_parker* parker = w.parker;
  // From here on `w` may be gone: its owner can resume at any moment.
  if (f) {
    WEFT_TRACE_EVENT(trace::event_kind::wake, f, {}, this_fiber::id());
    f->owner->schedule(f);
  }
  else parker->unpark();
}

void wake_all(waiter_queue& q) noexcept {
  while (waiter* w = q.pop_front()) wake(*w);
}

}  // namespace weft::detail
