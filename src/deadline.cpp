// What timeouts count from (weft/detail/deadline.hpp).
#include <weft/detail/deadline.hpp>

#include <cstdint>

#include "tick_counter.hpp"

namespace weft::detail {
namespace {

// The calling thread's last reading of the steady clock, with the counter read just before it
// (so the counter stood at least at `ticks` when the clock read `now`).
struct clock_reading {
  std::uint64_t ticks = 0;
  deadline now{};
  double ns_per_tick = 0;  // an upper bound (from the rate's lower bound)
};
constinit __attribute__((tls_model("initial-exec"))) thread_local clock_reading last_reading;

// How long a reading is carried forward, and what is added for counters of different CPUs
// that disagree slightly (the thread may have moved since).
constexpr double carry_ns = 1'000'000;
constexpr std::chrono::nanoseconds cpu_skew_allowance{2000};

}  // namespace

deadline now_for_deadline() noexcept {
  clock_reading& last = last_reading;
  if (last.ns_per_tick > 0) {
    const std::uint64_t ticks = tick_counter::read();
    if (ticks >= last.ticks) {
      // At least the time that passed: the counter runs no slower than its rate's bound.
      const double since = static_cast<double>(ticks - last.ticks) * last.ns_per_tick;
      if (since < carry_ns)
        return last.now + std::chrono::nanoseconds(static_cast<std::int64_t>(since) + 1) +
               cpu_skew_allowance;
    }
  }
  last.ticks = tick_counter::read();
  last.now = std::chrono::steady_clock::now();
  // After the reading, which is what this call returns: learning the rate (and, once, asking
  // the kernel's clocksource) takes time that must not make this deadline late. Carried
  // forward only where every CPU's counter agrees: the thread may move between them.
  const double rate =
      tick_counter::agrees_across_cpus() ? tick_counter::ticks_per_ns_at_least() : 0;
  last.ns_per_tick = rate > 0 ? 1.0 / rate : 0;
  return last.now;
}

}  // namespace weft::detail
