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

#include "context/sanitizers.hpp"

namespace weft::detail {

// A full barrier: orders the caller's earlier stores before its later loads (the Dekker
// pattern of Chase-Lev take/steal and of parking). On x86-64 a locked no-op on the stack does
// this for ordinary memory at about half the cost of the mfence that GCC emits for
// std::atomic_thread_fence(seq_cst) (as Linux's smp_mb does). ThreadSanitizer builds keep the
// standard fence: it models neither, and sees the hand-offs through acquire/release instead.
inline void store_load_fence() noexcept {
#if defined(__x86_64__) && !WEFT_HAS_TSAN
  asm volatile("lock orq $0, (%%rsp)" ::: "memory", "cc");
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

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
