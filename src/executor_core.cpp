// executor and executor_core: fiber lifecycle, remote wakeups, parking, deadlock reports.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <exception>
#include <sstream>
#include <thread>
#include <random>
#include <typeinfo>

#include "context/switch.hpp"
#include "eh_state.hpp"
#include "executor_core.hpp"
#include "overflow_handler.hpp"
#include "asymmetric_barrier.hpp"
#include "registry.hpp"
#include "trace_points.hpp"

namespace weft::detail {
namespace {

// Fiber ids are unique in the process; each thread takes them from the global counter in
// blocks, so spawning costs no atomic operation.
std::atomic<std::uint64_t> next_id_block{1};
constexpr std::uint64_t id_block_size = 1024;
__attribute__((tls_model("initial-exec"))) thread_local std::uint64_t next_id = 0;
__attribute__((tls_model("initial-exec"))) thread_local std::uint64_t id_limit = 0;

std::uint64_t new_fiber_id() noexcept {
  if (next_id == id_limit) {
    next_id = next_id_block.fetch_add(id_block_size, std::memory_order_relaxed);
    id_limit = next_id + id_block_size;
  }
  return next_id++;
}

// "type: what()" of an exception, for diagnostics.
std::string describe_exception(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return std::string(typeid(e).name()) + ": " + e.what();
  } catch (...) {
    return "unknown exception";
  }
}

void report_detached_exception(const fiber& f) noexcept {
  std::string what = describe_exception(f.error);
  std::fprintf(stderr, "weft: exception escaped detached fiber %llu \"%s\": %s\n",
               static_cast<unsigned long long>(f.id), f.name.c_str(), what.c_str());
  std::fflush(stderr);
}

// A fiber unwound at its executor's destruction ends with this error (cold: out of run_fiber).
[[gnu::cold, gnu::noinline]] void set_unwound_error(fiber* f) {
  f->error = std::make_exception_ptr(std::runtime_error(
      "weft: fiber " + std::to_string(f->id) + " was unwound: its executor was destroyed"));
}

#ifdef WEFT_TRACE
// The trace event of a fiber's end (cold: it builds a string).
[[gnu::cold, gnu::noinline]] void trace_end(fiber* f) {
  record(f->error ? trace::event_kind::exception : trace::event_kind::finish, f,
         f->error ? describe_exception(f->error) : std::string());
}
#endif

// Everything a fiber runs: its body, then the bookkeeping of its end. Returns the context to
// resume for good.
context& run_fiber(fiber* f) {
  worker* w = f->resumed_by;
  load_eh_state(eh_state{}, w->thread_eh());  // a new fiber handles no exception yet
  w->after_start(*f);
  WEFT_TRACE_EVENT(trace::event_kind::start, f);
  if (f->cancelled) f->drop(f);  // never started: destroy the callable unrun
  else f->body(f);                // stores the result or the exception
  if (f->cancelled) [[unlikely]] set_unwound_error(f);
#ifdef WEFT_TRACE
  if (tracing_on.load(std::memory_order_relaxed)) [[unlikely]] trace_end(f);
#endif
  w = f->resumed_by;  // the fiber may have moved
  if (context* spawner = w->finish_short(*f)) return *spawner;
  fiber* joiner = w->core().publish_end(*w, f);
  w = f->resumed_by;  // a coroutine resumed by publish_end may have moved it again
  w->core().retire(*w, f);
  return w->finish(*f, joiner);
}

// The first and last code of every fiber (a fiber_entry): after the final switch annotation
// nothing instrumented may run on this stack, so it is left to the sanitizers, and it returns
// into the backend's fiber trampoline, which resumes the returned context. noexcept: nothing
// may unwind past it (see fiber::body).
WEFT_NO_TSAN WEFT_NO_ASAN context* fiber_main(void* arg) noexcept {
  auto* f = static_cast<fiber*>(arg);
  context& next = run_fiber(f);
  annotations::before_switch(f->ctx, next, true);
  return &next;
}

}  // namespace

