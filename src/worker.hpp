// One worker of the work-stealing scheduler: a thread running fibers. It owns its run queues
// (spawners' continuations, a FIFO of ready fibers, an inbox for pinned ones), its timers and
// its region cache, and switches between fibers: worker::run_loop is the scheduler's loop,
// worker::switch_to the one call site where every fiber suspends.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <span>

#include "current.hpp"
#include "eh_state.hpp"
#include "fiber.hpp"
#include "fiber_allocator.hpp"
#include "live_list.hpp"
#include "run_queues.hpp"
#include "timer_heap.hpp"

namespace weft::detail {

class executor_core;

// What the code resumed after a switch must do on behalf of the code that switched away, once
// that code's context is safely saved (so another worker cannot resume it half-saved).
struct after_switch_actions {
  fiber* blocked = nullptr;      // a fiber that waits: its token is opened first (wait_token)
  bool stoppable = false;        // that wait is an interruption point (stop_request.hpp),
                                 // unless an exception unwinds the fiber (its saved eh state)
  timer_slot* arm = nullptr;     // a sleep's or timed wait's timer, armed here (before unlock)
  spinlock* unlock = nullptr;    // a primitive's lock held across block()
  std::span<spinlock* const> unlock_also;  // select: the other primitives' locks (with unlock)
  fiber* yielded = nullptr;      // goes to the back of the run queue
  fiber* finished = nullptr;     // a finished fiber: free it or mark it switched out
  bool any() const noexcept {     // one branch for the usual case: none
    return (reinterpret_cast<std::uintptr_t>(blocked) | reinterpret_cast<std::uintptr_t>(arm) |
            reinterpret_cast<std::uintptr_t>(unlock) |
            reinterpret_cast<std::uintptr_t>(yielded) |
            reinterpret_cast<std::uintptr_t>(finished)) != 0;
  }
};

// Worker 0 runs on the thread that calls run() (or a join driving the executor); the others on
// threads that run() starts.
class worker {
 public:
  // `alone`: the executor has no other worker (nobody steals: the owner's queue operations
  // need no atomic instructions, and nobody needs waking).
  worker(executor_core& core, std::uint32_t index, bool alone);
  ~worker();
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  // Runs fibers until the executor says stop (see executor_core::run_until).
  void run_loop();

  // ---- called by the fiber running on this worker ----
  // Switches to the next ready fiber, or to the run loop. actions() must already say what to
  // do once we are switched out.
  void suspend(fiber& self) noexcept;
  void yield(fiber& self) noexcept;                    // returns at once if nothing else is ready
  void start_now(fiber& self, fiber& child) noexcept;  // work-first spawn
  // A finishing fiber (fiber_end.cpp): queues its release and returns the context to resume
  // for good, that of `joiner` (the fiber it woke by finishing) if there is one.
  context& next_after_end(fiber& self, fiber* joiner) noexcept;
  // The short end of `self` (fiber_end.cpp), if it can take its spawner back
  // (reclaim_spawner): then no join handle exists yet and nothing else waits for it, so it is
  // marked finished with plain stores and counted, and the spawner resumes next. Returns the
  // spawner's context, or null (nothing changed: the end takes the long way).
  context* end_short(fiber& self) noexcept;

  // Carries out what the switched-away code left us; called right after every switch.
  void after_switch() noexcept {
    if (actions_.any()) run_actions();
  }
  // after_switch() for a fiber's first code, on the worker it starts on. A fiber that a spawn
  // started at once (start_now) queues its spawner's continuation here, now that the
  // spawner's context is saved, for thieves to take; a lone worker queued it before the
  // switch.
  void after_start(fiber& f) noexcept {
    if (!alone_ && f.started_by) push_shared_continuation(f.started_by);
    after_switch();
  }
  after_switch_actions& actions() noexcept { return actions_; }

  // ---- this worker's thread only ----
  void make_ready(fiber* f) noexcept;  // makes `f` ready on this worker
  // Fibers launched by fibers running here, and fibers that finished here: each counted by
  // this worker's thread alone (no read-modify-write); executor_core::live() sums them.
  void count_launch() noexcept { count_up(launched_); }
  void count_finish() noexcept { count_up(finished_); }
  // Fiber memory this worker reuses without locking (see fiber_allocator::local_cache).
  fiber_allocator::local_cache& region_cache() noexcept { return region_cache_; }

