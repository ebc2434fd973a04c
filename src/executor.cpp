// executor and executor_core: fiber lifecycle, remote wakeups, parking, deadlock reports.
#include <cstdio>
#include <memory>
#include <exception>
#include <sstream>
#include <thread>
#include <typeinfo>

#include "executor_core.hpp"
#include "overflow_handler.hpp"
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

// Where this thread is: its worker and running fiber. Read and written only through the
// non-inlined functions below, so a fiber resumed on another thread never uses an address of
// the old thread's copy that the compiler cached across a switch.
struct thread_position {
  worker* current_worker = nullptr;
  fiber* current_fiber = nullptr;
};
__attribute__((tls_model("initial-exec"))) thread_local thread_position position;

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

// The first and last code of every fiber.
void fiber_main(void* arg) {
  auto* f = static_cast<fiber*>(arg);
  worker* w = current_worker();
  w->after_switch();
  w->core().add_started(f);
  WEFT_TRACE_EVENT(trace::event_kind::start, f);
  if (f->cancelled) f->drop(f);  // never started: destroy the callable unrun
  else f->body(f);                // stores the result or the exception
  if (f->cancelled)
    f->error = std::make_exception_ptr(std::runtime_error(
        "weft: fiber " + std::to_string(f->id) + " was unwound: its executor was destroyed"));
  WEFT_TRACE_EVENT(f->error ? trace::event_kind::exception : trace::event_kind::finish, f,
                   f->error ? describe_exception(f->error) : std::string());
  w = current_worker();  // the fiber may have moved
  w->core().on_finished(f);
  w->exit(*f);
}

}  // namespace

__attribute__((noinline)) fiber* current_fiber() noexcept { return position.current_fiber; }
__attribute__((noinline)) worker* current_worker() noexcept { return position.current_worker; }
__attribute__((noinline)) void set_current(worker* w, fiber* f) noexcept { position = {w, f}; }

executor_core* current_core() noexcept {
  fiber* f = current_fiber();
  return f ? f->owner : nullptr;
}

executor_core::executor_core(executor_options options)
    : options_(options),
      allocator_(options.stack_size, options.guard_pages, options.max_guarded_stacks,
                 options.max_cached_stacks),
      worker_(*this) {
  install_overflow_handler();
  register_core(*this);
}

void executor_core::release() noexcept {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    unregister_core(*this);
    delete this;
  }
}

fiber_memory executor_core::allocate(std::size_t bytes, std::size_t align) {
  if (shutting_down())
    throw std::logic_error("weft::executor::spawn: the executor is being destroyed");
  fiber_memory m = allocator_.allocate(bytes, align);
  retain();
  return m;
}

void executor_core::free_region(const stack_span& region, bool guarded) noexcept {
  allocator_.free(region, guarded);
  release();
}

void executor_core::launch(fiber* f, const fiber_memory& memory) {
  f->owner = this;
  f->home = &worker_;
  f->id = new_fiber_id();
  f->region = memory.region;
  f->guarded = memory.guarded;
  std::destroy_at(&f->ctx);
  std::construct_at(&f->ctx, memory.stack, &fiber_main, f);
  live_.fetch_add(1, std::memory_order_acq_rel);
  fiber* self = current_fiber();
  WEFT_TRACE_EVENT(trace::event_kind::spawn, f, {}, self ? self->id : 0);
  worker* w = current_worker();
  if (self && self->owner == this && w == &worker_) {
    w->start_now(*self, *f);  // depth-first: the child runs now
  } else {
    push_remote(f);
  }
}

void executor_core::add_started(fiber* f) noexcept {
  f->prev_live = nullptr;
  f->next_live = started_head_;
  if (started_head_) started_head_->prev_live = f;
  started_head_ = f;
}

void executor_core::on_finished(fiber* f) noexcept {
  if (f->prev_live) f->prev_live->next_live = f->next_live;
  else started_head_ = f->next_live;
  if (f->next_live) f->next_live->prev_live = f->prev_live;
  f->lock.lock();
  f->finished.store(true, std::memory_order_release);
  waiter* joiner = f->joiners.pop_front();
  std::coroutine_handle<> coroutine = std::exchange(f->awaiting_coroutine, nullptr);
  const bool detached = f->detached;
  f->lock.unlock();
  live_.fetch_sub(1, std::memory_order_acq_rel);
  if (detached && f->error && !f->cancelled) {
    report_detached_exception(*f);
    std::terminate();
  }
  if (joiner) wake(*joiner);
  if (coroutine) coroutine.resume();
  if (live() == 0) notify_parked();  // a thread may be waiting for run() to end
}

