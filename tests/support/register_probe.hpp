// The register probe of register_probe.S, for the tests that check that a switch preserves
// the callee-saved registers and the stack pointer (context_test.cpp, fiber_state_test.cpp).
#pragma once

#include <cstdint>

#include <catch2/catch.hpp>

// What the probe saw after its call returned: rbx, rbp, r12, r13, r14, r15 and how far rsp
// moved across the call (0 when restored).
struct probe_registers {
  std::uint64_t gpr[6];
  std::int64_t rsp_delta;
};

using probe_fn = void (*)(void*, void*);

// Loads values[0..5] into rbx, rbp, r12-r15, calls fn(a, b), and stores what those registers
// and rsp hold after it returns into *out. fn is called from assembly, so any function taking
// two pointer-sized arguments (or fewer) works.
extern "C" void weft_probe_call(probe_fn fn, void* a, void* b, const std::uint64_t values[6],
                                probe_registers* out);

inline void check_probe(const probe_registers& seen, const std::uint64_t (&expected)[6]) {
  static const char* const names[6] = {"rbx", "rbp", "r12", "r13", "r14", "r15"};
  for (int i = 0; i < 6; ++i) {
    INFO("register " << names[i]);
    CHECK(seen.gpr[i] == expected[i]);
  }
  CHECK(seen.rsp_delta == 0);
}
