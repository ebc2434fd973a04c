// AArch64's floating-point control register (rounding, flush-to-zero, default NaN, trap
// enables; the status flags are in the FPSR): what the asm and boost backends and fp_env
// read and write.
#pragma once

#include <cstdint>

#if defined(__aarch64__)
namespace weft::detail {

inline std::uint64_t read_fpcr() noexcept {
  std::uint64_t v;
  asm volatile("mrs %0, fpcr" : "=r"(v));
  return v;
}

inline void write_fpcr(std::uint64_t v) noexcept { asm volatile("msr fpcr, %0" : : "r"(v)); }

}  // namespace weft::detail
#endif
