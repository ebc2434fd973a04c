// What the running fiber can do to itself (include/weft/this_fiber.hpp): yield, sleep, its id,
// name and pinning.
#include <weft/this_fiber.hpp>

#include <stdexcept>
#include <string>
#include <thread>

#include "current.hpp"
#include "fiber.hpp"
#include "stop_request.hpp"
#include "timer_heap.hpp"
#include "trace_points.hpp"
#include "unwinding.hpp"
#include "worker.hpp"

namespace weft::detail {
namespace {
[[noreturn, gnu::cold, gnu::noinline]] void throw_outside_fiber(const char* call) {
  throw std::logic_error(std::string(call) + ": called outside a fiber");
}

// The calling fiber and its worker; throws outside fibers, and fiber_unwind when its executor
// is unwinding it. The throws are out of line: every yield and sleep passes here.
thread_position require_fiber(const char* call) {
  const thread_position here = current_position();
  if (!here.current_fiber) [[unlikely]] throw_outside_fiber(call);
  if (must_unwind(*here.current_fiber)) [[unlikely]] throw_fiber_unwind();
  return here;
}

// The calling fiber, for the calls below that need no worker; throws outside fibers.
fiber& require_fiber_only(const char* call) {
  fiber* f = current_fiber();
  if (!f) [[unlikely]] throw_outside_fiber(call);
  return *f;
}
}  // namespace

void sleep_until(std::chrono::steady_clock::time_point deadline, const char* call)
    WEFT_NO_THREAD_SAFETY_ANALYSIS {  // self.lock is released by the worker after the switch
  const auto [w, f] = require_fiber(call);
  fiber& self = *f;
  // An interruption point, unless an exception unwinds the fiber (see stop_request.hpp).
  if (stop_due(self)) throw_cancelled();
  if (deadline == std::chrono::steady_clock::time_point::min()) {  // no wait at all: a yield
    WEFT_TRACE_EVENT(trace::event_kind::sleep, &self);  // (a longer sleep's: in suspend)
    w->yield(self);
    return;
  }
  timer_slot timer{deadline, &self, &self.token};
  w->timers().reserve_one();
  self.waiting_on = wait_kind::sleep;
  // The fiber's own lock, held until its timer is armed: what a stop's wake waits for
  // (stop_request.hpp).
  self.lock.lock();
  after_switch_actions& actions = w->actions();
  actions.blocked = &self;  // its token opened once our context is saved, then:
  actions.stoppable = true;
  actions.arm = &timer;     // armed, then:
  actions.unlock = &self.lock;
  w->suspend(self);
  self.waiting_on = wait_kind::none;
  if (self.token.stopped_by_request()) [[unlikely]] {
    { spin_guard armed(self.lock); }
    timer.heap->cancel(timer);
    throw_cancelled();
  }
  if (must_unwind(self)) throw_fiber_unwind();
}

}  // namespace weft::detail

namespace weft::this_fiber {

void yield() {
  const auto [w, self] = detail::require_fiber("weft::this_fiber::yield");
  w->yield(*self);
}

__attribute__((noinline)) std::thread::id thread_now() noexcept {
  asm volatile("" ::: "memory");  // not `const`: the answer changes when the fiber migrates
  return std::this_thread::get_id();
}

std::uint64_t id() noexcept {
  detail::fiber* f = detail::current_fiber();
  return f ? f->id : 0;
}

void set_name(std::string_view name) {
  detail::fiber& self = detail::require_fiber_only("weft::this_fiber::set_name");
  self.name.assign(name);
  self.traced_name_epoch = 0;  // a chrome trace records the new name
}

void pin() {
  detail::require_fiber_only("weft::this_fiber::pin").pinned = detail::current_worker();
}

void unpin() { detail::require_fiber_only("weft::this_fiber::unpin").pinned = nullptr; }

bool pinned() noexcept {
  detail::fiber* f = detail::current_fiber();
  return f && f->pinned;
}

std::string name() {
  detail::fiber* f = detail::current_fiber();
  return f ? f->name : std::string();
}

}  // namespace weft::this_fiber
