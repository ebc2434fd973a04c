// A weft::scope's state (include/weft/scope.hpp): its live children (an intrusive list through
// their control blocks), the first failure, its stop, and who waits for the children to end.
// Children join it at launch, before they can run (executor_core::launch_with), and leave it
// when their task has returned, before their end is published (run_fiber).
#pragma once

#include <atomic>
#include <cstddef>
#include <exception>
#include <optional>
#include <stop_token>
#include <vector>

#include <weft/detail/spinlock.hpp>
#include <weft/detail/thread_annotations.hpp>
#include <weft/detail/waiter.hpp>

namespace weft::detail {

class executor_core;
struct fiber;

class scope_state {
 public:
  // `core`: where children are spawned; null: nowhere (a scope made outside fibers).
  explicit scope_state(executor_core* core);
  scope_state(const scope_state&) = delete;
  scope_state& operator=(const scope_state&) = delete;

  // std::logic_error naming scope::spawn when there is no executor.
  executor_core& core() const;
  // A new child, not started yet.
  void adopt(fiber& child) noexcept WEFT_EXCLUDES(lock_);
  // A child's task has returned (or unwound), its error stored: a failure is recorded, and
  // stops the other children. On the child's stack, as it still runs.
  void child_returned(fiber& child) noexcept WEFT_EXCLUDES(lock_);
  // Then its end is published (its join_handle is done): it leaves the scope, which the
  // scope's joiners may leave right after.
  void child_ended(fiber& child) noexcept WEFT_EXCLUDES(lock_);

  void request_stop() noexcept WEFT_EXCLUDES(lock_);
  std::stop_token stop_token() WEFT_EXCLUDES(lock_);
  void join() WEFT_EXCLUDES(lock_);
  // ~scope: stops and waits for the children left, then terminates on an unreported failure.
  void finish() noexcept WEFT_EXCLUDES(lock_);

 private:
  // Marks the stop and wakes the children blocked in interruption points (nothing if stopped
  // already). The std::stop_sources whose callbacks must run, the scope's and its children's,
  // go to `later`, for the caller to request stop on once it holds no lock (a callback may
  // spawn into this scope, or stop another).
  void stop_locked(std::vector<std::stop_source>& later) noexcept WEFT_REQUIRES(lock_);
  // Waits until no child is left: `what` is scope (an interruption point) or scope_end.
  void wait_for_children(wait_kind what) WEFT_EXCLUDES(lock_);
  // Rethrows the first failure if nobody did yet.
  void rethrow_failure() WEFT_EXCLUDES(lock_);

  executor_core* const core_;
  spinlock lock_;
  fiber* children_ WEFT_GUARDED_BY(lock_) = nullptr;
  std::size_t live_ WEFT_GUARDED_BY(lock_) = 0;
  // live_ == 0, for a plain thread that runs the executor while it waits
  // (executor_core::run_until_done).
  std::atomic<bool> none_left_{true};
  waiter_queue waiting_ WEFT_GUARDED_BY(lock_);  // joiners
  bool stopped_ WEFT_GUARDED_BY(lock_) = false;
  std::exception_ptr failure_ WEFT_GUARDED_BY(lock_);
  bool failure_reported_ WEFT_GUARDED_BY(lock_) = false;
  std::stop_source source_ WEFT_GUARDED_BY(lock_){std::nostopstate};  // made on first use

  struct stop_owner_scope {
    scope_state* self;
    void operator()() const noexcept { self->request_stop(); }
  };
  // The stop of the fiber that made the scope reaches it (last: deregistered first).
  std::optional<std::stop_callback<stop_owner_scope>> owner_link_;
};

}  // namespace weft::detail
