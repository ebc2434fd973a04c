// Every busy-wait of weft, named and in one place. A spin is right only where the thing waited
// for is a few instructions away on another running thread; each policy below bounds it.
//
//   spin_then_yield{64}      spinlock::lock_contended: a primitive's lock is held for a few
//                            instructions, but its holder may have been preempted, so after 64
//                            pauses each further look first gives the CPU away (sched_yield)
//   spin_then_yield{1024}    release_finished (fiber_end.cpp): a join handle let go on another
//                            thread waits for the finished fiber's worker to switch off its
//                            stack, a few instructions after the fiber's end became visible
//   worker::search_spin      an idle worker looks for work for about 50 us before it parks,
//                            so a wakeup from a busy worker costs no futex call on either side
//   worker::only_fiber_grace a thief leaves another worker's only continuation alone for 5 us
//                            (fiber_deque::keeps_only_fiber): its owner usually takes it back
#pragma once

#include <sched.h>

namespace weft::detail {

// Tells the CPU that this is a spin-wait loop: it saves power and lets a sibling hyperthread
// run (x86 `pause`, AArch64 `yield`); elsewhere a compiler barrier only.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#else
  asm volatile("" ::: "memory");
#endif
}

// Spins with cpu_relax() for the first `spins` waits, then yields the CPU at each further one.
class spin_then_yield {
 public:
  explicit constexpr spin_then_yield(unsigned spins) noexcept : spins_left_(spins) {}
  void wait() noexcept {
    if (spins_left_ > 0) {
      --spins_left_;
      cpu_relax();
    } else {
      sched_yield();
    }
  }

 private:
  unsigned spins_left_;
};

}  // namespace weft::detail
