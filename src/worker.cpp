// One worker of the work-stealing scheduler (worker.hpp): its queues and timers, the switches
// between fibers, stealing, and its run loop.
#include "worker.hpp"

#include <utility>

#include "context/switch.hpp"
#include "executor_core.hpp"
#include "fiber_end.hpp"
#include "overflow_handler.hpp"
#include "spin.hpp"
#include "stop_request.hpp"
#include "tick_counter.hpp"
#include "trace_points.hpp"
#include "unwinding.hpp"

namespace weft::detail {

worker::worker(executor_core& core, std::uint32_t index, bool alone)
    : core_(core),
      index_(index),
      alone_(alone),
      continuations_(core.continuation_thieves),
      steal_licence_(core.continuation_thieves) {}

// Its region cache is empty by now: cached regions hold references to the core, so the core
// (and this worker) is destroyed only after executor_core::drain_region_caches.
worker::~worker() = default;

// ---- timers ------------------------------------------------------------------------------

void worker::collect_due_timers() noexcept {
  const std::uint64_t ticks = tick_counter::read();  // before the clock (nothing_due_at)
  if (!timers_.may_be_due(ticks)) return;
  const auto now = std::chrono::steady_clock::now();
  if (timers_.earliest() > now) {
    timers_.nothing_due_at(ticks, now);
    return;
  }
  while (fiber* f = timers_.fire_due(now)) {
    WEFT_TRACE_EVENT(trace::event_kind::wake, f, "timer");
    make_ready(f);
  }
}

void worker::rescue_overdue_timers() noexcept {
  auto earliest = std::chrono::steady_clock::time_point::max();
  for (std::size_t i = 0; i < core_.worker_count(); ++i)
    if (i != index_) earliest = std::min(earliest, core_.worker_at(i).timers_.earliest());
  if (earliest == std::chrono::steady_clock::time_point::max()) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - earliest <= stall_bound) return;
  for (std::size_t i = 0; i < core_.worker_count(); ++i) {
    worker& owner = core_.worker_at(i);
    if (&owner == this || now - owner.timers_.earliest() <= stall_bound) continue;
    while (fiber* f = owner.timers_.fire_due(now)) {
      WEFT_TRACE_EVENT(trace::event_kind::wake, f, "timer");
      make_ready(f);
    }
  }
}

void worker::release_sleepers() noexcept {
  // A sleeper that is already unwinding (sleeping in a destructor) keeps its deadline: it
  // will not be thrown into, and must not wake early. A timed wait that something else woke
  // already (unwind_all, through its waiter) is only taken out.
  timers_.release_if([this](timer_slot& slot) {
    if (blocked_while_unwinding(*slot.sleeper)) return false;
    if (!slot.token || slot.token->claim(&slot)) core_.inject(slot.sleeper);
    return true;
  });
}

// ---- queues ------------------------------------------------------------------------------

void worker::make_ready(fiber* f) noexcept {
  if (f->pinned && f->pinned != this) {
    f->pinned->push_inbox(f);
    return;
  }
  if (!fifo_.push(f)) {  // full: overflow to the executor's shared queue
    core_.inject(f);
    return;
  }
  if (!alone_) core_.notify_one_idle();
}

void worker::push_inbox(fiber* f) noexcept {
  inbox_.push(f);
  core_.notify_worker(*this);
}

fiber* worker::steal(deque_thief& thief) noexcept {
  // Registering as a thief costs a heavy barrier: only for a deque with something to take.
  // A deque's only fiber is the newest continuation of the fiber running there, which its
  // worker takes back as soon as the child it spawned ends, often within a microsecond;
  // stealing it then only moves the spawner to another thread, back and forth. So the thief
  // (idle anyway) first waits a little for it to go (Go's scheduler likewise waits ~3 us
  // before it steals a P's runnext).
  const fiber_deque::glimpse seen = continuations_.look();
  if (seen.size > 1 || (seen.size == 1 && continuations_.keeps_only_fiber(seen, only_fiber_grace)))
    if (fiber* f = continuations_.steal(thief)) return f;
  return fifo_.pop();
}

