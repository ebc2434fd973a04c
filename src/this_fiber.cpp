// this_fiber:: functions and the await() bridge's bookkeeping.
#include <weft/await.hpp>
#include <weft/this_fiber.hpp>

#include <stdexcept>
#include <string>
#include <thread>

#include "executor_core.hpp"
#include "trace_points.hpp"

namespace weft::detail {
namespace {
[[noreturn, gnu::cold, gnu::noinline]] void throw_outside_fiber(const char* call) {
  throw std::logic_error(std::string(call) + ": called outside a fiber");
}

[[noreturn, gnu::cold, gnu::noinline]] void throw_unwind() { throw fiber_unwind{}; }

// The calling fiber and its worker; throws outside fibers, and fiber_unwind when its executor
// is unwinding it. The throws are out of line: every yield and sleep passes here.
thread_position require_fiber(const char* call) {
  const thread_position here = current_position();
  if (!here.current_fiber) [[unlikely]] throw_outside_fiber(call);
  if (must_unwind(*here.current_fiber)) [[unlikely]] throw_unwind();
  return here;
}
}  // namespace

void sleep_until(std::chrono::steady_clock::time_point deadline, const char* call) {
  const auto [w, f] = require_fiber(call);
  fiber& self = *f;
  w->add_timer(&self, deadline);
  self.waiting_on = wait_kind::sleep;
  WEFT_TRACE_EVENT(trace::event_kind::sleep, &self);
  w->suspend(self);
  self.waiting_on = wait_kind::none;
  if (must_unwind(self)) throw fiber_unwind{};
}

void await_begin() noexcept {
  if (executor_core* core = current_core()) core->pending_awaits.fetch_add(1);
}

void await_end() noexcept {
  if (executor_core* core = current_core()) {
    // The last outstanding await: a parked worker may now be able to see a deadlock.
    if (core->pending_awaits.fetch_sub(1) == 1) core->notify_all_workers();
  }
}

void await_resumed(await_rendezvous& r) noexcept {
  r.lock.lock();
  r.resumed = true;
  waiter* w = r.blocked.pop_front();
  r.lock.unlock();
  if (w) wake(*w);
}

void await_block(await_rendezvous& r) {
  r.lock.lock();
  if (r.resumed) {
    r.lock.unlock();
    return;
  }
  waiter w;
  r.blocked.push_back(w);
  block(w, r.lock, wait_kind::await, &r);
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
  detail::fiber* f = detail::current_fiber();
  if (!f) throw std::logic_error("weft::this_fiber::set_name: called outside a fiber");
  f->name.assign(name);
}

void pin() {
  detail::fiber* f = detail::current_fiber();
  if (!f) throw std::logic_error("weft::this_fiber::pin: called outside a fiber");
  f->pinned = detail::current_worker();
}

void unpin() {
  detail::fiber* f = detail::current_fiber();
  if (!f) throw std::logic_error("weft::this_fiber::unpin: called outside a fiber");
  f->pinned = nullptr;
}

bool pinned() noexcept {
  detail::fiber* f = detail::current_fiber();
  return f && f->pinned;
}

std::string name() {
  detail::fiber* f = detail::current_fiber();
  return f ? f->name : std::string();
}

}  // namespace weft::this_fiber
