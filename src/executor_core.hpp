// The executor's internals, shared by its workers: launching fibers, making them ready from
// any thread (the injection queue), parking and waking workers, the end of a run and deadlock
// detection, and unwinding every fiber at destruction. Its lifetime is counted (core_ref).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <weft/detail/deadline.hpp>
#include <weft/executor.hpp>

#include "asymmetric_barrier.hpp"
#include "blocking_pool.hpp"
#include "current.hpp"
#include "fiber.hpp"
#include "fiber_allocator.hpp"
#include "parking_lot.hpp"
#include "reactor.hpp"
#include "fiber_deque.hpp"
#include "ready_queue.hpp"
#include "worker.hpp"

namespace weft::detail {

struct thread_parker;

class executor_core {
 public:
  explicit executor_core(executor_options options);
  ~executor_core();
  executor_core(const executor_core&) = delete;
  executor_core& operator=(const executor_core&) = delete;

  // Reference counting (core_ref): the executor object holds one, each work_guard one, and
  // every fiber region one (also while it waits in a worker's region cache).
  void retain() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept;

  // ---- fibers' memory and start ----
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
  // A fiber's memory with a stack of its own size (spawn_options::stack_size), out of line.
  fiber_memory allocate_sized(std::size_t bytes, std::size_t align, std::size_t stack_size);
  // Builds the fiber's control block (prepare) and starts or queues it (start); launch does
  // both, launch_with applies spawn_options and joins a scope between them (either may be
  // null).
  fiber* launch(const fiber_memory& memory, const task_ops& ops);
  fiber* launch_with(const fiber_memory& memory, const task_ops& ops,
                     const spawn_options* options, scope_state* scope);
  // A fiber retired (fiber_end.cpp): the end of a join driving the executor, if it waited
  // for this one.
  void note_retired(fiber* f) noexcept {
    if (f == until_.load(std::memory_order_acquire)) stop_and_wake_all();
  }
  // `done` was just set (a scope's last child ended): the end of run_until_done if it waits
  // for that flag. `done` may be gone by now; only its address is compared.
  void note_done(const std::atomic<bool>& done) noexcept {
    if (until_done_.load(std::memory_order_seq_cst) == &done) stop_and_wake_all();
  }

  // ---- ready fibers ----
  // Makes a blocked fiber ready, from any thread.
  void schedule(fiber* f) noexcept;
  // The injection queue: fibers made ready by threads that are not workers.
  void inject(fiber* f) noexcept;
  fiber* take_injected() noexcept { return injected_.pop(); }
  bool has_injected() const noexcept { return !injected_.looks_empty(); }
  worker& worker_at(std::size_t i) noexcept { return *workers_[i]; }
  std::size_t worker_count() const noexcept { return workers_.size(); }

  // ---- running ----
  // run() and join() driving: claim the right to run the workers from this thread, and give
  // it back (see claimed_run).
  bool try_claim_run() noexcept;
  void end_run() noexcept;
  // Runs every worker (worker 0 here, the rest on new threads) until `until` finishes, or
  // until no fiber is left when it is null; and at the latest until `deadline` (a timed join
  // driving the executor: `stop_at`). Throws deadlock_error.
  void run_until(fiber* until, deadline stop_at = deadline::max())
      WEFT_EXCLUDES(parking_.mutex());
  // As run_until(nullptr), until `done` is true (note_done): a scope joined from a plain
  // thread.
  void run_until_done(const std::atomic<bool>& done) WEFT_EXCLUDES(parking_.mutex());
  // A worker's look at run_until's deadline: ends the run if it has passed (called when the
  // worker parks, and now and then while it runs fibers).
  void end_run_if_past_deadline() noexcept {
    const deadline d = run_deadline_.load(std::memory_order_relaxed);
    if (d != deadline::max() && std::chrono::steady_clock::now() >= d) [[unlikely]]
      stop_and_wake_all();
  }
  deadline run_deadline() const noexcept { return run_deadline_.load(std::memory_order_relaxed); }
  bool should_stop() const noexcept { return stop_.load(std::memory_order_acquire); }
  // Ends run() at once if no fiber is left to run (as the last worker to park would find):
  // whether it did. For a worker that ran dry, before it spins and parks.
  bool end_run_if_nothing_left() noexcept WEFT_EXCLUDES(parking_.mutex());

  // ---- parking ----
  // Parks worker `w` unless work is visible; decides the end of a run and deadlocks when it is
  // the last to park. `brief`: for at most brief_park, during which continuations wake nobody
  // (notify_for_continuation).
  enum class park_end { stop, signalled, unsignalled };
  park_end park(worker& w, bool have_timers, std::chrono::steady_clock::time_point deadline,
                bool brief) WEFT_EXCLUDES(parking_.mutex());
  void notify_one_idle() noexcept WEFT_EXCLUDES(parking_.mutex());  // after making work visible
  // After making work visible that only `w` may run (its inbox): wakes `w` if it is parked.
  void notify_worker(worker& w) noexcept WEFT_EXCLUDES(parking_.mutex());
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
  void notify_all_workers() noexcept WEFT_EXCLUDES(parking_.mutex());

