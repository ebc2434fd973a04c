// The executor's internals: its workers, their run queues and timers, parking, and the list of
// live fibers.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <weft/executor.hpp>

#include "asymmetric_barrier.hpp"
#include "fiber_allocator.hpp"
#include "run_queues.hpp"

namespace weft::detail {

struct eh_state;  // src/eh_state.hpp

// A sleeping fiber; each worker's timers are a binary min-heap on (deadline, seq).
struct timer_entry {
  std::chrono::steady_clock::time_point deadline;
  std::uint64_t seq;
  fiber* sleeper;
  bool operator>(const timer_entry& o) const noexcept {
    return deadline != o.deadline ? deadline > o.deadline : seq > o.seq;
  }
};

// What the code resumed after a switch must do on behalf of the code that switched away, once
// that code's context is safely saved (so another worker cannot resume it half-saved).
struct after_switch_actions {
  spinlock* unlock = nullptr;    // a primitive's lock held across block()
  fiber* yielded = nullptr;      // goes to the back of the run queue
  fiber* finished = nullptr;     // a finished fiber: free it or mark it switched out
  bool any() const noexcept {     // one branch for the usual case: none
    return (reinterpret_cast<std::uintptr_t>(unlock) | reinterpret_cast<std::uintptr_t>(yielded) |
            reinterpret_cast<std::uintptr_t>(finished)) != 0;
  }
};

// Gives back a run claimed with executor_core::try_claim_run when it goes out of scope.
class claimed_run {
 public:
  explicit claimed_run(executor_core& core) noexcept : core_(core) {}
  ~claimed_run();
  claimed_run(const claimed_run&) = delete;
  claimed_run& operator=(const claimed_run&) = delete;