  // ---- any thread ----
  executor_core& core() noexcept { return core_; }
  eh_state* thread_eh() noexcept { return thread_eh_; }
  // For a fiber switching away from this worker's thread, or ending on it: a fiber with its
  // own floating-point control state keeps it and leaves the thread's in force; any other must
  // have left the thread's as it was (checked builds stop the process otherwise).
  void leave_fp_env(fiber& f) noexcept {
    if (f.own_fp_env) [[unlikely]] {
      f.fp = fp_env::current();
      thread_fp_.make_current();
    } else {
      check_fp_env_kept(f, thread_fp_);
    }
  }
  std::uint32_t index() const noexcept { return index_; }
  live_list& live() noexcept { return live_; }
  // This worker's timers: armed by its own thread (after_switch_actions::arm, after the fiber
  // reserved room), fired by it or, when overdue, by another worker; cancelled by anyone.
  timer_heap& timers() noexcept { return timers_; }
  const timer_heap& timers() const noexcept { return timers_; }
  std::uint64_t launched() const noexcept { return launched_.load(std::memory_order_acquire); }
  std::uint64_t finished() const noexcept { return finished_.load(std::memory_order_acquire); }
  bool searching() const noexcept { return searching_.load(std::memory_order_relaxed); }
  // Hands a fiber pinned here to this worker from another thread.
  void push_inbox(fiber* f) noexcept;
  // What a parking worker sees of this one's queues: nothing, only the continuation of the
  // fiber running here (which this worker will most likely take back itself; see steal), or
  // work for anybody.
  enum class visible_work { none, lone_continuation, some };
  visible_work work_seen() const noexcept {
    if (!fifo_.looks_empty() || !inbox_.looks_empty()) return visible_work::some;
    const std::int64_t continuations = continuations_.look().size;
    if (continuations > 1) return visible_work::some;
    return continuations == 1 ? visible_work::lone_continuation : visible_work::none;
  }

  // ---- executor destruction, under a claimed run ----
  void release_sleepers() noexcept;  // every sleeper becomes ready, injected

 private:
  friend void set_current(worker* w, fiber* f) noexcept;
  friend struct registry_layout;  // the debugger reads running_ and live_ (registry.hpp)

  // Adds one to a counter that only the calling thread writes: no read-modify-write needed.
  static void count_up(std::atomic<std::uint64_t>& counter) noexcept {
    counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }
  // The next fiber to run: own queues, then timers, inbox, injection, the reactor, stealing.
  // `no_lock_held`: the caller holds no primitive's lock, so the reactor may be polled (its
  // events lock descriptors; a fiber suspending in block() holds its descriptor's lock until
  // the switch). suspend() passes false: with nothing else ready it switches to the run loop,
  // which polls.
  fiber* next_ready(bool no_lock_held) noexcept;
  fiber* take_external() noexcept;  // our inbox, then the executor's injection queue
  fiber* find_work(bool no_lock_held) noexcept;  // everything but our own queues
  fiber* steal_from_others() noexcept;  // a fiber from any other worker, or null
  fiber* steal(deque_thief& thief) noexcept;  // a thief takes from us (any thread)
  fiber* search() noexcept;         // spins a while on next_ready() before parking
  void absorb_external() noexcept;  // injected and inbox fibers join our FIFO
  void collect_due_timers() noexcept;
  // A busy worker's look at the reactor, now and then (next_ready): fibers waiting on
  // descriptors are not left waiting behind fibers that keep the worker busy.
  void poll_io_now_and_then() noexcept;
  // Fires other workers' timers that are overdue by more than stall_bound: their owner is stuck
  // in a long call. The fibers become ready here (a pinned one in its own worker's inbox).
  void rescue_overdue_timers() noexcept;
  // Our continuations, the lone worker's way (no thieves, no one to wake) or the shared one.
  void push_continuation(fiber* spawner);
  void push_shared_continuation(fiber* spawner);  // push_continuation when not alone_
  fiber* take_continuation() noexcept {
    return alone_ ? continuations_.take_unshared() : continuations_.take();
  }
  // The oldest fiber of our FIFO, the lone worker's way or the shared one.
  fiber* pop_fifo() noexcept { return alone_ ? fifo_.pop_unshared() : fifo_.pop(); }
  // Makes the due timers' fibers ready, then pops the FIFO.
  fiber* take_due_or_queued() noexcept {
    if (!timers_.nothing_due()) collect_due_timers();
    return pop_fifo();
  }
  void switch_to(fiber& self, fiber* next) noexcept;
  // For the end of `f` (running here): if f has run since its spawn started it without ever
  // suspending, and its spawner's continuation is still in our deque (no thief took it),
  // takes that continuation back and returns the spawner: it has not resumed since, so f's
  // join handle does not exist yet. Otherwise null, and nothing changes.
  fiber* reclaim_spawner(fiber& f) noexcept;
  [[gnu::noinline]] void start_now_alone(fiber& self, fiber& child) noexcept;  // see start_now
  void switch_inline_to(fiber& self, fiber* next) noexcept;  // switch_to's body
  void run_actions() noexcept;    // after_switch, when there is something to do
  // Whether yield may take the lone worker's short way (see yield).
  bool lone_yield_applies(const fiber& self) const noexcept;
  bool wait_for_work();           // false: stop (done, or deadlock on worker 0)

