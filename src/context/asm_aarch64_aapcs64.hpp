// The hand-written AArch64 (AAPCS64) backend's first frame (asm_backend.hpp is the backend;
// the switch itself is in asm_aarch64_aapcs64.S).
#pragma once

#include <cstdint>

#include "asm_aarch64_aapcs64_frame.h"
#include "fpcr.hpp"

namespace weft::asm_switch {

// Builds a saved_frame near the top of `s` that resumes in `trampoline`, which calls
// entry(arg) (x19 = entry, x20 = arg). The new context inherits the creator's FPCR.
inline void* build_frame(stack_span s, void* entry, void* arg, void (*trampoline)()) noexcept {
  using asm_aarch64::saved_frame;
  auto top = reinterpret_cast<std::uintptr_t>(s.top()) & ~std::uintptr_t{15};
  // 16 spare bytes above the frame, as on x86-64: the trampoline starts at top - 16.
  auto* frame = reinterpret_cast<saved_frame*>(top - 16 - sizeof(saved_frame));
  *frame = saved_frame{};
  frame->x19 = reinterpret_cast<std::uint64_t>(entry);
  frame->x20 = reinterpret_cast<std::uint64_t>(arg);
  frame->fp = 0;  // x29 = 0 ends frame-pointer chains
  frame->lr = reinterpret_cast<void*>(trampoline);
  frame->fpcr = detail::read_fpcr();
  reinterpret_cast<void**>(top - 16)[0] = nullptr;  // a null frame record above the trampoline
  reinterpret_cast<void**>(top - 16)[1] = nullptr;
  return frame;
}

}  // namespace weft::asm_switch
