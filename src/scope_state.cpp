// A weft::scope's state (scope_state.hpp).
#include "scope_state.hpp"

#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include <weft/cancellation.hpp>
#include <weft/this_fiber.hpp>

#include "asymmetric_barrier.hpp"
#include "current.hpp"
#include "executor_core.hpp"
#include "fiber.hpp"
#include "fiber_end.hpp"
#include "stop_request.hpp"

namespace weft::detail {

scope_state::scope_state(executor_core* core) : core_(core) {
  if (fiber* owner = current_fiber()) owner_link_.emplace(stop_token_of(*owner), stop_owner_scope{this});
}

executor_core& scope_state::core() const {
  if (!core_) [[unlikely]]
    throw std::logic_error("weft::scope::spawn: a scope made outside fibers needs an executor "
                           "(weft::scope(executor&))");
  return *core_;
}

void scope_state::adopt(fiber& child) noexcept {
  spin_guard guard(lock_);
  child.scope = this;
  child.next_in_scope = children_;
  if (children_) children_->prev_in_scope = &child;
  children_ = &child;
  if (live_++ == 0) none_left_.store(false, std::memory_order_relaxed);
  // Not started yet: nobody reads the flag before the fiber runs, after its launch.
  if (stopped_) child.stop_requested.store(true, std::memory_order_relaxed);
}

namespace {
// Keeps a std::stop_source to request stop on once no lock is held; without memory for it,
// requests now.
void request_later(std::vector<std::stop_source>& later, const std::stop_source& source) noexcept {
  if (!source.stop_possible()) return;
  try {
    later.push_back(source);
  } catch (...) {
    std::stop_source now = source;
    now.request_stop();
  }
}
void request_all(std::vector<std::stop_source>& sources) noexcept {
  for (std::stop_source& s : sources) s.request_stop();
}
}  // namespace

void scope_state::child_returned(fiber& child) noexcept {
  if (!child.error || child.unwind_requested) return;
  const bool cancelled = is_cancellation(child.error);  // before the lock: it may rethrow
  std::vector<std::stop_source> stopped;
  {
    spin_guard guard(lock_);
    // A cancellation caused by the scope's own stop is no failure.
    if ((cancelled && stopped_) || failure_) return;
    failure_ = child.error;
    stop_locked(stopped);
  }
  request_all(stopped);  // on the child's own stack, as it still runs
}

void scope_state::child_ended(fiber& child) noexcept {
  waiter_queue joiners;
  executor_core* const core = core_;
  bool none_left = false;
  {
    spin_guard guard(lock_);
    if (child.prev_in_scope) child.prev_in_scope->next_in_scope = child.next_in_scope;
    else children_ = child.next_in_scope;
    if (child.next_in_scope) child.next_in_scope->prev_in_scope = child.prev_in_scope;
    if (--live_ == 0) {
      waiting_.move_all_to(joiners);
      none_left_.store(true, std::memory_order_seq_cst);  // see run_until_done
      none_left = true;
    }
  }
  // From here on the scope may be gone (a joiner that was not waiting may return): only its
  // flag's address is used, as a name.
  wake_all(joiners);
  if (none_left) core->note_done(none_left_);
}

void scope_state::stop_locked(std::vector<std::stop_source>& later) noexcept {
  if (stopped_) return;
  stopped_ = true;
  request_later(later, source_);
  for (fiber* c = children_; c; c = c->next_in_scope) {
    std::stop_source source{std::nostopstate};
    if (mark_stop(*c, source)) request_later(later, source);
  }
  heavy_barrier();  // one for all of them (stop_request.hpp)
  for (fiber* c = children_; c; c = c->next_in_scope) wake_for_stop(*c);
}

void scope_state::request_stop() noexcept {
  std::vector<std::stop_source> stopped;
  {
    spin_guard guard(lock_);
    stop_locked(stopped);
  }
  request_all(stopped);
}

std::stop_token scope_state::stop_token() {
  spin_guard guard(lock_);
  if (!source_.stop_possible()) {
    source_ = std::stop_source();
    if (stopped_) source_.request_stop();
  }
  return source_.get_token();
}

void scope_state::wait_for_children(wait_kind what) {
  for (;;) {
    if (!current_fiber() && core_ && core_->try_claim_run()) {
      // A plain thread, and nobody runs the executor: run it here meanwhile, and again if a
      // child was spawned into the scope as the run ended.
      const claimed_run claim(*core_);
      core_->run_until_done(none_left_);
      if (none_left_.load(std::memory_order_acquire)) return;
      continue;
    }
    lock_.lock();
    if (live_ == 0) {
      lock_.unlock();
      return;
    }
    waiter w;
    waiting_.push_back(w);
    block(w, lock_, what, this);
  }
}

void scope_state::rethrow_failure() {
  std::exception_ptr failure;
  {
    spin_guard guard(lock_);
    if (!failure_ || failure_reported_) return;
    failure_reported_ = true;
    failure = failure_;
  }
  std::rethrow_exception(failure);
}

void scope_state::join() {
  try {
    wait_for_children(wait_kind::scope);
  } catch (const operation_cancelled&) {
    request_stop();
    wait_for_children(wait_kind::scope_end);
    rethrow_failure();
    throw;
  }
  rethrow_failure();
}

void scope_state::finish() noexcept {
  bool left;
  {
    spin_guard guard(lock_);
    left = live_ > 0;
  }
  if (left) {
    request_stop();
    try {
      wait_for_children(wait_kind::scope_end);
    } catch (const std::exception& e) {  // deadlock_error of a plain thread running them
      std::fprintf(stderr, "weft: ~scope could not wait for its children: %s\n", e.what());
      std::terminate();
    }
  }
  owner_link_.reset();
  spin_guard guard(lock_);
  if (failure_ && !failure_reported_) {
    std::fprintf(stderr, "weft: a child of a weft::scope failed and the scope was never joined: %s\n",
                 describe_exception(failure_).c_str());
    std::fflush(stderr);
    std::terminate();
  }
}

}  // namespace weft::detail
