// Floating-point control state helpers for the tests that check that the FP control state
// (x86-64: MXCSR's control bits and the x87 control word; AArch64: the FPCR) belongs to a
// context (context_test.cpp) or a fiber (fiber_state_test.cpp).
#pragma once

#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

#include <cstdint>
#include <ostream>

namespace weft_test {

#if defined(__x86_64__)

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

#elif defined(__aarch64__)

// FPCR fields: RMode (bits 22-23: 0 nearest, 1 up, 2 down, 3 toward zero), FZ (24), DN (25).
inline constexpr std::uint64_t fpcr_round_up = 0x400000, fpcr_round_down = 0x800000,
                               fpcr_round_toward_zero = 0xc00000, fpcr_flush_zero = 0x1000000,
                               fpcr_default_nan = 0x2000000;

inline std::uint64_t fpcr() {
  std::uint64_t v;
  asm volatile("mrs %0, fpcr" : "=r"(v));
  return v;
}
inline void set_fpcr(std::uint64_t v) { asm volatile("msr fpcr, %0" : : "r"(v)); }

struct fp_defaults_restorer {
  ~fp_defaults_restorer() { set_fpcr(0); }
};

struct fp_modes {
  std::uint64_t fpcr;
  bool operator==(const fp_modes&) const = default;
};

inline fp_modes current_fp_modes() { return {fpcr()}; }
inline void set_fp_modes(fp_modes m) { set_fpcr(m.fpcr); }

inline constexpr fp_modes fiber_modes{fpcr_round_toward_zero | fpcr_flush_zero};
inline constexpr fp_modes main_modes{fpcr_round_down | fpcr_default_nan};
inline constexpr fp_modes default_modes{0};

inline std::ostream& operator<<(std::ostream& os, const fp_modes& m) {
  return os << std::hex << "{fpcr 0x" << m.fpcr << "}" << std::dec;
}

#else
#error "fp_modes.hpp: no FP control state helpers for this architecture"
#endif

}  // namespace weft_test
