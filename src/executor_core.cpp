// The executor's internals (executor_core.hpp): fibers' start, ready fibers from any thread,
// parking and waking workers, the end of a run and deadlock reports, and unwinding at
// destruction. Also the detail:: functions through which <weft/executor.hpp>'s templates
// spawn.
#include "executor_core.hpp"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <sstream>
#include <thread>

#include "context/switch.hpp"
#include "fiber_end.hpp"
#include "overflow_handler.hpp"
#include "registry.hpp"
#include "scope_state.hpp"
#include "stack_memory.hpp"
#include "thread_parker.hpp"
#include "trace_points.hpp"
#include "unwinding.hpp"

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

// Takes one off `counter` when the scope ends; nothing if it is null.
struct decrement_at_exit {
  std::atomic<std::size_t>* counter;
  ~decrement_at_exit() {
    if (counter) counter->fetch_sub(1, std::memory_order_seq_cst);
  }
};

}  // namespace

// ---- what the templates of <weft/executor.hpp> call ---------------------------------------

fiber_memory allocate_fiber(executor_core& core, std::size_t bytes, std::size_t align) {
  return core.allocate(bytes, align);
}

void free_fiber_memory(executor_core& core, const fiber_memory& memory) noexcept {
  core.free_region(memory.region, memory.guarded, current_worker());
  executor_core::release_outside_spawn(memory);
}

fiber_head* launch(executor_core& core, const fiber_memory& memory, const task_ops& ops) {
  return core.launch(memory, ops);
}

fiber_memory allocate_fiber(executor_core& core, std::size_t bytes, std::size_t align,
                            const spawn_options& options) {
  return options.stack_size == 0 ? core.allocate(bytes, align)
                                 : core.allocate_sized(bytes, align, options.stack_size);
}

fiber_head* launch(executor_core& core, const fiber_memory& memory, const task_ops& ops,
                   const spawn_options* options, scope_state* scope) {
  return core.launch_with(memory, ops, options, scope);
}

void retain_core(executor_core& core) noexcept { core.retain(); }
void release_core(executor_core& core) noexcept { core.release(); }

// ---- lifetime ----------------------------------------------------------------------------

executor_core::executor_core(executor_options options)
    : options_(options),
      allocator_(options.stack_size, options.guard_pages, options.max_guarded_stacks,
                 options.max_cached_stacks),
      parking_(options.workers) {
  if (options.workers == 0)
    throw std::invalid_argument("weft::executor: executor_options::workers must be at least 1");
  if (options.deadlock_grace.count() < 0)
    throw std::invalid_argument(
        "weft::executor: executor_options::deadlock_grace must not be negative");
  if (options.blocking_threads == 0)
    throw std::invalid_argument(
        "weft::executor: executor_options::blocking_threads must be at least 1");
  workers_.reserve(options.workers);
  for (std::size_t i = 0; i < options.workers; ++i)
    workers_.push_back(
        std::make_unique<worker>(*this, static_cast<std::uint32_t>(i), options.workers == 1));
  install_overflow_handler();
  enable_asymmetric_barriers();
  register_core(*this);
}

executor_core::~executor_core() {
  // ~executor joined the pool (stop_blocking_pool); first anyway, while everything else is
  // still here.
  blocking_.reset();
}

void executor_core::release() noexcept {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    unregister_core(*this);
    delete this;
  }
}

// ---- fibers' memory and start ------------------------------------------------------------

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
    const std::size_t references = w->region_cache().count;
    allocator_.drain(w->region_cache());
    for (std::size_t i = 0; i < references; ++i) release();  // never the last: ours is held
  }
}

fiber_memory executor_core::allocate_sized(std::size_t bytes, std::size_t align,
                                           std::size_t stack_size) {
  if (round_stack_size(stack_size, "weft::spawn_options::stack_size") ==
      allocator_.region_size())
    return allocate(bytes, align);  // the executor's own size: a pooled stack
  if (shutting_down()) throw_shutting_down();
  fiber_memory m = allocator_.allocate_sized(stack_size, bytes, align);
  retain();
  if (!region_cache_of(current_worker())) hold_outside_spawn(m);  // not one of our fibers
  return m;
}

// prepare and start are inlined into launch: a plain spawn makes one call here.
[[gnu::always_inline]] inline fiber* executor_core::prepare(const fiber_memory& memory,
                                                            const task_ops& ops) noexcept {
  fiber* f = ::new (memory.control) fiber(this, new_fiber_id(), memory, ops);
  prepare_fiber_context(f->ctx, memory.stack, &fiber_main, f);
  return f;
}

