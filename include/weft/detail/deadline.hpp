// weft/detail/deadline.hpp: timeouts and time points of any clock as deadlines on the steady
// clock, which every timed wait of weft uses. Internal: not part of the API.
#pragma once

#include <chrono>
#include <type_traits>

namespace weft::detail {

using deadline = std::chrono::steady_clock::time_point;

// now + d, rounded up (a wait is never short) and saturating at time_point::max() (no
// deadline); time_point::min() for d <= 0, a deadline already passed (the clock is not read).
template <class Rep, class Period>
deadline deadline_after(std::chrono::duration<Rep, Period> d) {
  using steady = std::chrono::steady_clock;
  if (d <= d.zero()) return deadline::min();
  const auto now = steady::now();
  using seconds_d = std::chrono::duration<long double>;
  if (std::chrono::duration_cast<seconds_d>(d) >=
      std::chrono::duration_cast<seconds_d>(deadline::max() - now))
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
