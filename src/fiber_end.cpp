// A fiber's life after it runs (fiber_end.hpp): run, publish its end, retire, release, detach,
// free.
//
// The end takes one of two ways. The short one (worker::end_short) is for a fiber that ran to
// its end on the worker its spawn started it on without ever suspending, whose spawner's
// continuation is still in that worker's deque: no join handle exists yet, so nothing can
// race the end, and it is published with plain stores, counted, and followed by the spawner.
// The long one publishes the end under the fiber's lock to a joiner who may be registering on
// another thread (publish_end), retires the fiber (retire), and switches away
// (worker::next_after_end).
// The memory has no reference count: whoever of the worker and the handle lets go last frees
// it (fiber::worker_frees, switched_out).
#include "fiber_end.hpp"

#include <cxxabi.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <typeinfo>

#include "context/switch.hpp"
#include "current.hpp"
#include "eh_state.hpp"
#include "fiber_local_table.hpp"
#include "scope_state.hpp"
#include "spin.hpp"
#include "stop_request.hpp"
#include "trace_points.hpp"
#include "unwinding.hpp"

namespace weft::detail {
namespace {

// A type's name as written in C++ ("std::runtime_error"), or its mangled name if that fails.
std::string readable_type_name(const std::type_info& type) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(type.name());
}

}  // namespace

std::string describe_exception(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return readable_type_name(typeid(e)) + ": " + e.what();
  } catch (...) {
    const std::type_info* type = abi::__cxa_current_exception_type();
    return type ? readable_type_name(*type) + " (not derived from std::exception)"
                : std::string("unknown exception");
  }
}