[[gnu::always_inline]] inline fiber* executor_core::start(fiber* f,
                                                          thread_parker* outside_caller,
                                                          bool pinned) {
  const auto [here_worker, self] = current_position();
  WEFT_TRACE_EVENT(trace::event_kind::spawn, f, {}, self ? self->id : 0);
  if (self && self->owner == this) {
    // Depth-first: the child runs now, on this worker, and joins a live list only if it
    // suspends (worker::switch_to).
    worker& here = *here_worker;
    here.count_launch();
    f->started_by = self;
    if (pinned) [[unlikely]] f->pinned = &here;
    here.start_now(*self, *f);
  } else {
    workers_[0]->live().add(f);  // queued unstarted: listed now
    launched_outside_.fetch_add(1, std::memory_order_seq_cst);
    if (pinned) [[unlikely]] {
      f->pinned = workers_[0].get();
      workers_[0]->push_inbox(f);
    } else {
      inject(f);
    }
    if (outside_caller) drop_plain_thread_hold(*outside_caller);  // after it is visible
  }
  return f;
}

fiber* executor_core::launch(const fiber_memory& memory, const task_ops& ops) {
  return start(prepare(memory, ops), memory.outside_caller, false);
}

fiber* executor_core::launch_with(const fiber_memory& memory, const task_ops& ops,
                                  const spawn_options* options, scope_state* scope) {
  fiber* f = prepare(memory, ops);
  if (options) {
    try {
      f->name.assign(options->name);
    } catch (...) {  // no memory for the name: the fiber was never started
      f->~fiber();
      free_fiber_memory(*this, memory);
      throw;
    }
  }
  if (options && options->own_fp_env) {
    f->own_fp_env = true;
    f->fp = fp_env::current();  // the spawner's, as a thread inherits its creator's
  }
  if (scope) scope->adopt(*f);
  return start(f, memory.outside_caller, options && options->pinned);
}

std::size_t executor_core::live() const noexcept {
  // Finishes first: a fiber counted finished was launched before, so reading the launches
  // afterwards counts it there too, and the difference never goes below zero.
  std::uint64_t finished = 0;
  for (auto& w : workers_) finished += w->finished();
  std::uint64_t launched = launched_outside_.load(std::memory_order_seq_cst);
  for (auto& w : workers_) launched += w->launched();
  return static_cast<std::size_t>(launched - finished);
}

// ---- ready fibers ------------------------------------------------------------------------

void executor_core::schedule(fiber* f) noexcept {
  worker* w = current_worker();
  if (w && &w->core() == this) [[likely]] {
    w->make_ready(f);
    return;
  }
  // From a plain thread or another executor: once `f` is queued it may run, end, and let its
  // executor be destroyed while this thread still wakes a parked worker. A reference of our
  // own keeps the core alive until we are out.
  retain();
  const core_ref hold = core_ref::adopt(this);
  note_call_from_outside();
  if (f->pinned) f->pinned->push_inbox(f);
  else inject(f);
}

void executor_core::inject(fiber* f) noexcept {
  injected_.push(f);
  notify_one_idle();
}

// ---- parking -----------------------------------------------------------------------------

void executor_core::notify_one_idle() noexcept {
  // Pairs with park(): either the parking worker sees our work in its re-check, or we see it
  // counted as idle here and wake it (asymmetric_barrier.hpp: the light side).
  // A searching worker will find the work itself.
  light_barrier();
  // Acquire: a worker clears its searching flag before it counts itself idle, so having seen
  // it idle we see the flag cleared.
  if (idle_.load(std::memory_order_acquire) == 0) return;
  for (auto& w : workers_)
    if (w->searching()) return;
  thread_lock guard(parking_.mutex());
  parking_.wake_one();
}

void executor_core::notify_worker(worker& w) noexcept {
  // The handshake of notify_one_idle, for one worker: if it parks after our load, its re-check
  // (work_visible, which looks at every inbox) sees our work.
  light_barrier();
  if (idle_.load(std::memory_order_relaxed) == 0) return;
  thread_lock guard(parking_.mutex());
  parking_.wake(w.index());
}

void executor_core::notify_idle_for_continuation(const fiber_deque& continuations) noexcept {
  if (continuations.look().size == 1 && brief_parkers_.load(std::memory_order_relaxed) > 0)
    return;
  notify_one_idle();
}

void executor_core::notify_all_workers() noexcept {
  thread_lock guard(parking_.mutex());
  parking_.wake_all();
}

