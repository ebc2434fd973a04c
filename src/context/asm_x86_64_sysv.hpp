// The hand-written x86-64 SysV backend's first frame (asm_backend.hpp is the backend; the
// switch itself is in asm_x86_64_sysv.S).
#pragma once

#include <cstdint>

#include "asm_x86_64_sysv_frame.h"

namespace weft::asm_switch {

// Builds a saved_frame near the top of `s` that resumes in `trampoline`, which calls
// entry(arg). The new context inherits the creator's MXCSR and x87 control word.
inline void* build_frame(stack_span s, void* entry, void* arg, void (*trampoline)()) noexcept {
  using asm_x86_64::saved_frame;
  auto top = reinterpret_cast<std::uintptr_t>(s.top()) & ~std::uintptr_t{15};
  // 16 spare bytes above the frame keep rsp 16-byte aligned when the trampoline starts.
  auto* frame = reinterpret_cast<saved_frame*>(top - 16 - sizeof(saved_frame));
  std::uint32_t mxcsr;
  std::uint16_t x87_control_word;
  asm volatile("stmxcsr %0" : "=m"(mxcsr));
  asm volatile("fnstcw %0" : "=m"(x87_control_word));
  *frame = saved_frame{mxcsr, x87_control_word, 0,
                       reinterpret_cast<std::uint64_t>(entry), reinterpret_cast<std::uint64_t>(arg),
                       0, 0, 0, 0 /* rbp = 0 ends frame-pointer chains */,
                       reinterpret_cast<void*>(trampoline)};
  reinterpret_cast<void**>(top - 16)[0] = nullptr;  // no return address above the trampoline
  return frame;
}

}  // namespace weft::asm_switch
