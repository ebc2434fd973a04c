// The floating-point control state (x86-64: MXCSR's control bits and the x87 control word;
// AArch64: the FPCR; other targets: the C <fenv.h> environment). The scheduler's switch leaves
// it to the thread: fibers share the state of the worker thread they run on, and only a fiber
// spawned with spawn_options::own_fp_env has its own, handed over around its switches
// (worker.cpp).
#pragma once

#include <cstdint>
#if defined(__aarch64__)
#include "context/fpcr.hpp"
#elif !defined(__x86_64__)
#include <cfenv>
#endif

namespace weft::detail {

struct fiber;

struct fp_env {
#if defined(__x86_64__)
  std::uint32_t mxcsr = 0x1f80;           // the ABI's initial values
  std::uint16_t x87_control_word = 0x037f;

  // MXCSR's six low bits are sticky status flags, which the ABI does not preserve across
  // calls: they belong to whoever raises them, not to the state compared or handed over.
  static constexpr std::uint32_t mxcsr_control_bits = 0xffffffc0;

  static fp_env current() noexcept {
    fp_env e;
    asm volatile("stmxcsr %0" : "=m"(e.mxcsr));
    asm volatile("fnstcw %0" : "=m"(e.x87_control_word));
    return e;
  }
  void make_current() const noexcept {
    asm volatile("ldmxcsr %0" : : "m"(mxcsr));
    asm volatile("fldcw %0" : : "m"(x87_control_word));
  }
  bool same_control(const fp_env& other) const noexcept {
    return ((mxcsr ^ other.mxcsr) & mxcsr_control_bits) == 0 &&
           x87_control_word == other.x87_control_word;
  }
#elif defined(__aarch64__)
  // The FPCR holds control bits only (rounding, flush-to-zero, default NaN, trap enables); the
  // status flags are in the FPSR, which belongs to whoever raises them.
  std::uint64_t fpcr = 0;  // the ABI's initial value: round to nearest, nothing trapped

  static fp_env current() noexcept { return fp_env{read_fpcr()}; }
  void make_current() const noexcept { write_fpcr(fpcr); }
  bool same_control(const fp_env& other) const noexcept { return fpcr == other.fpcr; }
#else
  // Elsewhere the whole <fenv.h> environment is handed over, and checks compare the rounding
  // mode only (what <fenv.h> can name portably).
  std::fenv_t env{};
  int rounding = FE_TONEAREST;

  static fp_env current() noexcept {
    fp_env e;
    std::fegetenv(&e.env);
    e.rounding = std::fegetround();
    return e;
  }
  void make_current() const noexcept { std::fesetenv(&env); }
  bool same_control(const fp_env& other) const noexcept { return rounding == other.rounding; }
#endif
};

// Checked builds (WEFT_CHECKED): stops the process with one line naming `f` and the register if
// the state in force differs from `thread`'s, which a fiber without its own state must leave
// as it found it.
#ifdef WEFT_CHECKED
void check_fp_env_kept(const fiber& f, const fp_env& thread) noexcept;
#else
inline void check_fp_env_kept(const fiber&, const fp_env&) noexcept {}
#endif

}  // namespace weft::detail
