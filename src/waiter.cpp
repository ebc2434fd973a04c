// How every primitive waits (include/weft/detail/waiter.hpp): the intrusive queue of waiters,
// block() and wake(), for fibers and plain threads alike.
#include <weft/detail/waiter.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <weft/this_fiber.hpp>

#include "current.hpp"
#include "executor_core.hpp"
#include "fiber.hpp"
#include "stop_request.hpp"
#include "thread_parker.hpp"
#include "trace_points.hpp"
#include "timer_heap.hpp"
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
    case wait_kind::io_read: return "io read";
    case wait_kind::io_write: return "io write";
    case wait_kind::select: return "select";
    case wait_kind::scope: return "scope";
    case wait_kind::scope_end: return "scope end";
    case wait_kind::future: return "future";
    case wait_kind::latch: return "latch";
    case wait_kind::barrier: return "barrier";
    case wait_kind::semaphore: return "semaphore";
    case wait_kind::shared_mutex: return "shared_mutex";
  }
  return "?";
}

void abort_destroyed_with_waiters(const waiter_queue& q) noexcept {
  std::string_view kind = "a weft primitive";
  const void* object = &q;
  std::string who;
  std::size_t count = 0;
  for (const waiter* w = q.front(); w; w = w->next, ++count) {
    if (count > 0) who += ", ";
    if (const fiber* f = w->blocked_fiber) {
      if (count == 0) {
        kind = to_string(f->waiting_on);
        object = f->wait_object;
      }
      who += "fiber " + std::to_string(f->id) + " \"" + f->name + "\"";
    } else {
      who += "a plain thread";
    }
  }
  std::fprintf(stderr, "weft: %.*s %p destroyed while %zu %s waiting on it: %s\n",
               static_cast<int>(kind.size()), kind.data(), object, count,
               count == 1 ? "caller is" : "callers are", who.c_str());
  std::fflush(stderr);
  std::abort();
}

void waiter_queue::push_back(waiter& w) noexcept {
  w.next = nullptr;
  w.prev = tail_;
  w.queue = this;
  if (tail_) tail_->next = &w;
  else head_ = &w;
  tail_ = &w;
}

namespace {
// pop_front()'s part for a timed wait, returning `w` (a tail call: the untimed pop keeps its
// frameless code).
[[gnu::noinline]] waiter* take_out_timeout(waiter& w) noexcept {
  w.timeout->heap->cancel(*w.timeout);
  w.timeout = nullptr;
  return &w;
}
}  // namespace

