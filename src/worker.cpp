// The scheduler of one worker: run queue, timers, and the switches between fibers.
#include <algorithm>
#include <functional>

#include "context/switch.hpp"
#include "executor_core.hpp"
#include "overflow_handler.hpp"
#include "trace_points.hpp"

namespace weft::detail {

void ready_queue::push_back(fiber* f) noexcept {
  f->next_ready = nullptr;
  if (tail_) tail_->next_ready = f;
  else head_ = f;
  tail_ = f;
}

void ready_queue::push_front(fiber* f) noexcept {
  f->next_ready = head_;
  head_ = f;
  if (!tail_) tail_ = f;
}

fiber* ready_queue::pop_front() noexcept {
  fiber* f = head_;
  if (f) {
    head_ = f->next_ready;
    if (!head_) tail_ = nullptr;
  }
  return f;
}

void ready_queue::append(ready_queue& other) noexcept {
  if (other.empty()) return;
  if (tail_) tail_->next_ready = other.head_;
  else head_ = other.head_;
  tail_ = other.tail_;
  other.head_ = other.tail_ = nullptr;
}

void worker::add_timer(fiber* f, std::chrono::steady_clock::time_point deadline) {
  timers_.push_back(timer_entry{deadline, timer_seq_++, f});
  std::push_heap(timers_.begin(), timers_.end(), std::greater<>{});
}

void worker::collect_due_timers() noexcept {
  const auto now = std::chrono::steady_clock::now();
  while (!timers_.empty() && timers_.front().deadline <= now) {
    std::pop_heap(timers_.begin(), timers_.end(), std::greater<>{});
    fiber* f = timers_.back().sleeper;
    timers_.pop_back();
    f->waiting_on = wait_kind::none;
    WEFT_TRACE_EVENT(trace::event_kind::wake, f, "timer");
    ready_.push_back(f);
  }
}

void worker::clear_timers_into_ready() noexcept {
  for (timer_entry& t : timers_) ready_.push_back(t.sleeper);
  timers_.clear();
}

fiber* worker::next_ready() noexcept {
  core_.take_remote(ready_);
  if (!timers_.empty()) collect_due_timers();
  return ready_.pop_front();
}

void worker::after_switch() noexcept {
  after_switch_actions a = actions_;
  actions_ = {};
  if (a.unlock) a.unlock->unlock();
  if (a.requeue) {
    if (a.requeue_front) ready_.push_front(a.requeue);
    else ready_.push_back(a.requeue);
  }
  if (a.finished) {
    fiber* f = a.finished;
    if (f->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      executor_core* core = f->owner;
      stack_span region = f->region;
      bool guarded = f->guarded;
      f->destroy(f);
      core->free_region(region, guarded);
    }
  }
}

void worker::switch_to(fiber& self, fiber* next) noexcept {
  // Whoever switches to a fiber first makes it the thread's current one, so nothing needs
  // setting once we are resumed.
  set_current(this, next);
  switch_inline(self.ctx, next ? next->ctx : loop_context_);
  after_switch();
  WEFT_TRACE_EVENT(trace::event_kind::resume, &self);
}

void worker::suspend(fiber& self) noexcept {
  fiber* next = next_ready();
  if (next == &self) {
    // A sleep whose deadline passed before anything else became ready: its own timer made
    // it the next fiber. Switching to ourselves would resume a stale saved context; just do
    // what the resumed side would have done and carry on.
    after_switch();
    return;
  }
  switch_to(self, next);
}

void worker::yield(fiber& self) noexcept {
  fiber* next = next_ready();
  if (!next) return;
  WEFT_TRACE_EVENT(trace::event_kind::yield, &self);
  actions_.requeue = &self;
  actions_.requeue_front = false;
  switch_to(self, next);
}

void worker::start_now(fiber& self, fiber& child) noexcept {
  actions_.requeue = &self;
  actions_.requeue_front = true;
  switch_to(self, &child);
}

void worker::exit(fiber& self) noexcept {
  actions_.finished = &self;
  fiber* next = next_ready();
  set_current(this, next);
  switch_final_inline(self.ctx, next ? next->ctx : loop_context_);
}

void worker::run_loop(fiber* until) {
  ensure_signal_stack();  // stack overflow reports need an alternate signal stack
  struct restore_current {
    ~restore_current() { set_current(nullptr, nullptr); }
  } restore;
  for (;;) {
    set_current(this, nullptr);
    if (until ? until->finished.load(std::memory_order_acquire) : core_.live() == 0) return;
    if (fiber* next = next_ready()) {
      set_current(this, next);
      switch_inline(loop_context_, next->ctx);
      set_current(this, nullptr);
      after_switch();
      continue;
    }
    if (!wait_for_work()) throw deadlock_error(core_.describe_blocked());
  }
}

bool worker::wait_for_work() {
  const bool have_timers = !timers_.empty();
  return core_.park(have_timers, have_timers ? timers_.front().deadline
                                             : std::chrono::steady_clock::time_point::max());
}

}  // namespace weft::detail