void executor_core::schedule(fiber* f) noexcept {
  worker* w = current_worker();
  if (w == f->home) w->make_ready(f);
  else push_remote(f);
}

void executor_core::push_remote(fiber* f) noexcept {
  std::lock_guard guard(remote_mutex_);
  remote_.push_back(f);
  remote_pending_.store(true, std::memory_order_release);
  if (parked_) remote_cv_.notify_one();
}

bool executor_core::take_remote(ready_queue& into) noexcept {
  if (!remote_pending_.load(std::memory_order_acquire)) return false;
  std::lock_guard guard(remote_mutex_);
  into.append(remote_);
  remote_pending_.store(false, std::memory_order_relaxed);
  return true;
}

void executor_core::notify_parked() noexcept {
  std::lock_guard guard(remote_mutex_);
  if (parked_) remote_cv_.notify_all();
}

bool executor_core::park(bool have_timers, std::chrono::steady_clock::time_point deadline) {
  using namespace std::chrono_literals;
  std::unique_lock guard(remote_mutex_);
  if (!remote_.empty()) return true;
  const bool external = pending_awaits.load() > 0 || work_guards.load() > 0;
  const bool threads = threads_blocked_in_weft() > 0;
  if (!have_timers && !external && !threads) return false;
  // Plain threads leaving weft calls do not notify us: re-check now and then while they are
  // the only reason to wait.
  if (!have_timers && !external) deadline = std::chrono::steady_clock::now() + 50ms;
  parked_ = true;
  if (deadline == std::chrono::steady_clock::time_point::max())
    remote_cv_.wait(guard, [&] {
      return !remote_.empty() ||
             (!have_timers && pending_awaits.load() == 0 && work_guards.load() == 0);
    });
  else
    remote_cv_.wait_until(guard, deadline, [&] { return !remote_.empty(); });
  parked_ = false;
  return true;
}

bool executor_core::try_claim_run() noexcept { return !running_.exchange(true); }
void executor_core::end_run() noexcept {
  running_.store(false);
}

void executor_core::run_until(fiber* until) { worker_.run_loop(until); }

void executor_core::unwind_all() {
  shutting_down_.store(true, std::memory_order_release);
  if (live() == 0) return;
  if (!try_claim_run()) {
    std::fprintf(stderr, "weft: an executor was destroyed while a thread was running it\n");
    std::terminate();
  }
  struct end_run {
    executor_core& core;
    ~end_run() { core.end_run(); }
  } release{*this};
  // Every live fiber is marked; blocked ones are taken out of their primitives and made ready,
  // so their blocking call throws fiber_unwind and their stacks unwind. Fibers inside await()
  // cannot be taken back from whoever holds their handle: they are waited for.
  ready_queue unblocked;
  {
    for (fiber* f = started_head_; f; f = f->next_live) {
      f->cancelled = true;
      waiter* w = f->current_waiter;
      if (!w || f->waiting_on == wait_kind::await) continue;
      w->lock->lock();
      const bool queued = w->queue != nullptr;
      if (queued) w->queue->remove(*w);
      w->lock->unlock();
      if (queued) unblocked.push_back(f);
    }
  }
  worker_.clear_timers_into_ready();
  {
    std::lock_guard guard(remote_mutex_);
    remote_.append(unblocked);
    remote_pending_.store(true);
  }
  try {
    worker_.run_loop(nullptr);
  } catch (const deadlock_error& e) {
    std::fprintf(stderr, "weft: while unwinding fibers at executor destruction: %s\n", e.what());
    std::terminate();
  }
}

std::string executor_core::describe_blocked() const {
  std::ostringstream out;
  std::size_t count = 0;
  for (fiber* f = started_head_; f; f = f->next_live) ++count;
  out << "weft: deadlock: " << count << (count == 1 ? " fiber" : " fibers")
      << " can never be woken (no fiber is ready, no timer or await is pending, no plain thread"
         " is blocked in weft):";
  for (fiber* f = started_head_; f; f = f->next_live) {
    out << "\n  fiber " << f->id << " \"" << f->name << "\" waits on " << to_string(f->waiting_on);
    if (f->wait_object) out << " " << f->wait_object;
  }
  return out.str();
}

}  // namespace weft::detail
