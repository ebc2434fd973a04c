// The hand-written x86-64 SysV backend: the switch itself is in asm_x86_64_sysv.S.
#pragma once

#include <cstdint>
#include <string_view>

#include "asm_x86_64_sysv_frame.h"

namespace weft::asm_x86_64 {

struct backend {
  static constexpr std::string_view name = "asm";

  // Builds a saved_frame near the top of `s` that resumes in weft_asm_trampoline, which calls
  // entry(arg). The new context inherits the creator's MXCSR and x87 control word.
  static void* make(stack_span s, context_entry entry, void* arg) noexcept {
    return build_frame(s, reinterpret_cast<void*>(entry), arg, &weft_asm_trampoline);
  }
  // The same with weft_asm_trampoline_fiber, which resumes the context entry(arg) returns.
  static void* make_fiber(stack_span s, fiber_entry entry, void* arg) noexcept {
    return build_frame(s, reinterpret_cast<void*>(entry), arg, &weft_asm_trampoline_fiber);
  }

  static void jump(context& from, context& to) noexcept {
    weft_asm_switch(&context_access::handle(from), context_access::handle(to));
  }
  // Leaves the FP control state alone (the scheduler hands it over itself: src/fp_env.hpp).
  static void jump_balanced(context& from, context& to) noexcept {
    weft_asm_switch_fiber(&context_access::handle(from), context_access::handle(to));
  }

 private:
  static void* build_frame(stack_span s, void* entry, void* arg, void (*trampoline)()) noexcept {
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
};

static_assert(context_access::handle_offset() == WEFT_CONTEXT_HANDLE_OFFSET);

}  // namespace weft::asm_x86_64
