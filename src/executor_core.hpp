// The executor's internals: its worker, run queues, timers, and the list of live fibers.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include <weft/executor.hpp>

#include "fiber_allocator.hpp"

namespace weft::detail {

// FIFO of fibers linked through fiber::next_ready. Owned by one thread at a time.
class ready_queue {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  void push_back(fiber* f) noexcept;
  void push_front(fiber* f) noexcept;
  fiber* pop_front() noexcept;
  void append(ready_queue& other) noexcept;  // moves all of `other` to our back

 private:
  friend struct registry_layout;  // registry.cpp: field offsets for debuggers
  fiber* head_ = nullptr;
  fiber* tail_ = nullptr;
};

// A sleeping fiber; the timer heap is a binary min-heap on (deadline, seq).
struct timer_entry {
  std::chrono::steady_clock::time_point deadline;
  std::uint64_t seq;
  fiber* sleeper;
  bool operator>(const timer_entry& o) const noexcept {
    return deadline != o.deadline ? deadline > o.deadline : seq > o.seq;
  }
};

// What the code resumed after a switch must do on behalf of the code that switched away, once
// that code's context is safely saved.
struct after_switch_actions {
  spinlock* unlock = nullptr;   // a primitive's lock held across block()
  fiber* requeue = nullptr;     // a yielding (back) or spawning (front) fiber
  bool requeue_front = false;
  fiber* finished = nullptr;    // a finished fiber: drop its running reference
};

// One thread running fibers. With one worker this is the thread in run() (or a join driving
// the executor).
class worker {
 public:
  explicit worker(executor_core& core) noexcept : core_(core) {}

  // Runs fibers until `until` finishes (or, if null, until none is left). Throws deadlock_error.
  void run_loop(fiber* until);

  // Called by a fiber of this worker: switches to the next ready fiber, or to the run loop.
  // `actions_` must already say what to do once we are switched out.
  void suspend(fiber& self) noexcept;
  // Called by a finishing fiber: like suspend, never returns.
  [[noreturn]] void exit(fiber& self) noexcept;
  // Called by a fiber: lets the other ready fibers run first; returns at once if none is.
  void yield(fiber& self) noexcept;
  // Called by a fiber: runs `child` now, with the caller requeued at the front.
  void start_now(fiber& self, fiber& child) noexcept;

  // Queues a ready fiber; only from this worker's thread.
  void make_ready(fiber* f) noexcept { ready_.push_back(f); }
  // Carries out what the switched-away code left us; called right after every switch.
  void after_switch() noexcept;

  after_switch_actions& actions() noexcept { return actions_; }
  executor_core& core() noexcept { return core_; }
  bool has_ready() const noexcept { return !ready_.empty(); }
  // Timers and remote wakeups become ready; then the next fiber, or null.
  fiber* next_ready() noexcept;
  void clear_timers_into_ready() noexcept;  // for unwinding at destruction

  void add_timer(fiber* f, std::chrono::steady_clock::time_point deadline);

 private:
  friend struct registry_layout;
  void collect_due_timers() noexcept;
  bool wait_for_work();  // false: nothing can ever make a fiber ready
  void switch_to(fiber& self, fiber* next) noexcept;

  executor_core& core_;
  context loop_context_;
  ready_queue ready_;
  std::vector<timer_entry> timers_;
  std::uint64_t timer_seq_ = 0;
  after_switch_actions actions_;
};

class executor_core {
 public:
  explicit executor_core(executor_options options);

  // Reference counting: the executor object holds one, every fiber region holds one.
  void retain() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept;

  fiber_memory allocate(std::size_t bytes, std::size_t align);
  void free_region(const stack_span& region, bool guarded) noexcept;

  void launch(fiber* f, const fiber_memory& memory);
  void add_started(fiber* f) noexcept;  // on the worker's thread, as f first runs
  void on_finished(fiber* f) noexcept;  // live list and counters
  // Makes a blocked fiber ready from any thread.
  void schedule(fiber* f) noexcept;

  // run() and join() driving: claim the right to run the worker on this thread.
  bool try_claim_run() noexcept;
  void end_run() noexcept;
  void run_until(fiber* until);

  // Remote wakeups and parking.
  void push_remote(fiber* f) noexcept;
  bool take_remote(ready_queue& into) noexcept;
  // Parks the worker until remote work arrives, `deadline` passes, or a re-check is due.
  // Returns false when nothing can ever wake a fiber (deadlock).
  bool park(bool have_timers, std::chrono::steady_clock::time_point deadline);
  void notify_parked() noexcept;

  std::string describe_blocked() const;
  void unwind_all();

  const executor_options& options() const noexcept { return options_; }
  std::size_t live() const noexcept { return live_.load(std::memory_order_acquire); }
  bool shutting_down() const noexcept { return shutting_down_.load(std::memory_order_acquire); }
  worker& main_worker() noexcept { return worker_; }

  std::atomic<std::size_t> pending_awaits{0};
  std::atomic<std::size_t> work_guards{0};

 private:
  executor_options options_;
  fiber_allocator allocator_;
  worker worker_;
  std::atomic<int> refs_{1};
  std::atomic<bool> running_{false};
  std::atomic<bool> shutting_down_{false};
  std::atomic<std::size_t> live_{0};

  // Fibers that have started and not finished, touched only by the thread running the worker
  // (never-started fibers are all in run queues).
  fiber* started_head_ = nullptr;

  std::mutex remote_mutex_;
  std::condition_variable remote_cv_;
  ready_queue remote_;
  std::atomic<bool> remote_pending_{false};
  bool parked_ = false;

  friend class ::weft::executor;
  friend struct registry_layout;
};

// The calling thread's fiber and worker (non-inlined: fibers may resume on other threads).
fiber* current_fiber() noexcept;
worker* current_worker() noexcept;
void set_current(worker* w, fiber* f) noexcept;

// Number of plain threads blocked inside weft calls, process-wide.
std::size_t threads_blocked_in_weft() noexcept;

// Thrown into a fiber's blocking call when its executor unwinds it at destruction.
struct fiber_unwind {};

}  // namespace weft::detail
