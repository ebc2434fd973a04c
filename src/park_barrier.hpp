// The store-load barriers that keep parking from losing a wakeup (executor_core::park and
// notify_one_idle), made asymmetric. A worker that has made work visible reads whether some
// worker is idle; a worker about to park counts itself idle and re-checks every queue. Each
// side needs a barrier between its store and its load, or both could miss the other. Work is
// made visible on hot paths (every spawn, with several workers), parking is rare (after ~50 us
// without work), so the parking side pays for both: membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)
// makes every running thread of the process execute a full barrier, and the publishing side
// needs only a compiler barrier. Where membarrier is unavailable (Linux before 4.14, seccomp
// filters, valgrind) and in ThreadSanitizer builds, both sides use store_load_fence().
#pragma once

#include <atomic>

#include "run_queues.hpp"

namespace weft::detail {

// Set once, by the first executor's construction (enable_asymmetric_park_barrier), before any
// of its workers or its users' threads could publish work.
extern std::atomic<bool> asymmetric_park_barrier;

// Registers the process for expedited membarrier; leaves the barriers symmetric if it cannot.
void enable_asymmetric_park_barrier() noexcept;

// After making work visible, before reading the idle and searching counts.
inline void barrier_after_publishing_work() noexcept {
  if (asymmetric_park_barrier.load(std::memory_order_relaxed))
    asm volatile("" ::: "memory");
  else
    store_load_fence();
}

// After counting oneself idle, before re-checking the queues.
void barrier_before_rechecking_work() noexcept;

}  // namespace weft::detail