constinit __attribute__((tls_model("initial-exec"))) thread_local thread_position position;

__attribute__((noinline)) fiber* current_fiber() noexcept { return position.current_fiber; }
__attribute__((noinline)) worker* current_worker() noexcept { return position.current_worker; }
__attribute__((noinline)) thread_position current_position() noexcept { return position; }

__attribute__((noinline)) executor_core* current_core() noexcept {
  fiber* f = position.current_fiber;
  return f ? f->owner : nullptr;
}

executor_core::executor_core(executor_options options)
    : options_(options),
      allocator_(options.stack_size, options.guard_pages, options.max_guarded_stacks,
                 options.max_cached_stacks) {
  if (options.workers == 0)
    throw std::invalid_argument("weft::executor: executor_options::workers must be at least 1");
  workers_.reserve(options.workers);
  for (std::size_t i = 0; i < options.workers; ++i)
    workers_.push_back(
        std::make_unique<worker>(*this, static_cast<std::uint32_t>(i), options.workers == 1));
  install_overflow_handler();
  enable_asymmetric_barriers();
  register_core(*this);
}

executor_core::~executor_core() = default;

void executor_core::release() noexcept {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    unregister_core(*this);
    delete this;
  }
}

void executor_core::hold_outside_spawn(fiber_memory& m) noexcept {
  m.outside_caller = &add_hold_of_this_thread();
}

void executor_core::release_outside_spawn(const fiber_memory& m) noexcept {
  if (m.outside_caller) drop_plain_thread_hold(*m.outside_caller);
}

void executor_core::throw_shutting_down() {
  throw std::logic_error("weft::executor::spawn: the executor is being destroyed");
}

void executor_core::drain_region_caches() noexcept {
  for (auto& w : workers_) {
    const std::size_t references = w->region_cache.count;
    allocator_.drain(w->region_cache);
    for (std::size_t i = 0; i < references; ++i) release();  // never the last: ours is held
  }
}

void executor_core::launch(fiber* f, const fiber_memory& memory) {
  f->owner = this;
  f->id = new_fiber_id();
  f->region = memory.region;
  f->guarded = memory.guarded;
  prepare_fiber_context(f->ctx, memory.stack, &fiber_main, f);
  const auto [here_worker, self] = current_position();
  WEFT_TRACE_EVENT(trace::event_kind::spawn, f, {}, self ? self->id : 0);
  if (self && self->owner == this) {
    // Depth-first: the child runs now, on this worker, and joins a live list only if it
    // suspends (worker::switch_to).
    worker& here = *here_worker;
    count_up(here.launched);
    f->started_by = self;
    here.start_now(*self, *f);
  } else {
    workers_[0]->add_live(f);  // queued unstarted: listed now
    launched_outside_.fetch_add(1, std::memory_order_seq_cst);
    inject(f);
    release_outside_spawn(memory);  // after the fiber is visible (see allocate)
  }
}

fiber* executor_core::publish_end(worker& here, fiber* f) noexcept {
  f->lock.lock();
  f->finished.store(true, std::memory_order_release);
  waiter* joiner = f->joiners.pop_front();
  std::coroutine_handle<> coroutine = std::exchange(f->awaiting_coroutine, nullptr);
  const bool detached = f->detached;
  f->lock.unlock();
  f->worker_frees = detached;  // nobody else will (see release_finished)
  if (detached && f->error && !f->cancelled) {
    report_detached_exception(*f);
    std::terminate();
  }
  // A joining fiber that may run here runs next, on this core while f's caches are warm:
  // with several workers, queueing it behind other work would let the workers start new
  // fibers while finished joins wait, and live fibers (and their stacks) pile up.
  fiber* run_next = nullptr;
  if (joiner) {
    fiber* j = joiner->blocked_fiber;
    if (j && j->owner == this && (!j->pinned || j->pinned == &here)) {
      WEFT_TRACE_EVENT(trace::event_kind::wake, j, {}, f->id);
      run_next = j;
    } else {
      wake(*joiner);
    }
  }
  // Still a live fiber: the coroutine may spawn, block or yield (and so move f elsewhere).
  if (coroutine) coroutine.resume();
  return run_next;
}

