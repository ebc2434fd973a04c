// The register probe of register_probe_<arch>.S, for the tests that check that a switch
// preserves the callee-saved registers and the stack pointer (context_test.cpp,
// fiber_state_test.cpp): x86-64's rbx, rbp, r12-r15; AArch64's x19-x29, d8-d15 and FPCR.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include <catch2/catch.hpp>

#include "fp_modes.hpp"

#if defined(__x86_64__)
inline constexpr const char* probe_register_names[] = {"rbx", "rbp", "r12", "r13", "r14", "r15"};
inline constexpr int probe_fp_control_slot = -1;  // MXCSR is checked by the fp tests instead
#elif defined(__aarch64__)
inline constexpr const char* probe_register_names[] = {
    "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28",
    "x29", "d8",  "d9",  "d10", "d11", "d12", "d13", "d14", "d15", "fpcr"};
inline constexpr int probe_fp_control_slot = 19;
#else
#error "register_probe.hpp: no register probe for this architecture"
#endif
inline constexpr int probe_register_count = std::size(probe_register_names);

using probe_values = std::array<std::uint64_t, probe_register_count>;

// What the probe saw after its call returned: the probed registers, in probe_register_names'
// order, and how far the stack pointer moved across the call (0 when restored).
struct probe_registers {
  std::uint64_t reg[probe_register_count];
  std::int64_t sp_delta;
};
static_assert(offsetof(probe_registers, sp_delta) == 8 * probe_register_count);

using probe_fn = void (*)(void*, void*);

// Loads values into the probed registers, calls fn(a, b), and stores what those registers and
// the stack pointer hold after it returns into *out. fn is called from assembly, so any
// function taking two pointer-sized arguments (or fewer) works.
extern "C" void weft_probe_call(probe_fn fn, void* a, void* b, const std::uint64_t* values,
                                probe_registers* out);

// The FP control register the probe loads (AArch64's FPCR), or 0 where it loads none.
inline std::uint64_t probe_fp_control() {
#if defined(__aarch64__)
  return weft_test::fpcr();
#else
  return 0;
#endif
}

// Distinct values for every probed register, different for each seed (1-15); the FP control
// slot, where there is one, gets fp_control instead (a valid FPCR: probe_fp_control(), or
// one of the rounding modes 0x0, 0x400000, 0x800000, 0xc00000 with flush-to-zero 0x1000000).
inline probe_values make_probe_values(unsigned seed, std::uint64_t fp_control) {
  probe_values v{};
  for (int i = 0; i < probe_register_count; ++i)
    v[static_cast<std::size_t>(i)] = 0x0101010101010101ull * ((seed * 16 + static_cast<unsigned>(i)) % 255 + 1) ^
                                     (std::uint64_t{seed} << 60);
  if (probe_fp_control_slot >= 0) v[static_cast<std::size_t>(probe_fp_control_slot)] = fp_control;
  return v;
}

inline void check_probe(const probe_registers& seen, const probe_values& expected) {
  for (int i = 0; i < probe_register_count; ++i) {
    INFO("register " << probe_register_names[i]);
    CHECK(seen.reg[i] == expected[static_cast<std::size_t>(i)]);
  }
  CHECK(seen.sp_delta == 0);
}
