// Stack alignment probes for the tests that check a new context's or fiber's entry
// (context_test.cpp, fiber_state_test.cpp).
#pragma once

#include <cstdint>

namespace weft_test {

// Stores {1, 2, 3, 4} into v with one 16-byte vector store: on x86-64 an aligned SSE store,
// which faults if v is not 16-byte aligned (AArch64's vector stores do not check alignment,
// but its stack pointer must stay 16-byte aligned for any access through it to work).
inline void aligned_vector_store(float* v) {
  typedef float vector4 __attribute__((vector_size(16)));
  *reinterpret_cast<vector4*>(v) = vector4{1.0f, 2.0f, 3.0f, 4.0f};
}

// The stack pointer of the calling function.
[[gnu::always_inline]] inline std::uintptr_t stack_pointer() {
  std::uintptr_t sp;
#if defined(__x86_64__)
  asm volatile("mov %%rsp, %0" : "=r"(sp));
#else
  asm volatile("mov %0, sp" : "=r"(sp));
#endif
  return sp;
}

}  // namespace weft_test