void executor_core::stop_and_wake_all() noexcept {
  stop_.store(true, std::memory_order_release);
  notify_all_workers();
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
  const reactor* io = reactor_.load(std::memory_order_acquire);
  return !timers_armed() && pending_awaits.load() == 0 && work_guards.load() == 0 &&
         (!io || io->waiting() == 0) && threads_blocked_in_weft() == 0 &&
         plain_thread_holds(runner_) == 0;
}

bool executor_core::timers_armed() const noexcept {
  for (const auto& w : workers_)
    if (!w->timers().empty()) return true;
  return false;
}

// ---- file descriptors --------------------------------------------------------------------

reactor& executor_core::io() {
  if (reactor* r = reactor_.load(std::memory_order_acquire)) return *r;
  thread_lock guard(reactor_mutex_);
  if (!reactor_owner_) {
    reactor_owner_ = std::make_unique<reactor>();
    reactor_.store(reactor_owner_.get(), std::memory_order_release);
  }
  return *reactor_owner_;
}

void executor_core::stop_blocking_pool() noexcept {
  std::unique_ptr<blocking_pool> pool;
  {
    thread_lock guard(reactor_mutex_);
    pool = std::move(blocking_);
  }
  // pool's destructor joins its threads here, outside the lock.
}

blocking_pool& executor_core::blocking() {
  thread_lock guard(reactor_mutex_);
  if (!blocking_) blocking_ = std::make_unique<blocking_pool>(options_.blocking_threads);
  return *blocking_;
}

bool executor_core::poll_io_now(std::size_t room) noexcept {
  reactor* io = reactor_.load(std::memory_order_acquire);
  if (!io || io->waiting() == 0 || parking_.polling() || room == 0) return false;
  return io->poll(std::chrono::steady_clock::time_point{},
                  static_cast<int>(std::min<std::size_t>(room, reactor::max_batch)));
}