  // ---- file descriptors ----
  // The reactor, made on first use (an executor that never waits on a descriptor holds none):
  // throws std::system_error if it cannot be made.
  reactor& io();
  const reactor* io_if_made() const noexcept { return reactor_.load(std::memory_order_acquire); }
  // The pool of weft::blocking threads, made on first use.
  blocking_pool& blocking();
  // Joins the pool's threads (~executor, once its fibers are gone). A pool thread that has
  // just woken a fiber holds a core reference while it does (schedule()): joined here, it
  // never drops the last one, which would make it join itself.
  void stop_blocking_pool() noexcept WEFT_EXCLUDES(reactor_mutex_);
  // Polls the reactor without waiting, if fibers wait on descriptors and no worker is the
  // poller: whether a fiber became ready (on the calling worker). `room`: how many fibers the
  // caller's queue takes without overflowing into the injection queue, where they would wait
  // behind fibers made ready after them.
  bool poll_io_now(std::size_t room) noexcept;

  // ---- diagnostics and destruction ----
  // Calls fn(f) for every live fiber, each worker's list locked in turn.
  template <class Fn>
  void for_each_live(Fn fn) const {
    for (auto& w : workers_) w->live().for_each(fn);
  }
  std::string describe_blocked() const;
  // Executor destruction: unwinds every live fiber's stack (unwinding.hpp), then gives the
  // workers' cached regions back.
  void unwind_all();

  const executor_options& options() const noexcept { return options_; }
  // Fibers launched and not yet finished. Exact when no worker runs a fiber (all of them
  // parked, or none running: see park()); a snapshot that may count a fiber finishing
  // meanwhile otherwise.
  std::size_t live() const noexcept;
  bool shutting_down() const noexcept { return shutting_down_.load(std::memory_order_acquire); }

  // Whether any worker's heap holds a timer (a sleep or a timed wait's timeout).
  bool timers_armed() const noexcept;
  std::atomic<std::size_t> pending_awaits{0};
  std::atomic<std::size_t> work_guards{0};
  // Threads registered to steal continuations right now (deque_thief).
  std::atomic<std::uint32_t> continuation_thieves{0};

 private:
  friend struct registry_layout;  // the debugger reads workers_ (registry.hpp)

  bool nothing_can_wake() const noexcept;
  // run() (not a join) has nothing left: no fiber, no work guard. Right with workers busy
  // too: live() may over-count then, never under-count (a fiber's launch is counted before it
  // runs, and seen by whoever sees its spawner's end). A plain thread's spawn racing with the
  // end is run by the next run(), as when the last worker to park decides it.
  bool nothing_left() const noexcept;
  // Ends the run: every worker returns from its run loop at its next look (parked ones woken).
  void stop_and_wake_all() noexcept WEFT_EXCLUDES(parking_.mutex());
  worker::visible_work work_visible() noexcept;  // the most any worker (or injection) shows
  fiber* prepare(const fiber_memory& memory, const task_ops& ops) noexcept;
  // Depth-first from one of our fibers, else queued: a pinned one in worker 0's inbox. Drops
  // the hold of an outside caller's spawn (see allocate) once the fiber is visible.
  fiber* start(fiber* f, thread_parker* outside_caller, bool pinned);
  // The region cache of `w` if it is one of our workers, else null.
  fiber_allocator::local_cache* region_cache_of(worker* w) noexcept {
    return w && &w->core() == this ? &w->region_cache() : nullptr;
  }
  [[noreturn, gnu::cold, gnu::noinline]] static void throw_shutting_down();

  executor_options options_;
  fiber_allocator allocator_;
  std::vector<std::unique_ptr<worker>> workers_;
  std::atomic<int> refs_{1};
  std::atomic<bool> running_{false};
  std::atomic<bool> shutting_down_{false};
  // Fibers launched from outside the workers (plain threads, other executors' fibers); the
  // workers count the rest (worker::count_launch).
  alignas(64) std::atomic<std::uint64_t> launched_outside_{0};

  alignas(64) locked_ready_queue injected_;

  // The reactor: set once, under reactor_mutex_, then read without it.
  thread_mutex reactor_mutex_;
  std::unique_ptr<reactor> reactor_owner_ WEFT_GUARDED_BY(reactor_mutex_);
  std::atomic<reactor*> reactor_{nullptr};
  std::unique_ptr<blocking_pool> blocking_ WEFT_GUARDED_BY(reactor_mutex_);

  // Parking: one mutex for every worker's sleep, and what it guards.
  parking_lot parking_;
  std::atomic<std::size_t> idle_{0};     // workers parked or about to park
  std::atomic<std::size_t> brief_parkers_{0};  // workers in a brief park (see park())
  std::atomic<bool> stop_{false};        // workers leave their loops
  bool deadlocked_ WEFT_GUARDED_BY(parking_.mutex()) = false;  // set by the last worker to park
  // The deadlock check's grace period (see park()): whether the stuck state has been seen,
  // since when, and the calls_from_outside() count then.
  bool stuck_ WEFT_GUARDED_BY(parking_.mutex()) = false;
  std::chrono::steady_clock::time_point stuck_since_ WEFT_GUARDED_BY(parking_.mutex());
  std::uint64_t stuck_calls_ WEFT_GUARDED_BY(parking_.mutex()) = 0;
  std::atomic<fiber*> until_{nullptr};   // what run_until waits for (null: every fiber)
  std::atomic<const std::atomic<bool>*> until_done_{nullptr};  // run_until_done's flag
  std::atomic<deadline> run_deadline_{deadline::max()};  // and until when, at the latest
  thread_parker* runner_ = nullptr;      // the thread in run_until (its holds do not count)
};

// Gives back a run claimed with executor_core::try_claim_run when it goes out of scope.
class claimed_run {
 public:
  explicit claimed_run(executor_core& core) noexcept : core_(core) {}
  ~claimed_run() { core_.end_run(); }
  claimed_run(const claimed_run&) = delete;
  claimed_run& operator=(const claimed_run&) = delete;

 private:
  executor_core& core_;
};

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

}  // namespace weft::detail