  executor_core& core_;
  const std::uint32_t index_;
  const bool alone_;
  context loop_context_;
  fiber_deque continuations_;     // spawners waiting for their child to suspend (LIFO)
  fiber_ring fifo_;               // yielded and woken fibers (FIFO)
  timer_heap timers_;
  after_switch_actions actions_;
  eh_state* thread_eh_ = nullptr;  // the running thread's C++ exception state
  fp_env thread_fp_;              // its floating-point control state, taken when a run starts
  fiber_inbox inbox_;             // fibers pinned here, made ready elsewhere
  // This worker's licence to steal continuations from the others (see deque_thief).
  deque_thief steal_licence_;
  fiber_allocator::local_cache region_cache_;
  live_list live_;
  fiber* running_ = nullptr;      // the fiber this worker's thread runs now (null: its run loop)
  // next_ready looks at the inbox and injection queue, then due timers and the FIFO, before the
  // continuations once every external_period picks, and gives up its steal licence if it has
  // not stolen for steal_licence_expiry.
  static constexpr std::uint32_t external_period = 61;
  static constexpr std::chrono::milliseconds steal_licence_expiry{1};
  // How long a thief leaves another worker's only continuation to it (steal; see spin.hpp).
  static constexpr std::chrono::microseconds only_fiber_grace{5};
  // How long an idle worker searches before it parks (search; see spin.hpp).
  static constexpr std::chrono::microseconds search_spin{50};

 public:
  // How long a due timer waits for its own worker before another one fires it.
  static constexpr std::chrono::milliseconds stall_bound{1};

 private:
  std::uint32_t external_countdown_ = external_period;
  // How often a busy worker polls the reactor at most (poll_io_now_and_then).
  static constexpr std::chrono::microseconds busy_io_poll_period{100};
  std::chrono::steady_clock::time_point next_busy_io_poll_{};
  bool woken_for_nothing_ = false;  // see wait_for_work
  std::uint32_t random_ = 2463534242u + index_ * 7919u;  // xorshift state, never 0
  // A cheap pseudo-random number (xorshift), for choosing whom to steal from.
  std::uint32_t next_random() noexcept {
    random_ ^= random_ << 13;
    random_ ^= random_ >> 17;
    random_ ^= random_ << 5;
    return random_;
  }

  alignas(64) std::atomic<std::uint64_t> launched_{0};
  std::atomic<std::uint64_t> finished_{0};
  // Spinning for work (see search). Written by this worker only, on its own cache lines: a
  // count shared by the workers bounced a line between them at every search's start and end.
  std::atomic<bool> searching_{false};
};

// Makes `f` the fiber that `w`'s thread runs (both null: a plain thread again). Written inline,
// on every switch: only right before a switch or in a run loop, which never changes threads,
// so no function reads a cached address of another thread's copy. Whoever switches to a fiber
// calls this first, so the fiber finds the worker it runs on, after any switch, in its own
// resumed_by (no thread-local lookup).
inline void set_current(worker* w, fiber* f) noexcept {
  this_thread_position = {w, f};
  this_thread_locals = f ? &f->locals : &no_locals;
  if (w) w->running_ = f;
  if (f) f->resumed_by = w;
}

}  // namespace weft::detail