fiber* worker::steal_from_others() noexcept {
  const std::size_t n = core_.worker_count();
  const std::size_t start = next_random() % n;
  for (std::size_t k = 0; k < n; ++k) {
    worker& victim = core_.worker_at((start + k) % n);
    if (&victim == this) continue;
    while (fiber* f = victim.steal(steal_licence_)) {
      if (f->pinned && f->pinned != this) {
        f->pinned->push_inbox(f);  // not ours to run: send it home
        continue;
      }
      WEFT_TRACE_EVENT(trace::event_kind::steal, f, {}, victim.index() + 1);
      return f;
    }
  }
  return nullptr;
}

fiber* worker::take_external() noexcept {
  if (fiber* f = inbox_.pop()) return f;
  return core_.take_injected();
}

fiber* worker::find_work(bool no_lock_held) noexcept {
  if (fiber* f = take_external()) return f;
  if (no_lock_held && core_.poll_io_now(fifo_.room()))  // what became ready is ours now
    if (fiber* f = pop_fifo()) return f;
  if (alone_) return nullptr;
  rescue_overdue_timers();
  if (fiber* f = fifo_.pop()) return f;
  return steal_from_others();
}

fiber* worker::next_ready(bool no_lock_held) noexcept {
  // Now and then look outside first, so injected and pinned fibers cannot starve behind
  // fibers that keep yielding to each other. Not stealing: a thief takes the oldest fiber of
  // another worker, typically one that spawns a whole new subtree of work, so stealing while
  // we have work of our own only multiplies the fibers alive at once.
  if (--external_countdown_ == 0) {
    external_countdown_ = external_period;
    steal_licence_.expire_unused(steal_licence_expiry);
    if (no_lock_held) poll_io_now_and_then();
    core_.end_run_if_past_deadline();
    if (fiber* f = take_external()) return f;
    // Due timers and the FIFO too, before the continuations: a fiber that only spawns and
    // joins would otherwise run on and on (its children end into it, see reclaim_spawner).
    if (fiber* f = take_due_or_queued()) return f;
  }
  if (fiber* f = take_continuation()) return f;
  if (fiber* f = take_due_or_queued()) return f;
  return find_work(no_lock_held);
}