namespace {

// Whether the exception `f` ended with is for nobody to report if its handle is dropped: its
// executor unwound it, its scope reports failures, or it is a cancellation.
bool nobody_reports(const fiber& f) noexcept {
  return f.unwind_requested || f.scope || is_cancellation(f.error);
}

// The one line for an exception nobody can ever join, then std::terminate.
[[noreturn]] void terminate_unjoined(const fiber& f, const char* how) noexcept {
  std::string what;
  try {
    what = describe_exception(f.error);
  } catch (...) {
    what = "(could not describe the exception)";
  }
  std::fprintf(stderr, "weft: exception escaped fiber %llu \"%s\" (%s), nobody can join it: %s\n",
               static_cast<unsigned long long>(f.id), f.name.c_str(), how, what.c_str());
  std::fflush(stderr);
  std::terminate();
}

#ifdef WEFT_TRACE
// The trace event of a fiber's end (cold: it builds a string).
[[gnu::cold, gnu::noinline]] void trace_end(fiber* f) {
  record(f->error ? trace::event_kind::exception : trace::event_kind::finish, f,
         f->error ? describe_exception(f->error) : std::string());
}
#endif

// Marks `f` finished and wakes whoever waits for it; returns the fiber to run next on `here`
// (see worker::next_after_end): the joining fiber, if it may run here. A coroutine co_awaiting
// it is resumed here, with `f` still live and current: it may spawn, block or yield.
// Out of line, as retire: the usual end (end_short) then saves fewer registers.
[[gnu::noinline]] fiber* publish_end(worker& here, fiber* f) noexcept {
  f->lock.lock();
  f->finished.store(true, std::memory_order_release);
  waiter* joiner = f->joiners.pop_front();
  std::coroutine_handle<> coroutine = std::exchange(f->awaiting_coroutine, nullptr);
  const bool detached = f->detached;
  f->lock.unlock();
  f->worker_frees = detached;  // nobody else will (see release_finished)
  if (detached && f->error && !nobody_reports(*f)) terminate_unjoined(*f, "detached");
  // A joining fiber that may run here runs next, on this core while f's caches are warm:
  // with several workers, queueing it behind other work would let the workers start new
  // fibers while finished joins wait, and live fibers (and their stacks) pile up.
  fiber* run_next = nullptr;
  if (joiner) {
    fiber* j = joiner->blocked_fiber;
    if (j && j->owner == f->owner && (!j->pinned || j->pinned == &here)) {
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

// Off the live list and counted finished on `here`; then the end of a join driving the
// executor, if it waited for `f`. The end of run() (no fiber left) is seen by a worker that
// runs dry (worker::search) or the last one to park.
[[gnu::noinline]] void retire(worker& here, fiber* f) noexcept {
  if (f->live_in) f->live_in->remove(f);
  here.count_finish();
  f->owner->note_retired(f);
}

// Everything a fiber runs: its task, then the bookkeeping of its end. Returns the context to
// resume for good.
context& run_fiber(fiber* f) {
  worker* w = f->resumed_by;
  load_eh_state(eh_state{}, w->thread_eh());  // a new fiber handles no exception yet
  if (f->own_fp_env) [[unlikely]] f->fp.make_current();
  w->after_start(*f);
  WEFT_TRACE_EVENT(trace::event_kind::start, f);
  if (f->unwind_requested) f->ops->drop(f->task);  // never started: destroy the callable unrun
  else f->ops->run(f->task, *f);                   // stores the result or the exception
  if (f->unwind_requested) [[unlikely]] set_unwound_error(*f);
  if (f->locals.size) destroy_local_table(f->locals);  // on the fiber, before its end is published
  f->resumed_by->leave_fp_env(*f);  // the rest of its end runs in the thread's
  f->own_fp_env = false;
  if (f->scope) f->scope->child_returned(*f);
#ifdef WEFT_TRACE
  if (tracing_on.load(std::memory_order_relaxed)) [[unlikely]] trace_end(f);
#endif
  w = f->resumed_by;  // the fiber may have moved
  // A scope's child leaves it once its end is published (the scope may be gone after that):
  // its memory is freed only once it has switched away.
  if (context* spawner = w->end_short(*f)) {
    if (f->scope) f->scope->child_ended(*f);
    return *spawner;
  }
  fiber* joiner = publish_end(*w, f);
  if (f->scope) f->scope->child_ended(*f);
  w = f->resumed_by;  // a coroutine resumed by publish_end may have moved it again
  retire(*w, f);
  return w->next_after_end(*f, joiner);
}

}  // namespace

// After the final switch annotation nothing instrumented may run on this stack, so it is left
// to the sanitizers, and it returns into the backend's fiber trampoline, which resumes the
// returned context. noexcept: nothing may unwind past it (see task_ops::run).
WEFT_NO_TSAN WEFT_NO_ASAN context* fiber_main(void* arg) noexcept {
  auto* f = static_cast<fiber*>(arg);
  context& next = run_fiber(f);
  annotations::before_switch(f->ctx, next, true);
  return &next;
}

// ---- the handle's side -------------------------------------------------------------------

void wait_until_finished(fiber_head& head) { wait_until_finished(head, deadline::max()); }

bool wait_until_finished(fiber_head& head, deadline stop_at) {
  fiber& f = control_of(head);
  if (f.finished.load(std::memory_order_acquire)) return true;
  executor_core& core = *f.owner;
  if (!current_fiber() && core.try_claim_run()) {
    // A plain thread and nobody runs the executor: drive it here until f is done (or the
    // deadline passes).
    const claimed_run claim(core);
    core.run_until(&f, stop_at);
    return f.finished.load(std::memory_order_acquire);
  }
  f.lock.lock();
  if (f.finished.load(std::memory_order_acquire)) {
    f.lock.unlock();
    return true;
  }
  waiter w;
  f.joiners.push_back(w);
  return block_until(w, f.lock, wait_kind::join, &f, stop_at);
}

bool await_finished(fiber_head& head, std::coroutine_handle<> h) {
  fiber& f = control_of(head);
  spin_guard guard(f.lock);
  if (f.finished.load(std::memory_order_acquire)) return false;
  f.awaiting_coroutine = h;
  return true;
}

void release_finished(fiber_head& head) noexcept {
  fiber& f = control_of(head);
  const thread_position here = current_position();
  if (here.current_fiber == &f) {
    // A coroutine co_awaiting f, resumed by f's own end (publish_end), on f's stack: the
    // worker frees f once it has switched away from it.
    f.worker_frees = true;
    return;
  }
  // f has finished; its worker is at most a few instructions from switching away for good
  // (only if the release comes from another thread).
  spin_then_yield backoff{1024};
  while (!f.switched_out.load(std::memory_order_acquire)) backoff.wait();
  free_fiber(f, here.current_worker);
}

void throw_empty_handle(const char* call) {
  throw std::logic_error(std::string("weft::join_handle::") + call +
                         ": the handle is empty (joined already, detached, or moved from)");
}

void detach_handle(fiber_head& head) noexcept {
  fiber& f = control_of(head);
  f.lock.lock();
  f.detached = true;
  f.awaiting_coroutine = nullptr;  // a coroutine destroyed while it co_awaited this handle
  const bool finished = f.finished.load(std::memory_order_acquire);
  f.lock.unlock();
  if (!finished) return;  // publish_end sees `detached`: the worker frees it
  if (f.error && !nobody_reports(f)) {  // finished with an exception nobody will ever see
    terminate_unjoined(f, "its handle was dropped");
  }
  release_finished(f);
}

}  // namespace weft::detail