void executor_core::retire(worker& here, fiber* f) noexcept {
  if (f->live_list) f->live_list->remove_live(f);
  count_up(here.finished);
  // The end of run() (no fiber left) is seen by a worker that runs dry (worker::search) or
  // the last one to park; a join driving the executor waits for this one fiber.
  if (f == until_.load(std::memory_order_acquire)) stop_and_wake_all();
}

std::size_t executor_core::live() const noexcept {
  // Finishes first: a fiber counted finished was launched before, so reading the launches
  // afterwards counts it there too, and the difference never goes below zero.
  std::uint64_t finished = 0;
  for (auto& w : workers_) finished += w->finished.load(std::memory_order_acquire);
  std::uint64_t launched = launched_outside_.load(std::memory_order_seq_cst);
  for (auto& w : workers_) launched += w->launched.load(std::memory_order_acquire);
  return static_cast<std::size_t>(launched - finished);
}

void executor_core::schedule(fiber* f) noexcept {
  worker* w = current_worker();
  if (w && &w->core() == this) w->make_ready(f);
  else if (f->pinned) f->pinned->push_inbox(f);
  else inject(f);
}

void executor_core::inject(fiber* f) noexcept {
  injected_.push(f);
  notify_one_idle();
}

fiber* executor_core::steal_for(worker& thief) noexcept {
  const std::size_t n = workers_.size();
  const std::size_t start = thief.next_random() % n;
  for (std::size_t k = 0; k < n; ++k) {
    worker& victim = *workers_[(start + k) % n];
    if (&victim == &thief) continue;
    while (fiber* f = victim.steal(thief.steal_licence)) {
      if (f->pinned && f->pinned != &thief) {
        f->pinned->push_inbox(f);  // not ours to run: send it home
        continue;
      }
      WEFT_TRACE_EVENT(trace::event_kind::steal, f, {}, victim.index() + 1);
      return f;
    }
  }
  return nullptr;
}

void executor_core::notify_one_idle() noexcept {
  // Pairs with park(): either the parking worker sees our work in its re-check, or we see it
  // counted as idle here and wake it (asymmetric_barrier.hpp: the light side).
  // A searching worker will find the work itself.
  light_barrier();
  // Acquire: a worker clears its searching flag before it counts itself idle, so having seen
  // it idle we see the flag cleared.
  if (idle_.load(std::memory_order_acquire) == 0) return;
  for (auto& w : workers_)
    if (w->searching.load(std::memory_order_relaxed)) return;
  std::lock_guard guard(park_mutex_);
  for (auto& w : workers_)
    if (wake_if_parked_locked(*w)) return;
}

void executor_core::notify_worker(worker& w) noexcept {
  // The handshake of notify_one_idle, for one worker: if it parks after our load, its re-check
  // (work_visible, which looks at every inbox) sees our work.
  light_barrier();
  if (idle_.load(std::memory_order_relaxed) == 0) return;
  std::lock_guard guard(park_mutex_);
  wake_if_parked_locked(w);
}

bool executor_core::wake_if_parked_locked(worker& w) noexcept {
  if (!w.parked || w.wake_signal) return false;
  w.wake_signal = true;
  w.wakeup.notify_one();
  return true;
}

void executor_core::notify_idle_for_continuation(const fiber_deque& continuations) noexcept {
  if (continuations.look().size == 1 && brief_parkers_.load(std::memory_order_relaxed) > 0)
    return;
  notify_one_idle();
}

void executor_core::notify_all_workers() noexcept {
  std::lock_guard guard(park_mutex_);
  wake_parked_locked();
}

void executor_core::stop_and_wake_all() noexcept {
  stop_.store(true, std::memory_order_release);
  notify_all_workers();
}

void executor_core::wake_parked_locked() noexcept {
  for (auto& w : workers_)
    if (w->parked) {
      w->wake_signal = true;
      w->wakeup.notify_one();
    }
}

