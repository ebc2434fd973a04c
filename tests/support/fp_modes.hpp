// Floating-point control state helpers for the tests that check that MXCSR's control bits and
// the x87 control word belong to a context (context_test.cpp) or a fiber (fiber_state_test.cpp).
#pragma once

#include <xmmintrin.h>

#include <cstdint>
#include <ostream>

namespace weft_test {

inline constexpr unsigned mxcsr_control_mask = 0xffc0;  // bits 0-5 are status flags
inline constexpr unsigned default_mxcsr = 0x1f80;        // all exceptions masked, round to nearest
inline constexpr std::uint16_t default_x87_control = 0x037f;

inline unsigned mxcsr_control() { return _mm_getcsr() & mxcsr_control_mask; }

inline std::uint16_t x87_control() {
  std::uint16_t word;
  asm volatile("fnstcw %0" : "=m"(word));
  return word;
}

inline void set_x87_control(std::uint16_t word) { asm volatile("fldcw %0" : : "m"(word)); }

// Puts MXCSR and the x87 control word back to their defaults when a test ends, pass or fail.
struct fp_defaults_restorer {
  ~fp_defaults_restorer() {
    _mm_setcsr(default_mxcsr);
    set_x87_control(default_x87_control);
  }
};

struct fp_modes {
  unsigned mxcsr;
  std::uint16_t x87;
  bool operator==(const fp_modes&) const = default;
};

inline fp_modes current_fp_modes() { return {mxcsr_control(), x87_control()}; }

inline void set_fp_modes(fp_modes m) {
  _mm_setcsr(m.mxcsr);
  set_x87_control(m.x87);
}

// MXCSR: round toward zero + flush-to-zero; x87: round toward zero, single precision.
inline constexpr fp_modes fiber_modes{default_mxcsr | _MM_ROUND_TOWARD_ZERO | _MM_FLUSH_ZERO_ON,
                                      (default_x87_control & ~0x0f00) | 0x0c00};
// MXCSR: round down + denormals-are-zero; x87: round up, double precision.
inline constexpr fp_modes main_modes{default_mxcsr | _MM_ROUND_DOWN | 0x0040,
                                      (default_x87_control & ~0x0f00) | 0x0a00};
inline constexpr fp_modes default_modes{default_mxcsr, default_x87_control};

inline std::ostream& operator<<(std::ostream& os, const fp_modes& m) {
  return os << std::hex << "{mxcsr 0x" << m.mxcsr << ", x87 0x" << m.x87 << "}" << std::dec;
}

}  // namespace weft_test
