// A constant-rate counter read in user space, cheaper than the steady clock: the TSC where it
// is invariant (x86-64), the generic timer's virtual count on AArch64 (cntvct_el0). Its rate is
// learnt from the steady clock as the process runs (ticks_per_ns_at_least). Used for trace
// stamps and to let workers skip clock reads while their timers are far off (timer_heap).
#pragma once

#include <cstdint>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace weft::detail::tick_counter {

// Whether read() counts at a constant rate on this machine (false: it returns 0).
bool available() noexcept;
// Whether, besides, the counters of all CPUs agree: on x86-64, the kernel keeps its clock on the
// TSC (its clocksource is `tsc`, which it gives up when it finds CPUs' TSCs apart); on AArch64,
// always (one system counter).
bool agrees_across_cpus() noexcept;

inline std::uint64_t read() noexcept {
#if defined(__x86_64__)
  return __rdtsc();
#elif defined(__aarch64__)
  // No isb before it: a read may be reordered with its neighbours by a few instructions.
  std::uint64_t count;
  asm volatile("mrs %0, cntvct_el0" : "=r"(count));
  return count;
#else
  return 0;
#endif
}

// A lower bound of the counter's ticks per steady-clock nanosecond, or 0 while not learnt yet
// (or not available). Until learnt, each call samples the counter around a clock read: the
// first sample and one at least 10 ms later bound the rate from below, less 1% for the clock's
// slewing (NTP slews it by at most 0.05%). Thread-safe; once learnt, a relaxed load.
double ticks_per_ns_at_least() noexcept;

}  // namespace weft::detail::tick_counter