worker::visible_work executor_core::work_visible() noexcept {
  using enum worker::visible_work;
  if (has_injected()) return some;
  worker::visible_work most = none;
  for (auto& w : workers_) {
    const worker::visible_work seen = w->work_seen();
    if (seen == some) return some;
    if (seen == lone_continuation) most = lone_continuation;
  }
  return most;
}

bool executor_core::nothing_can_wake() const noexcept {
  return sleepers.load() == 0 && pending_awaits.load() == 0 && work_guards.load() == 0 &&
         threads_blocked_in_weft() == 0 && plain_thread_holds(runner_) == 0;
}

namespace {
// Takes one off `counter` when the scope ends; nothing if it is null.
struct decrement_at_exit {
  std::atomic<std::size_t>* counter;
  ~decrement_at_exit() {
    if (counter) counter->fetch_sub(1, std::memory_order_seq_cst);
  }
};
}  // namespace

bool executor_core::park(worker& w, bool have_timers,
                         std::chrono::steady_clock::time_point deadline, bool brief) {
  using namespace std::chrono_literals;
  // Counted idle, then the barrier, before the lock: a notifier that sees us idle takes
  // park_mutex_, and must not wait out a membarrier there.
  idle_.fetch_add(1, std::memory_order_seq_cst);
  heavy_barrier();  // pairs with notify_one_idle's light_barrier
  std::unique_lock guard(park_mutex_);
  // No longer idle once we leave, still under park_mutex_: a worker parking after us must
  // not count us idle while we run what we found.
  const decrement_at_exit leave_idle{&idle_};
  w.wake_signal = false;
  if (stop_.load(std::memory_order_acquire)) return false;
  const worker::visible_work seen = work_visible();
  // With every worker counted idle, no fiber runs, and each worker wrote its counts before it
  // counted itself idle: live() is exact.
  const bool all_idle = idle_.load() == workers_.size();
  if (seen == worker::visible_work::some) return true;
  if (seen == worker::visible_work::lone_continuation) {
    // Its worker runs the spawned child and most likely takes it back soon: look again after
    // a brief park rather than at once (each look costs this heavy barrier).
    if (all_idle) return true;  // nobody will take it back: ours
    brief = true;
  }
  // With every worker idle nobody pushes continuations: park as usual (a brief park would
  // only repeat the checks below, and widen the window of a plain thread's race with them).
  if (all_idle) brief = false;
  if (all_idle && nothing_left()) {
    stop_.store(true, std::memory_order_release);  // run(): nothing left, nobody will spawn
    wake_parked_locked();
    return false;
  }
  if (all_idle && !have_timers) {
    if (nothing_can_wake()) {
      // Every worker is idle, no queue holds a fiber, and nothing outside can make one ready.
      deadlocked_ = live() > 0;
      stop_.store(true, std::memory_order_release);
      wake_parked_locked();
      return false;
    }
    // Plain threads leaving weft calls do not notify us: re-check now and then while they
    // are the only thing that could wake a fiber.
    if (sleepers.load() == 0 && pending_awaits.load() == 0 && work_guards.load() == 0)
      deadline = std::chrono::steady_clock::now() + 50ms;
  }
  if (workers_.size() > 1)  // a lone worker's parking says nothing a trace reader needs
    WEFT_TRACE_EVENT(trace::event_kind::park, nullptr, have_timers ? "until a timer" : "");
  // A brief park ends by itself (then the worker searches again), so continuations need not
  // wake it meanwhile, nor anybody else: it will look at them (notify_for_continuation).
  const decrement_at_exit leave_brief{brief ? &brief_parkers_ : nullptr};
  if (brief) {
    brief_parkers_.fetch_add(1, std::memory_order_relaxed);
    deadline = std::min(deadline, std::chrono::steady_clock::now() + brief_park);
  }
  w.parked = true;
  auto woken = [&] { return w.wake_signal || stop_.load(std::memory_order_acquire); };
  if (deadline == std::chrono::steady_clock::time_point::max())
    w.wakeup.wait(guard, woken);
  else
    w.wakeup.wait_until(guard, deadline, woken);
  w.parked = false;
  return !stop_.load(std::memory_order_acquire);
}

