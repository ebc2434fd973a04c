// Asymmetric store-load barriers: for a Dekker-style handshake where one side runs on a hot
// path and the other rarely. Each side stores, then loads what the other side stores; without
// a barrier between its store and its load on both sides, both could miss the other. The rare
// side pays for both: membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) makes every running thread
// of the process execute a full barrier, so the hot side needs only a compiler barrier. Where
// membarrier is unavailable (Linux before 4.14, seccomp filters, valgrind) and in
// ThreadSanitizer builds, both sides use store_load_fence().
//
// Used by parking (executor_core::park and notify_one_idle: work is made visible on every
// spawn, parking follows ~50 us without work) and by continuation stealing (fiber_deque::take
// and executor_core::steal_for: owners take on every fiber end, thieves steal rarely).
#pragma once

#include <atomic>

#include "run_queues.hpp"

namespace weft::detail {

// Set once, by the first executor's construction (enable_asymmetric_barriers), before any of
// its workers or its users' threads could run either side.
extern std::atomic<bool> asymmetric_barriers;

// Registers the process for expedited membarrier; leaves the barriers symmetric if it cannot.
void enable_asymmetric_barriers() noexcept;

// The hot side's barrier, between its store and its load.
inline void light_barrier() noexcept {
  if (asymmetric_barriers.load(std::memory_order_relaxed))
    asm volatile("" ::: "memory");
  else
    store_load_fence();
}

// The rare side's barrier, between its store and its load.
void heavy_barrier() noexcept;

}  // namespace weft::detail