 private:
  executor_core& core_;
};

// Adds one to a counter that only the calling thread writes: no read-modify-write needed.
inline void count_up(std::atomic<std::uint64_t>& counter) noexcept {
  counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

// One thread running fibers. Worker 0 runs on the thread that calls run() (or a join driving
// the executor); the others on threads that run() starts.
class worker {
 public:
  // `alone`: the executor has no other worker (nobody steals: the owner's queue operations
  // need no atomic instructions, and nobody needs waking).
  worker(executor_core& core, std::uint32_t index, bool alone);
  ~worker();

  // Runs fibers until the executor says stop (see executor_core::run_until).
  void run_loop();

  // Called by a fiber running on this worker: switches to the next ready fiber, or to the run
  // loop. actions() must already say what to do once we are switched out.
  void suspend(fiber& self) noexcept;
  // A finishing fiber: queues its release and returns the context to resume for good, that
  // of `joiner` (the fiber it woke by finishing) if there is one.
  context& finish(fiber& self, fiber* joiner) noexcept;
  // The whole end of `self`, if it can take its spawner back (reclaim_spawner): then no join
  // handle exists yet and nothing else waits for it, so it is marked finished with plain
  // stores and counted, and the spawner resumes next. Returns the spawner's context, or null
  // (nothing changed: the end takes the long way, publish_end, retire and finish).
  context* finish_short(fiber& self) noexcept;
  void yield(fiber& self) noexcept;               // returns at once if nothing else is ready
  void start_now(fiber& self, fiber& child) noexcept;  // work-first spawn

  // Makes `f` ready on this worker; only from this worker's thread.
  void make_ready(fiber* f) noexcept;
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
  executor_core& core() noexcept { return core_; }
  eh_state* thread_eh() noexcept { return thread_eh_; }
  std::uint32_t index() const noexcept { return index_; }
  // A cheap pseudo-random number (xorshift), for choosing whom to steal from. Owner only.
  std::uint32_t next_random() noexcept {
    random_ ^= random_ << 13;
    random_ ^= random_ >> 17;
    random_ ^= random_ << 5;
    return random_;
  }
  void add_timer(fiber* f, std::chrono::steady_clock::time_point deadline);

  // For other workers (thieves) and parking: lock-free, any thread.
  fiber* steal(deque_thief& thief) noexcept;
  // This worker's licence to steal continuations from the others (see deque_thief). Owner only.
  deque_thief steal_licence;
  // What a parking worker sees of this one's queues: nothing, only the continuation of the
  // fiber running here (which this worker will most likely take back itself; see
  // worker::steal), or work for anybody.
  enum class visible_work { none, lone_continuation, some };
  visible_work work_seen() const noexcept {
    if (!fifo_.looks_empty() || !inbox_.looks_empty()) return visible_work::some;
    const std::int64_t continuations = continuations_.look().size;
    if (continuations > 1) return visible_work::some;
    return continuations == 1 ? visible_work::lone_continuation : visible_work::none;
  }

  // Hands a fiber pinned here to this worker from another thread.
  void push_inbox(fiber* f) noexcept;
  // For unwinding at destruction: every sleeper becomes ready, in the inbox.
  void release_sleepers() noexcept;

  // Fiber memory this worker reuses without locking (see fiber_allocator::local_cache).
  fiber_allocator::local_cache region_cache;

  // The live fibers that have suspended at least once on this worker (the first time is when
  // a fiber joins the list) or were queued here unstarted, for diagnostics, unwinding and
  // debuggers. A fiber stays on its list wherever it runs. A fiber that runs to its end
  // without ever suspending (most short ones: spawn starts a child at once) never takes the
  // lock: when no worker runs a fiber, every live fiber is on a list.
  spinlock live_lock;
  fiber* live_head = nullptr;
  void add_live(fiber* f) noexcept;
  void remove_live(fiber* f) noexcept;
  // The fiber this worker's thread runs now (null: its run loop), for debuggers.
  fiber* running = nullptr;

  // Fibers launched by fibers running on this worker, and fibers that finished on it. Each is
  // written by this worker's thread alone (no read-modify-write); executor_core::live() sums
  // them.
  alignas(64) std::atomic<std::uint64_t> launched{0};
  std::atomic<std::uint64_t> finished{0};

  // Parking (see executor_core::park).
  std::condition_variable wakeup;
  bool parked = false;
  bool wake_signal = false;  // set by a notifier; after park(), whether one woke us
  // Spinning for work (see search). Written by this worker only, on its own cache lines: a
  // count shared by the workers bounced a line between them at every search's start and end.
  std::atomic<bool> searching{false};

 private:
  fiber* next_ready() noexcept;   // own queues, then timers, inbox, injection, stealing
  fiber* take_external() noexcept;  // our inbox, then the executor's injection queue
  fiber* find_work() noexcept;    // everything but our own queues
  fiber* search() noexcept;       // spins a while on next_ready() before parking
  void absorb_external() noexcept;  // injected and inbox fibers join our FIFO
  void collect_due_timers() noexcept;
  // Our continuations, the lone worker's way (no thieves, no one to wake) or the shared one.
  void push_continuation(fiber* spawner);
  void push_shared_continuation(fiber* spawner);  // push_continuation when not alone_
  fiber* take_continuation() noexcept {
    return alone_ ? continuations_.take_unshared() : continuations_.take();
  }
  void switch_to(fiber& self, fiber* next) noexcept;
  [[gnu::noinline]] void start_now_alone(fiber& self, fiber& child) noexcept;  // see start_now
  // For the end of `f` (running here): if f has run since its spawn started it without ever
  // suspending, and its spawner's continuation is still in our deque (no thief took it),
  // takes that continuation back and returns the spawner: it has not resumed since, so f's
  // join handle does not exist yet. Otherwise null, and nothing changes.
  fiber* reclaim_spawner(fiber& f) noexcept;
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
  std::vector<timer_entry> timers_;
  std::uint64_t timer_seq_ = 0;
  fiber* sleeping_now_ = nullptr;  // a fiber in suspend() for its own timer (see suspend)
  bool sleeper_due_ = false;       // its timer fired before it was switched out
  after_switch_actions actions_;
  eh_state* thread_eh_ = nullptr;  // the running thread's C++ exception state
  fiber_inbox inbox_;             // fibers pinned here, made ready elsewhere
  // next_ready looks at the inbox and injection queue first once every external_period picks,
  // and gives up its steal licence if it has not stolen for steal_licence_expiry.
  static constexpr std::uint32_t external_period = 61;
  static constexpr std::chrono::milliseconds steal_licence_expiry{1};
  // How long a thief leaves another worker's only continuation to it (worker::steal).
  static constexpr std::chrono::microseconds only_fiber_grace{5};
  std::uint32_t external_countdown_ = external_period;
  bool woken_for_nothing_ = false;  // see wait_for_work
  std::uint32_t random_ = 2463534242u + index_ * 7919u;  // xorshift state, never 0
};

class executor_core {
 public:
  explicit executor_core(executor_options options);
  ~executor_core();

  // Reference counting: the executor object holds one, every fiber region holds one (also
  // while it waits in a worker's region cache).
  void retain() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept;

  // Both inline: they run on every spawn and every fiber's end.
  fiber_memory allocate(std::size_t bytes, std::size_t align);
  // `here`: the calling thread's worker, if any (its region cache is used if it is ours).
  void free_region(const stack_span& region, bool guarded, worker* here) noexcept;
  // A spawn from outside our fibers holds (plain_thread_holds) from its memory on until
  // launch has queued the fiber, or the memory is given back: the caller is inside a weft
  // call that will make a fiber ready, so no deadlock may be declared meanwhile.
  [[gnu::cold, gnu::noinline]] static void hold_outside_spawn(fiber_memory& m) noexcept;
  static void release_outside_spawn(const fiber_memory& m) noexcept;
  // Gives the workers' cached regions back to the shared pool, with their references. Called
  // under a claimed run once no fiber runs any more (executor destruction, unwind_all).
  void drain_region_caches() noexcept;
  fiber_allocator& allocator() noexcept { return allocator_; }

  void launch(fiber* f, const fiber_memory& memory);
  // The end of a fiber, in two steps on its own stack, unless worker::finish_short applies.
  // publish_end: marks it finished and wakes whoever waits for it; returns the fiber to run
  // next on `here` (see worker::finish): the joining fiber, if it may run here. A coroutine
  // co_awaiting it is resumed here, with `f` still live and current: it may spawn, block or
  // yield.
  // retire: off the live list and counts, then the end of a join driving the executor.
  fiber* publish_end(worker& here, fiber* f) noexcept;
  void retire(worker& here, fiber* f) noexcept;
  // Makes a blocked fiber ready, from any thread.
  void schedule(fiber* f) noexcept;

  // run() and join() driving: claim the right to run the workers from this thread, and give
  // it back (see claimed_run).
  bool try_claim_run() noexcept;
  void end_run() noexcept;
  // Runs every worker (worker 0 here, the rest on new threads) until `until` finishes, or
  // until no fiber is left when it is null. Throws deadlock_error.
  void run_until(fiber* until);

  // The injection queue: fibers made ready by threads that are not workers.
  void inject(fiber* f) noexcept;
  fiber* take_injected() noexcept { return injected_.pop(); }
  bool has_injected() const noexcept { return !injected_.looks_empty(); }

  // Parking. park() returns false when the worker should stop. `brief`: for at most
  // brief_park, during which continuations wake nobody (notify_for_continuation).
  bool park(worker& w, bool have_timers, std::chrono::steady_clock::time_point deadline,
            bool brief);
  void notify_one_idle() noexcept;  // after making work visible
  // After making work visible that only `w` may run (its inbox): wakes `w` if it is parked.
  void notify_worker(worker& w) noexcept;
  // After pushing a spawner's continuation, alone or not in the deque. A worker
  // woken for one that was gone by the time it looked (the child ended at once: a spawn+join
  // loop) parks briefly next, and while one does, lone continuations wake nobody: it looks
  // again when its park ends. Without this, every spawn of such a loop woke a worker for
  // nothing, a futex call (and a membarrier when that worker parked again) each time: several
  // times slower on 2 workers than on 1. A deeper deque holds work for another worker at once.
  // Looks at `continuations` only if some worker is idle: the usual case, with every worker
  // busy, costs a load (notify_one_idle repeats the check, with its barrier, before waking).
  void notify_for_continuation(const fiber_deque& continuations) noexcept {
    light_barrier();  // the push before the load (see notify_one_idle)
    if (idle_.load(std::memory_order_relaxed) == 0) return;
    notify_idle_for_continuation(continuations);
  }
  static constexpr std::chrono::milliseconds brief_park{1};
  // notify_for_continuation once some worker is idle (out of line: the usual path saves nothing).
  void notify_idle_for_continuation(const fiber_deque& continuations) noexcept;
  void notify_all_workers() noexcept;
  // Ends run() at once if no fiber is left to run (as the last worker to park would find):
  // whether it did. For a worker that ran dry, before it spins and parks.
  bool end_run_if_nothing_left() noexcept;
  bool should_stop() const noexcept { return stop_.load(std::memory_order_acquire); }

  // Work stealing: a fiber from any worker other than `thief`, or null.
  fiber* steal_for(worker& thief) noexcept;
  worker& worker_at(std::size_t i) noexcept { return *workers_[i]; }
  std::size_t worker_count() const noexcept { return workers_.size(); }

  // Calls fn(f) for every live fiber, each worker's list locked in turn.
  template <class Fn>
  void for_each_live(Fn fn) const {
    for (auto& w : workers_) {
      std::lock_guard guard(w->live_lock);
      for (fiber* f = w->live_head; f; f = f->next_live) fn(f);
    }
  }
  std::string describe_blocked() const;
  // Executor destruction: unwinds every live fiber's stack (see executor.cpp), then gives the
  // workers' cached regions back.
  void unwind_all();

  const executor_options& options() const noexcept { return options_; }
  // Fibers launched and not yet finished. Exact when no worker runs a fiber (all of them
  // parked, or none running: see park()); a snapshot that may count a fiber finishing
  // meanwhile otherwise.
  std::size_t live() const noexcept;
  bool shutting_down() const noexcept { return shutting_down_.load(std::memory_order_acquire); }

  std::atomic<std::size_t> pending_awaits{0};
  std::atomic<std::size_t> work_guards{0};
  std::atomic<std::size_t> sleepers{0};  // fibers in any worker's timer heap
  // Threads registered to steal continuations right now (deque_thief).
  std::atomic<std::uint32_t> continuation_thieves{0};

 private:
  bool nothing_can_wake() const noexcept;
  // run() (not a join) has nothing left: no fiber, no work guard. Right with workers busy
  // too: live() may over-count then, never under-count (a fiber's launch is counted before it
  // runs, and seen by whoever sees its spawner's end). A plain thread's spawn racing with the
  // end is run by the next run(), as when the last worker to park decides it.
  bool nothing_left() const noexcept;
  // Ends the run: every worker returns from its run loop at its next look (parked ones woken).
  void stop_and_wake_all() noexcept;
  void wake_parked_locked() noexcept;  // park_mutex_ held
  // Signals `w` if it is parked and not signalled yet; whether it did. park_mutex_ held.
  bool wake_if_parked_locked(worker& w) noexcept;
  worker::visible_work work_visible() noexcept;  // the most any worker (or injection) shows

  executor_options options_;
  fiber_allocator allocator_;
  std::vector<std::unique_ptr<worker>> workers_;
  std::atomic<int> refs_{1};
  // The region cache of `w` if it is one of our workers, else null.
  fiber_allocator::local_cache* region_cache_of(worker* w) noexcept;
  [[noreturn, gnu::cold, gnu::noinline]] static void throw_shutting_down();
  std::atomic<bool> running_{false};
  std::atomic<bool> shutting_down_{false};
  // Fibers launched from outside the workers (plain threads, other executors' fibers); the
  // workers count the rest (worker::launched).
  alignas(64) std::atomic<std::uint64_t> launched_outside_{0};

  alignas(64) locked_ready_queue injected_;

  // Parking: one mutex for every worker's wakeup condition.
  std::mutex park_mutex_;
  std::atomic<std::size_t> idle_{0};     // workers parked or about to park
  std::atomic<std::size_t> brief_parkers_{0};  // workers in a brief park (see park())
  std::atomic<bool> stop_{false};        // workers leave their loops
  bool deadlocked_ = false;              // set by the last worker to park; guarded by park_mutex_
  std::atomic<fiber*> until_{nullptr};   // what run_until waits for (null: every fiber)
  thread_parker* runner_ = nullptr;      // the thread in run_until (its holds do not count)

  friend class ::weft::executor;
  friend struct registry_layout;
};

inline claimed_run::~claimed_run() { core_.end_run(); }

inline fiber_allocator::local_cache* executor_core::region_cache_of(worker* w) noexcept {
  return w && &w->core() == this ? &w->region_cache : nullptr;
}

// The calling thread's fiber and worker.
struct thread_position {
  worker* current_worker = nullptr;
  fiber* current_fiber = nullptr;
};
// Where this thread is. Read only through the non-inlined functions below, so a fiber resumed
// on another thread never uses an address of the old thread's copy that the compiler cached
// across a switch.
extern constinit __attribute__((tls_model("initial-exec"))) thread_local thread_position position;
fiber* current_fiber() noexcept;
worker* current_worker() noexcept;
thread_position current_position() noexcept;  // both at once
// Written inline, on every switch: only right before a switch or in a run loop, which never
// changes threads, so no function reads a cached address of another thread's copy. Whoever
// switches to a fiber calls this first, so the fiber finds the worker it runs on, after any
// switch, in its own resumed_by (no thread-local lookup).
inline void set_current(worker* w, fiber* f) noexcept {
  position = {w, f};
  if (w) w->running = f;
  if (f) f->resumed_by = w;
}

// Number of plain threads blocked inside weft calls, process-wide.
std::size_t threads_blocked_in_weft() noexcept;
// Holds of plain threads that may wake fibers without being blocked in weft: a weft::mutex
// owned by a plain thread (its unlock() wakes the next waiter), a plain thread inside
// condition_variable::wait. Counted process-wide and per thread (a thread is named by its
// parker); the deadlock check waits while any is held, except those of the thread running
// the executor, which cannot release them while it runs fibers.
// add_plain_thread_hold() must come before, and drop_plain_thread_hold() after, the wakes a
// hold stands for, so the count never reads zero while a fiber is about to become ready.
thread_parker* this_plain_thread() noexcept;
std::size_t plain_thread_holds(const thread_parker* except) noexcept;
void add_plain_thread_hold(thread_parker& holder) noexcept;
thread_parker& add_hold_of_this_thread() noexcept;  // the calling thread's; returns its record
void drop_plain_thread_hold(thread_parker& holder) noexcept;

// Destroys a finished fiber's task and gives its memory back: called by whoever frees it
// (see fiber::worker_frees), after the fiber has switched away from its stack for good.
// `here`: the calling thread's worker, if any. Inline: it runs at every fiber's release.
inline void free_fiber(fiber& f, worker* here) noexcept;

// Thrown into a fiber's blocking call when its executor unwinds it at destruction.
struct fiber_unwind {};

// Whether a blocking call of `f` throws fiber_unwind now: when its executor is unwinding it,
// but not while `f` is already unwinding (a destructor that blocks, e.g. locks a mutex): a
// second exception there would be std::terminate. Such a call blocks and is woken as usual.
// std::uncaught_exceptions() is the fiber's own count: each fiber has its own C++
// exception-handling state (eh_state.hpp).
inline bool must_unwind(const fiber& f) noexcept {
  return f.cancelled && std::uncaught_exceptions() == 0;
}

// For a suspended fiber: whether it blocked while already unwinding (its saved exception
// state counts an uncaught exception), so must_unwind will not throw into it. Executor
// destruction leaves such a fiber where it waits instead of waking it early.
inline bool suspended_while_unwinding(const fiber& f) noexcept { return f.eh.uncaught > 0; }

inline fiber_memory executor_core::allocate(std::size_t bytes, std::size_t align) {
  if (shutting_down()) [[unlikely]] throw_shutting_down();
  // Every region in use holds a reference to the core. One in a worker's cache keeps the
  // reference of the fiber that last used it, so taking it from there needs no retain (and
  // caching one needs no release): two fewer atomic operations per spawn.
  fiber_allocator::local_cache* const cache = region_cache_of(current_worker());
  fiber_memory m = allocator_.allocate(bytes, align, cache);
  if (!m.from_cache) {
    retain();
    if (!cache) hold_outside_spawn(m);  // not one of our fibers (which have a cache)
  }
  return m;
}

inline void executor_core::free_region(const stack_span& region, bool guarded,
                                       worker* here) noexcept {
  if (!allocator_.free(region, guarded, region_cache_of(here))) release();
}

inline void free_fiber(fiber& f, worker* here) noexcept {
  executor_core* core = f.owner;
  const stack_span region = f.region;
  const bool guarded = f.guarded;
  f.destroy(&f);
  core->free_region(region, guarded, here);
}

}  // namespace weft::detail