bool executor_core::nothing_left() const noexcept {
  return until_.load(std::memory_order_acquire) == nullptr && live() == 0 &&
         work_guards.load() == 0;
}

bool executor_core::end_run_if_nothing_left() noexcept {
  if (!nothing_left()) return false;
  stop_and_wake_all();
  return true;
}

bool executor_core::try_claim_run() noexcept { return !running_.exchange(true); }
void executor_core::end_run() noexcept { running_.store(false); }

void executor_core::run_until(fiber* until) {
  if (until ? until->finished.load(std::memory_order_acquire)
            : live() == 0 && work_guards.load() == 0)
    return;
  until_.store(until, std::memory_order_release);
  stop_.store(false, std::memory_order_release);
  deadlocked_ = false;
  runner_ = this_plain_thread();  // before any worker runs (helpers start below)
  std::vector<std::thread> helpers;
  struct finish {
    executor_core& core;
    std::vector<std::thread>& helpers;
    ~finish() {
      core.stop_and_wake_all();
      for (auto& t : helpers) t.join();
      core.until_.store(nullptr, std::memory_order_release);
    }
  } at_end{*this, helpers};
  for (std::size_t i = 1; i < workers_.size(); ++i)
    helpers.emplace_back([this, i] { workers_[i]->run_loop(); });
  workers_[0]->run_loop();
  if (deadlocked_) throw deadlock_error(describe_blocked());
}

void executor_core::unwind_all() {
  shutting_down_.store(true, std::memory_order_release);
  if (live() == 0) {
    // Nothing to unwind. The region caches are drained only under a claimed run: a thread
    // still leaving run() could otherwise be caching a region at the same time (if one is,
    // the cached references keep the core alive: a leak, never a use after free).
    if (try_claim_run()) {
      drain_region_caches();
      end_run();
    }
    return;
  }
  if (!try_claim_run()) {
    std::fprintf(stderr, "weft: an executor was destroyed while a thread was running it\n");
    std::terminate();
  }
  const claimed_run claim(*this);
  // Every live fiber is marked; blocked ones are taken out of their primitives and made ready,
  // so their blocking call throws fiber_unwind and their stacks unwind. Fibers inside await()
  // cannot be taken back from whoever holds their handle: they are waited for. Neither can a
  // fiber that blocked while already unwinding (in a destructor): it will not be thrown into
  // (must_unwind), so it stays where it waits until it is woken as usual.
  std::vector<fiber*> unblocked;
  for_each_live([&](fiber* f) {
    f->cancelled = true;
    waiter* w = f->current_waiter;
    if (!w || f->waiting_on == wait_kind::await || suspended_while_unwinding(*f)) return;
    w->lock->lock();
    const bool queued = w->queue != nullptr;
    if (queued) w->queue->remove(*w);
    w->lock->unlock();
    if (queued) unblocked.push_back(f);
  });
  for (fiber* f : unblocked) inject(f);
  for (auto& w : workers_) w->release_sleepers();
  try {
    run_until(nullptr);
  } catch (const deadlock_error& e) {
    std::fprintf(stderr, "weft: while unwinding fibers at executor destruction: %s\n", e.what());
    std::terminate();
  }
  drain_region_caches();
}

std::string executor_core::describe_blocked() const {
  std::ostringstream list;
  std::size_t count = 0;
  for_each_live([&](fiber* f) {
    ++count;
    list << "\n  fiber " << f->id << " \"" << f->name << "\" waits on " << to_string(f->waiting_on);
    if (f->wait_object) list << " " << f->wait_object;
  });
  std::ostringstream out;
  out << "weft: deadlock: " << count << (count == 1 ? " fiber" : " fibers")
      << " can never be woken (no fiber is ready, no timer or await is pending, no plain thread"
         " is blocked in weft):"
      << list.str();
  return out.str();
}

}  // namespace weft::detail
