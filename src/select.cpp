// weft::select's out-of-line parts (include/weft/select.hpp).
#include <weft/select.hpp>

#include <thread>

#include <weft/this_fiber.hpp>

#include "current.hpp"

namespace weft::detail {

std::uint32_t select_random() noexcept {
  // xorshift32, seeded apart per thread; a fiber that moves takes its new thread's sequence.
  thread_local std::uint32_t state =
      (2463534242u ^ static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(&state) >> 4)) | 1u;
  std::uint32_t x = state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  state = x;
  return x;
}

void sleep_until_deadline(deadline until) {
  if (current_fiber()) this_fiber::sleep_until(until);
  else std::this_thread::sleep_until(until);
}

}  // namespace weft::detail