void worker::poll_io_now_and_then() noexcept {
  const reactor* io = core_.io_if_made();
  if (!io || io->waiting() == 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (now < next_busy_io_poll_) return;
  next_busy_io_poll_ = now + busy_io_poll_period;
  core_.poll_io_now(fifo_.room());
}

void worker::absorb_external() noexcept {
  // Fibers made ready outside the workers count as ready too: bring them into our queue first.
  while (fiber* f = inbox_.pop()) {
    if (!fifo_.push(f)) {
      push_inbox(f);
      return;
    }
  }
  while (fiber* f = core_.take_injected()) {
    if (!fifo_.push(f)) {
      core_.inject(f);
      return;
    }
  }
}

void worker::push_shared_continuation(fiber* spawner) {
  continuations_.push(spawner);
  core_.notify_for_continuation(continuations_);
}

void worker::push_continuation(fiber* spawner) {
  if (alone_) {
    continuations_.push_unshared(spawner);
    return;
  }
  push_shared_continuation(spawner);
}

inline fiber* worker::reclaim_spawner(fiber& f) noexcept {
  // live_in is set at a fiber's first suspension (switch_to), so a fiber not on a list has run
  // on this worker since its start, and pushed nothing here that it has not taken back: the
  // bottom of the deque is its spawner unless a thief took it (thieves take the oldest first,
  // so then the deque is empty). A pick like any other: now and then next_ready must look
  // outside instead (see there).
  if (f.live_in || !f.started_by || f.unwind_requested || core_.should_stop()) return nullptr;
  if (external_countdown_ <= 1) return nullptr;
  --external_countdown_;
  fiber* c = take_continuation();
  if (c == f.started_by) return c;
  if (c) push_continuation(c);  // not expected (see above); put it back
  return nullptr;
}

// ---- switches ----------------------------------------------------------------------------

namespace {
// An action out of its slot, which is cleared before the action is carried out (freeing a
// fiber runs its callable's destructor), and written only if it was set: most switches
// leave one action or none.
template <class T>
T* take_action(T*& slot) noexcept {
  T* action = slot;
  if (action) slot = nullptr;
  return action;
}
}  // namespace

// The analysis cannot see the lock it releases: block() took it, in the fiber that switched
// away.
void worker::run_actions() noexcept WEFT_NO_THREAD_SAFETY_ANALYSIS {
  // A waiting fiber's token opens first (a timer may claim it once armed). Its stop is looked at
  // before the timer is armed and the lock released: until then nothing but a stop request can
  // wake it, and it cannot leave its wait before it takes that lock (stop_request.hpp).
  fiber* stopped = nullptr;
  if (fiber* blocked = take_action(actions_.blocked)) {
    const bool stoppable = std::exchange(actions_.stoppable, false) && blocked->eh.uncaught == 0;
    // Release: a stop request claims it without taking the lock below, and must see the
    // fiber's saved context through it.
    blocked->token.winner.store(stoppable ? wait_token::open_to_stop() : nullptr,
                                std::memory_order_release);
    if (stoppable && claim_if_stop_requested(*blocked)) stopped = blocked;
  }
  if (timer_slot* slot = take_action(actions_.arm)) timers_.arm(*slot);
  if (spinlock* lock = take_action(actions_.unlock)) {
    lock->unlock();
    if (!actions_.unlock_also.empty()) [[unlikely]] {
      for (spinlock* other : std::exchange(actions_.unlock_also, {})) other->unlock();
    }
  }
  if (stopped) [[unlikely]] stopped->owner->schedule(stopped);  // ours alone to wake
  if (fiber* yielded = take_action(actions_.yielded)) make_ready(yielded);
  if (fiber* finished = take_action(actions_.finished)) switched_off_for_good(*finished, this);
}

inline void worker::switch_inline_to(fiber& self, fiber* next) noexcept {
  // Whoever switches to a fiber makes it the thread's current one, so nothing needs setting
  // once we are resumed, possibly by another worker on another thread.
  save_eh_state(self.eh, thread_eh_);
  leave_fp_env(self);  // the scheduler's switch does not hand it over (fp_env.hpp)
  set_current(this, next);
  switch_inline<&context_backend_type::jump_balanced>(self.ctx, next ? next->ctx : loop_context_);
  worker* now = self.resumed_by;  // maybe another thread's
  load_eh_state(self.eh, now->thread_eh_);
  if (self.own_fp_env) [[unlikely]] self.fp.make_current();
  now->after_switch();
  WEFT_TRACE_RESUME(self);
}

// Not inlined: every fiber suspends at this one call site of the switch (see jump_balanced),
// except for a lone worker's yields (see yield).
__attribute__((noinline)) void worker::switch_to(fiber& self, fiber* next) noexcept {
  if (!self.live_in) live_.add(&self);  // its first suspension
  switch_inline_to(self, next);
}

void worker::suspend(fiber& self) noexcept {
  fiber* next = core_.should_stop() ? nullptr : next_ready(false);
  WEFT_TRACE_SWITCH(self, next);  // a block or sleep (self.waiting_on)
  switch_to(self, next);
}

inline bool worker::lone_yield_applies(const fiber& self) const noexcept {
  return alone_ && self.live_in && external_countdown_ > 1 && timers_.empty() &&
         continuations_.looks_empty_unshared() && inbox_.looks_empty() && !core_.has_injected() &&
         !core_.should_stop();
}

void worker::yield(fiber& self) noexcept {
  if (lone_yield_applies(self)) [[likely]] {
    // The usual yield of a lone worker, all of it here: nobody else takes from our queues, so
    // we go to the back of the FIFO before the switch instead of after it (no action), and
    // nothing needs looking at but the FIFO (next_ready's other sources are empty, and its
    // turn to look outside has not come).
    fiber* next = fifo_.pop_unshared();
    if (!next) return;  // nothing else is ready
    fifo_.push_after_pop_unshared(&self);
    --external_countdown_;
    WEFT_TRACE_SWITCH(self, next);
    switch_inline_to(self, next);
    return;
  }
  if (!inbox_.looks_empty() || core_.has_injected()) absorb_external();
  fiber* next = core_.should_stop() ? nullptr : next_ready(true);
  if (!next && !core_.should_stop()) return;
  WEFT_TRACE_SWITCH(self, next);
  actions_.yielded = &self;
  switch_to(self, next);
}

void worker::start_now(fiber& self, fiber& child) noexcept {
  // A lone worker's continuation can be queued before the switch: nobody steals it meanwhile.
  // Otherwise the child queues it once it runs (after_start). (Two tail calls: no frame here
  // on either path.)
  if (alone_) return start_now_alone(self, child);
  switch_to(self, &child);
}

void worker::start_now_alone(fiber& self, fiber& child) noexcept {
  continuations_.push_unshared(&self);
  switch_to(self, &child);
}

context* worker::end_short(fiber& self) noexcept {
  fiber* spawner = reclaim_spawner(self);
  if (!spawner) return nullptr;
  // Its spawner has not resumed since the spawn, so its handle does not exist yet: no joiner,
  // coroutine or detach to look at, no lock needed, and it is on no live list. Nor can anyone
  // free it before the spawner resumes, after our switch: it is marked switched out already.
  self.finished.store(true, std::memory_order_release);
  self.worker_frees = false;  // its handle frees it
  self.switched_out.store(true, std::memory_order_release);
  count_finish();
  set_current(this, spawner);
  return &spawner->ctx;
}

context& worker::next_after_end(fiber& self, fiber* joiner) noexcept {
  actions_.finished = &self;
  if (joiner && core_.should_stop()) {  // not now: it waits in the queue for the next run
    make_ready(joiner);
    joiner = nullptr;
  }
  fiber* next = joiner ? joiner : core_.should_stop() ? nullptr : next_ready(true);
  set_current(this, next);
  return next ? next->ctx : loop_context_;
}

// ---- the run loop ------------------------------------------------------------------------

void worker::run_loop() {
  ensure_signal_stack();  // stack overflow reports need an alternate signal stack
  // Each run may use a new thread: forget what sanitizers learnt about the last one's flow.
  loop_context_ = context{};
  // Fibers bring their own exception state; the thread gets its own back when we return.
  thread_eh_ = thread_eh_state();  // this thread's, looked up once per run
  thread_fp_ = fp_env::current();  // what every fiber without its own runs in
  struct restore_thread {
    eh_state eh;
    restore_thread() noexcept { save_eh_state(eh); }
    ~restore_thread() {
      load_eh_state(eh);
      set_current(nullptr, nullptr);
    }
  } restore;
  for (;;) {
    set_current(this, nullptr);
    if (core_.should_stop()) {
      steal_licence_.unregister();  // the run ends: nobody steals until the next
      return;
    }
    fiber* next = next_ready(true);
    if (!next && !alone_) next = search();
    if (next) {
      woken_for_nothing_ = false;
      set_current(this, next);
      switch_inline<&context_backend_type::jump_balanced>(loop_context_, next->ctx);
      set_current(this, nullptr);
      after_switch();
      continue;
    }
    if (!wait_for_work()) return;
  }
}

fiber* worker::search() noexcept {
  // A searching worker spins for a short while (search_spin) before parking: a wakeup from
  // another worker then costs no futex call on either side. While one searches, pushers need
  // not wake a parked worker (executor_core::notify_one_idle). Early in the spin it looks
  // whether run() has anything left at all, and ends the run if not: otherwise the end waits
  // for every worker's spin and park (a run of a few fibers on 2 workers: ~190 to ~90 us).
  searching_.store(true, std::memory_order_relaxed);
  fiber* found = nullptr;
  const auto give_up = std::chrono::steady_clock::now() + search_spin;
  for (unsigned i = 1; !found && !core_.should_stop(); ++i) {
    found = next_ready(true);
    if (found) break;
    cpu_relax();
    if (i % 64 != 0) continue;
    if (i == 64 && core_.end_run_if_nothing_left()) break;
    if (std::chrono::steady_clock::now() >= give_up) break;
  }
  searching_.store(false, std::memory_order_relaxed);
  return found;
}

bool worker::wait_for_work() {
  steal_licence_.unregister();  // a parked worker steals nothing
  core_.end_run_if_past_deadline();
  const bool have_timers = !timers_.empty();
  // Woken last time, but the search that followed found nothing: park briefly (see
  // executor_core::notify_for_continuation).
  const bool brief = std::exchange(woken_for_nothing_, false);
  const executor_core::park_end end = core_.park(
      *this, have_timers,
      timers_.earliest(), brief);
  if (end == executor_core::park_end::stop) return false;
  woken_for_nothing_ = end == executor_core::park_end::signalled;  // until a search finds work
  return true;
}

}  // namespace weft::detail
