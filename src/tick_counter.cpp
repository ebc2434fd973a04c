// A constant-rate counter read in user space (tick_counter.hpp).
#include "tick_counter.hpp"

#include <atomic>
#include <chrono>
#include <fstream>
#include <string>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace weft::detail::tick_counter {
namespace {

bool counts_at_constant_rate() noexcept {
#if defined(__x86_64__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (static_cast<unsigned>(__get_cpuid_max(0x80000000u, nullptr)) < 0x80000007u) return false;
  __cpuid(0x80000007u, a, b, c, d);
  return (d >> 8) & 1u;  // CPUID.80000007H:EDX[8], invariant TSC
#elif defined(__aarch64__)
  return true;  // the generic timer's virtual count runs at a constant rate (cntfrq_el0)
#else
  return false;
#endif
}

// The first sample (ticks, steady ns), then the rate learnt from a later one.
std::atomic<std::uint64_t> first_ticks{0};
std::atomic<std::int64_t> first_ns{0};
std::atomic<double> learnt_rate{0};

}  // namespace

bool available() noexcept {
  static const bool constant = counts_at_constant_rate();
  return constant;
}

bool agrees_across_cpus() noexcept {
  static const bool agrees = [] {
    if (!available()) return false;
#if defined(__x86_64__)
    std::ifstream source("/sys/devices/system/clocksource/clocksource0/current_clocksource");
    std::string name;
    return static_cast<bool>(source >> name) && name == "tsc";
#else
    return true;
#endif
  }();
  return agrees;
}

double ticks_per_ns_at_least() noexcept {
  if (const double rate = learnt_rate.load(std::memory_order_relaxed); rate > 0) return rate;
  if (!available()) return 0;
  // The counter stood at most at `after` when the clock read `ns`, and at least at `before`.
  const std::uint64_t before = read();
  const std::int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                              std::chrono::steady_clock::now().time_since_epoch())
                              .count();
  const std::uint64_t after = read();
  std::uint64_t first = 0;
  if (first_ticks.compare_exchange_strong(first, after, std::memory_order_acq_rel)) {
    first_ns.store(ns, std::memory_order_release);
    return 0;
  }
  const std::int64_t first_at = first_ns.load(std::memory_order_acquire);
  constexpr std::int64_t sample_gap_ns = 10'000'000;
  // first_at == 0: the first sampler has not stored its time yet.
  if (first_at == 0 || ns - first_at < sample_gap_ns || before <= first) return 0;
  const double rate =
      0.99 * static_cast<double>(before - first) / static_cast<double>(ns - first_at);
  learnt_rate.store(rate, std::memory_order_relaxed);
  return rate;
}

}  // namespace weft::detail::tick_counter
