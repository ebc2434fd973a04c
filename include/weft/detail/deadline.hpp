// weft/detail/deadline.hpp: timeouts and time points of any clock as deadlines on the steady
// clock, which every timed wait of weft uses. Internal: not part of the API.
#pragma once

#include <chrono>
#include <cstdint>
#include <ratio>
#include <type_traits>

namespace weft::detail {

using deadline = std::chrono::steady_clock::time_point;

// The steady clock's now, or later by at most a few microseconds: what timeouts count from.
// Cheaper than steady_clock::now() where a constant-rate counter exists: the calling thread's
// last reading of the clock is carried forward with the counter, and the clock read again
// once a millisecond has passed (src/deadline.cpp).
deadline now_for_deadline() noexcept;

// now + d, rounded up (a wait is never short) and saturating at time_point::max() (no
// deadline); time_point::min() for d <= 0, a deadline already passed (the clock is not read).
template <class Rep, class Period>
deadline deadline_after(std::chrono::duration<Rep, Period> d) {
  using steady = std::chrono::steady_clock;
  if (d <= d.zero()) return deadline::min();
  const auto now = now_for_deadline();
  const auto left = deadline::max() - now;  // what can still be added
  if constexpr (std::is_integral_v<Rep> && sizeof(Rep) <= sizeof(std::uintmax_t) &&
                std::ratio_greater_equal_v<Period, steady::period>) {
    // Whole nanoseconds per unit of d: compared in d's units (unsigned: d > 0 here, and an
    // unsigned count may exceed every signed one), nothing overflows.
    using per_unit = std::ratio_divide<Period, steady::period>;
    if constexpr (per_unit::den == 1) {
      if (static_cast<std::uintmax_t>(d.count()) >
          static_cast<std::uintmax_t>(left.count() / per_unit::num))
        return deadline::max();
      return now + std::chrono::duration_cast<steady::duration>(d);
    }
  }
  using seconds_d = std::chrono::duration<long double>;
  if (std::chrono::duration_cast<seconds_d>(d) >= std::chrono::duration_cast<seconds_d>(left))
    return deadline::max();
  return now + std::chrono::ceil<steady::duration>(d);
}

// `t` on the steady clock: converted once (a time point of another clock, such as
// system_clock, becomes now + (t - Clock::now())); time_point::min() if it has passed.
template <class Clock, class Duration>
deadline deadline_at(std::chrono::time_point<Clock, Duration> t) {
  if constexpr (std::is_same_v<Clock, std::chrono::steady_clock>) {
    const deadline at = std::chrono::ceil<std::chrono::steady_clock::duration>(t);
    if (at == deadline::max()) return at;
    return at <= std::chrono::steady_clock::now() ? deadline::min() : at;
  } else {
    return deadline_after(t - Clock::now());
  }
}

}  // namespace weft::detail
