// weft/barrier.hpp: a reusable barrier for fibers and threads, with a completion step
// (std::barrier).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>

#include <weft/detail/thread_annotations.hpp>
#include <weft/detail/waiter.hpp>

namespace weft {
namespace detail {

// The part of barrier that does not depend on its completion function.
class barrier_core {
 public:
  explicit barrier_core(std::ptrdiff_t expected);
  // Counts `update` arrivals (and, with `drop`, one participant fewer from the next phase on);
  // returns the phase arrived at. `completes`: the phase is complete: the caller runs the
  // completion step, then complete_phase().
  std::uint64_t arrive(std::ptrdiff_t update, bool drop, bool& completes);
  void complete_phase();            // starts the next phase and wakes every waiter
  void wait(std::uint64_t phase);   // until `phase` is complete
  // One arrival, then the wait, under one lock: true if it completed the phase (it has not
  // waited: the caller runs the completion step, then complete_phase()).
  bool arrive_and_wait();

 private:
  spinlock lock_;
  std::ptrdiff_t expected_ WEFT_GUARDED_BY(lock_);   // participants of the next phases
  std::ptrdiff_t remaining_ WEFT_GUARDED_BY(lock_);  // arrivals the current phase awaits
  std::uint64_t phase_ WEFT_GUARDED_BY(lock_) = 0;
  waiter_queue waiters_ WEFT_GUARDED_BY(lock_);
};

struct no_completion {
  void operator()() noexcept {}
};

}  // namespace detail

// As std::barrier: each phase completes once `expected` arrivals were counted; then the
// completion function runs once (in the fiber or thread whose arrival completed it), and every
// wait for that phase returns. The waits suspend only the calling fiber (a plain thread
// blocks) and are interruption points. Bad input throws instead of being undefined: a negative
// expected count (std::invalid_argument), an update that is not positive or exceeds the
// arrivals the phase still awaits (std::logic_error, nothing counted), and waiting with a
// token of another barrier's or a moved-from token (std::invalid_argument). Destroying a
// barrier that somebody still waits on stops the process with one line.
template <class CompletionFunction = detail::no_completion>
class barrier {
  static_assert(std::is_nothrow_invocable_v<CompletionFunction&>,
                "weft::barrier: the completion function must be invocable and noexcept");

 public:
  class arrival_token {
   public:
    arrival_token(arrival_token&& other) noexcept
        : owner_(std::exchange(other.owner_, nullptr)), phase_(other.phase_) {}
    arrival_token& operator=(arrival_token&& other) noexcept {
      owner_ = std::exchange(other.owner_, nullptr);
      phase_ = other.phase_;
      return *this;
    }

   private:
    friend barrier;
    arrival_token(const barrier* owner, std::uint64_t phase) noexcept : owner_(owner), phase_(phase) {}
    const barrier* owner_;
    std::uint64_t phase_;
  };

  static constexpr std::ptrdiff_t max() noexcept { return std::numeric_limits<std::ptrdiff_t>::max(); }

  explicit barrier(std::ptrdiff_t expected, CompletionFunction f = CompletionFunction())
      : core_(expected), completion_(std::move(f)) {}
  barrier(const barrier&) = delete;
  barrier& operator=(const barrier&) = delete;

  [[nodiscard]] arrival_token arrive(std::ptrdiff_t update = 1) { return count(update, false); }
  void wait(arrival_token&& token) const {
    if (token.owner_ != this) throw_foreign_token();
    token.owner_ = nullptr;
    const_cast<detail::barrier_core&>(core_).wait(token.phase_);
  }
  void arrive_and_wait() {
    if (core_.arrive_and_wait()) {
      completion_();
      core_.complete_phase();
    }
  }
  void arrive_and_drop() { (void)count(1, true); }

 private:
  arrival_token count(std::ptrdiff_t update, bool drop) {
    bool completes = false;
    const std::uint64_t phase = core_.arrive(update, drop, completes);
    if (completes) {
      completion_();
      core_.complete_phase();
    }
    return arrival_token(this, phase);
  }
  [[noreturn]] static void throw_foreign_token();

  detail::barrier_core core_;
  CompletionFunction completion_;
};

namespace detail {
[[noreturn]] void throw_foreign_barrier_token();
}  // namespace detail

template <class CompletionFunction>
void barrier<CompletionFunction>::throw_foreign_token() {
  detail::throw_foreign_barrier_token();
}

}  // namespace weft