waiter* waiter_queue::pop_front() noexcept {
  while (waiter* w = head_) {
    head_ = w->next;
    if (head_) head_->prev = nullptr;
    else tail_ = nullptr;
    w->next = nullptr;
    w->queue = nullptr;
    if (!w->token || w->token->claim(w)) {
      // A fiber's timed wait: its timer goes now, while the fiber cannot run (its slot lives
      // until the wake). The waker's worker then does not find it in its heap (and read the
      // clock for it), and the fiber, seeing w->timeout cleared, has nothing left to cancel.
      if (w->timeout) return take_out_timeout(*w);
      return w;
    }
  }
  return nullptr;
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

namespace {

// The calling fiber's part of block() and block_until(): suspends it until it is woken, with
// `lock` released once its context is saved (and its token opened, and `timeout` armed, before
// that). `stoppable`: an interruption point, which a stop request may end too, unless an
// exception unwinds the fiber (stop_request.hpp). The analysis cannot
// follow the lock into the switch: the worker that resumes next releases it
// (after_switch_actions::unlock).
void suspend_fiber(fiber& self, waiter& w, spinlock& lock, wait_kind what, const void* object,
                   timer_slot* timeout, bool stoppable, std::span<spinlock* const> also = {})
    WEFT_RELEASE(lock) WEFT_NO_THREAD_SAFETY_ANALYSIS {
  w.blocked_fiber = &self;
  self.waiting_on = what;
  self.wait_object = object;
  self.current_waiter = &w;
  worker* current = current_worker();
  after_switch_actions& actions = current->actions();
  actions.blocked = &self;  // its token opened once our context is saved, before:
  actions.stoppable = stoppable;
  actions.arm = timeout;    // armed, before:
  actions.unlock = &lock;   // released
  actions.unlock_also = also;
  current->suspend(self);
  self.waiting_on = wait_kind::none;
  self.wait_object = nullptr;
  self.current_waiter = nullptr;
}

// Whether a wait on `what` is an interruption point. A stop ends it unless an exception
// unwinds the fiber (a destructor that joins or locks must work): the fiber asks
// std::uncaught_exceptions() only once a stop was requested, and its worker reads the count
// the switch saved (worker::run_actions), so that waits pay nothing for it.
constexpr bool interruption_point(wait_kind what) noexcept {
  return what != wait_kind::mutex && what != wait_kind::shared_mutex && what != wait_kind::await &&
         what != wait_kind::scope_end;
}

// Whether a wait on `what` may end by throwing fiber_unwind: not ~scope's (scope_end), which
// waits for its children however its fiber ends.
bool unwinds(const fiber& self, wait_kind what) noexcept {
  return what != wait_kind::scope_end && must_unwind(self);
}

// Whether the fiber must not block: its executor unwinds it, or a stop was requested, the
// wait is an interruption point and no exception unwinds the fiber. Then throw_refusal throws
// fiber_unwind or operation_cancelled.
bool must_refuse(const fiber& self, wait_kind what) noexcept {
  return unwinds(self, what) || (interruption_point(what) && stop_due(self));
}
[[noreturn]] void throw_refusal(const fiber& self, wait_kind what) {
  if (unwinds(self, what)) throw_fiber_unwind();
  throw_cancelled();
}

// block() and block_timed() refusing: out of the queue, the lock released, thrown.
[[gnu::cold, noreturn]] void refuse_to_block(fiber& self, waiter& w, spinlock& lock,
                                            wait_kind what) WEFT_NO_THREAD_SAFETY_ANALYSIS {
  if (w.queue) w.queue->remove(w);
  lock.unlock();
  throw_refusal(self, what);
}
inline void refuse_to_block_if_needed(fiber& self, waiter& w, spinlock& lock, wait_kind what)
    WEFT_REQUIRES(lock) {
  if (must_refuse(self, what)) [[unlikely]] refuse_to_block(self, w, lock, what);
}

// Unlinks `w` if it is still queued (a wait that timed out, or that a stop ended).
void unlink(waiter& w, spinlock& lock) {
  spin_guard guard(lock);
  if (w.queue) w.queue->remove(w);
}

// After a fiber's wait: a stop request that won ends it with operation_cancelled (its waiter,
// still queued, unlinked first), and an unwinding executor with fiber_unwind.
void leave_wait(fiber& self, waiter& w, spinlock& lock, wait_kind what) {
  if (self.token.stopped_by_request()) [[unlikely]] {
    unlink(w, lock);
    throw_cancelled();
  }
  if (unwinds(self, what)) throw_fiber_unwind();
}

}  // namespace

void block(waiter& w, spinlock& lock, wait_kind what, const void* object) {
  w.lock = &lock;
  fiber* self = current_fiber();
  if (!self) {  // a plain thread: sleep on its parker
    thread_parker& parker = this_thread_parker();
    w.parker = &parker;
    parker.park(lock);
    return;
  }
  refuse_to_block_if_needed(*self, w, lock, what);
  w.token = &self->token;
  suspend_fiber(*self, w, lock, what, object, nullptr, interruption_point(what));
  leave_wait(*self, w, lock, what);
}

bool block_timed(waiter& w, spinlock& lock, wait_kind what, const void* object,
                 std::chrono::steady_clock::time_point deadline) {
  // Passed already (deadline_after/deadline_at say so with min(), reading the clock once): do
  // not block at all. A deadline that passed since then arms a timer that fires at once.
  if (deadline == std::chrono::steady_clock::time_point::min()) {
    if (w.queue) w.queue->remove(w);
    lock.unlock();
    return false;
  }
  w.lock = &lock;
  fiber* self = current_fiber();
  if (!self) {  // a plain thread: the thread is its own timer
    wait_token token;
    w.token = &token;
    thread_parker& parker = this_thread_parker();
    w.parker = &parker;
    if (parker.park_until(lock, deadline)) return true;
    if (token.claim(&token)) {  // the timeout wins
      unlink(w, lock);
      return false;
    }
    parker.park();  // a waker claimed us first: its unpark is on its way
    return true;
  }
  refuse_to_block_if_needed(*self, w, lock, what);
  w.token = &self->token;
  timer_slot timeout{deadline, self, &self->token};
  try {
    current_worker()->timers().reserve_one();
  } catch (...) {
    if (w.queue) w.queue->remove(w);
    lock.unlock();
    throw;
  }
  w.timeout = &timeout;  // seen by wakers once the lock is released, after the timer is armed
  suspend_fiber(*self, w, lock, what, object, &timeout, interruption_point(what));
  const void* winner = self->token.winner.load(std::memory_order_acquire);
  // Unlinked under the lock first when the timeout or a stop won: a stop may have woken us
  // before our timer was armed, which the lock orders before us (stop_request.hpp).
  if (winner == &timeout || winner == wait_token::stopped()) unlink(w, lock);
  // Still armed unless it fired or a waker took it out (wake): when a stop or the executor's
  // unwinding woke us.
  if (winner != &timeout && w.timeout) timeout.heap->cancel(timeout);
  w.timeout = nullptr;  // the slot dies here, and `w` may serve another wait
  leave_wait(*self, w, lock, what);
  return winner != &timeout;
}

std::size_t block_any(std::span<waiter> ws, std::span<spinlock* const> locks,
                      std::chrono::steady_clock::time_point deadline) {
  // The analysis cannot follow a span of locks (see block_any's declaration).
  const auto unlock_all = [&]() WEFT_NO_THREAD_SAFETY_ANALYSIS {
    for (spinlock* lock : locks) lock->unlock();
  };
  // Leaves without blocking: every waiter out of its queue, every lock released.
  const auto abandon = [&]() WEFT_NO_THREAD_SAFETY_ANALYSIS {
    for (waiter& w : ws) w.queue->remove(w);
    unlock_all();
  };
  const auto unlink_losers = [&](const void* winner) {
    for (waiter& w : ws)
      if (&w != winner) unlink(w, *w.lock);
  };
  const auto index_of = [&](const void* winner) {
    for (std::size_t i = 0; i < ws.size(); ++i)
      if (&ws[i] == winner) return i;
    return ws.size();  // the timeout
  };
  const bool timed = deadline != std::chrono::steady_clock::time_point::max();
  if (deadline == std::chrono::steady_clock::time_point::min()) {  // passed (see block_timed)
    abandon();
    return ws.size();
  }
  fiber* self = current_fiber();
  if (!self) {  // a plain thread: the thread is its own timer
    wait_token token;
    thread_parker& parker = this_thread_parker();
    for (waiter& w : ws) {
      w.token = &token;
      w.parker = &parker;
    }
    if (!parker.park_until(locks, deadline) && !token.claim(&token))
      parker.park();  // a waker claimed us first: its unpark is on its way
    const void* winner = token.winner.load(std::memory_order_acquire);
    unlink_losers(winner);
    return index_of(winner);
  }
  if (must_refuse(*self, wait_kind::select)) {
    abandon();
    throw_refusal(*self, wait_kind::select);
  }
  timer_slot timeout{deadline, self, &self->token};
  if (timed) {
    try {
      current_worker()->timers().reserve_one();
    } catch (...) {
      abandon();
      throw;
    }
  }
  for (waiter& w : ws) {
    w.blocked_fiber = self;
    w.token = &self->token;
  }
  suspend_fiber(*self, ws[0], *locks[0], wait_kind::select, nullptr, timed ? &timeout : nullptr,
                true, locks.subspan(1));
  const void* winner = self->token.winner.load(std::memory_order_acquire);
  unlink_losers(winner);  // all of them, when a stop request won
  if (timed && winner != &timeout) timeout.heap->cancel(timeout);
  if (winner == wait_token::stopped()) throw_cancelled();
  if (must_unwind(*self)) throw_fiber_unwind();
  return index_of(winner);
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