executor_core::park_end executor_core::park(worker& w, bool have_timers,
                                            std::chrono::steady_clock::time_point deadline,
                                            bool brief) {
  using namespace std::chrono_literals;
  // Counted idle, then the barrier, before the lock: a notifier that sees us idle takes the
  // parking mutex, and must not wait out a membarrier there.
  idle_.fetch_add(1, std::memory_order_seq_cst);
  heavy_barrier();  // pairs with notify_one_idle's light_barrier
  thread_lock guard(parking_.mutex());
  // No longer idle once we leave, still under the mutex: a worker parking after us must not
  // count us idle while we run what we found.
  const decrement_at_exit leave_idle{&idle_};
  parking_.clear_signal(w.index());
  if (stop_.load(std::memory_order_acquire)) return park_end::stop;
  deadline = std::min(deadline, run_deadline());  // a timed join driving us ends then
  const worker::visible_work seen = work_visible();
  // With every worker counted idle, no fiber runs, and each worker wrote its counts before it
  // counted itself idle: live() is exact.
  const bool all_idle = idle_.load() == workers_.size();
  if (seen == worker::visible_work::some) return park_end::unsignalled;
  if (seen == worker::visible_work::lone_continuation) {
    // Its worker runs the spawned child and most likely takes it back soon: look again after
    // a brief park rather than at once (each look costs this heavy barrier).
    if (all_idle) return park_end::unsignalled;  // nobody will take it back: ours
    brief = true;
  }
  // With every worker idle nobody pushes continuations: park as usual (a brief park would
  // only repeat the checks below, and widen the window of a plain thread's race with them).
  if (all_idle) brief = false;
  if (all_idle && nothing_left()) {
    stop_.store(true, std::memory_order_release);  // run(): nothing left, nobody will spawn
    parking_.wake_all();
    return park_end::stop;
  }
  const bool stuck = all_idle && !have_timers && nothing_can_wake();
  if (!stuck) stuck_ = false;
  if (stuck) {
    // Every worker is idle, no queue holds a fiber, and nothing we can see can make one ready.
    // A thread about to call in cannot be seen: wait out the grace period first.
    const auto now = std::chrono::steady_clock::now();
    const std::uint64_t calls = calls_from_outside();
    if (!stuck_ || calls != stuck_calls_) {
      stuck_ = true;
      stuck_since_ = now;
      stuck_calls_ = calls;
    }
    if (now - stuck_since_ >= options_.deadlock_grace) {
      stuck_ = false;
      deadlocked_ = live() > 0;
      stop_.store(true, std::memory_order_release);
      parking_.wake_all();
      return park_end::stop;
    }
    deadline = std::min(deadline, stuck_since_ + options_.deadlock_grace);
  } else if (all_idle && !have_timers) {
    // Plain threads leaving weft calls do not notify us: re-check now and then while they
    // are the only thing that could wake a fiber.
    if (!timers_armed() && pending_awaits.load() == 0 && work_guards.load() == 0)
      deadline = std::chrono::steady_clock::now() + 50ms;
  }
  // Another worker's timers are fired here if it is stuck past worker::stall_bound
  // (worker::rescue_overdue_timers): look then, while it is not parked (a parked one fires
  // its own).
  for (auto& other : workers_) {
    const auto due = other->timers().earliest();
    if (other.get() != &w && due != std::chrono::steady_clock::time_point::max() &&
        !parking_.parked(other->index()))
      deadline = std::min(deadline, due + worker::stall_bound);
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
  // With fibers waiting on descriptors, one parked worker waits in the reactor's poll.
  reactor* io = reactor_.load(std::memory_order_acquire);
  bool signalled;
  if (io && io->waiting() > 0 && !parking_.polling()) {
    signalled = parking_.sleep_polling(w.index(), deadline, stop_, *io);
    // Others may still wait on descriptors while this worker runs what it found: a parked
    // worker takes over the poll.
    if (io->waiting() > 0) parking_.wake_one_sleeper();
  } else {
    signalled = parking_.sleep(guard, w.index(), deadline, stop_);
  }
  if (stop_.load(std::memory_order_acquire)) return park_end::stop;
  return signalled ? park_end::signalled : park_end::unsignalled;
}

// ---- running -----------------------------------------------------------------------------

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

void executor_core::run_until_done(const std::atomic<bool>& done) {
  // Published, then read (note_done: the flag set, then this read): either the scope's last
  // child sees our flag here, or we see it set.
  until_done_.store(&done, std::memory_order_seq_cst);
  struct forget {
    std::atomic<const std::atomic<bool>*>& flag;
    ~forget() { flag.store(nullptr, std::memory_order_seq_cst); }
  } at_end{until_done_};
  if (!done.load(std::memory_order_seq_cst)) run_until(nullptr);
}

void executor_core::run_until(fiber* until, deadline stop_at) {
  if (until ? until->finished.load(std::memory_order_acquire)
            : live() == 0 && work_guards.load() == 0)
    return;
  until_.store(until, std::memory_order_release);
  run_deadline_.store(stop_at, std::memory_order_relaxed);
  stop_.store(false, std::memory_order_release);
  {
    thread_lock guard(parking_.mutex());
    deadlocked_ = false;
    stuck_ = false;
  }
  runner_ = &this_thread_parker();  // before any worker runs (helpers start below)
  std::vector<std::thread> helpers;
  struct finish {
    executor_core& core;
    std::vector<std::thread>& helpers;
    ~finish() {
      core.stop_and_wake_all();
      for (auto& t : helpers) t.join();
      core.until_.store(nullptr, std::memory_order_release);
      core.run_deadline_.store(detail::deadline::max(), std::memory_order_relaxed);
    }
  } at_end{*this, helpers};
  for (std::size_t i = 1; i < workers_.size(); ++i)
    helpers.emplace_back([this, i] { workers_[i]->run_loop(); });
  workers_[0]->run_loop();
  bool deadlocked;
  {
    thread_lock guard(parking_.mutex());
    deadlocked = deadlocked_;
  }
  if (deadlocked) throw deadlock_error(describe_blocked());
}

// ---- destruction -------------------------------------------------------------------------

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
    f->unwind_requested = true;
    waiter* w = f->current_waiter;
    if (!w || f->waiting_on == wait_kind::await || blocked_while_unwinding(*f)) return;
    w->lock->lock();
    // A timed wait or a select may have been claimed already (by a timeout, or through
    // another of its waiters): then its wake is on its way, and the unwinding follows it.
    const bool ours = w->queue != nullptr && (!w->token || w->token->claim(w));
    if (ours) w->queue->remove(*w);
    w->lock->unlock();
    if (ours) unblocked.push_back(f);
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
    list << (f->ops->runs_coroutine ? "\n  task " : "\n  fiber ") << f->id << " \"" << f->name << "\" waits on " << to_string(f->waiting_on);
    if (f->waiting_on == wait_kind::io_read || f->waiting_on == wait_kind::io_write)
      list << " of fd " << static_cast<const io_descriptor*>(f->wait_object)->fd;
    else if (f->wait_object)
      list << " " << f->wait_object;
  });
  std::ostringstream out;
  out << "weft: deadlock: " << count << (count == 1 ? " fiber" : " fibers")
      << " can never be woken (no fiber is ready, no timer or await is pending, no plain thread"
         " is blocked in weft):"
      << list.str()
      << "\n  (if a plain thread or another executor will wake them later, hold an"
         " executor::work_guard until it has)";
  return out.str();
}

}  // namespace weft::detail
