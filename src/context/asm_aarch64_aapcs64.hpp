// The hand-written AArch64 (AAPCS64) backend: the switch itself is in asm_aarch64_aapcs64.S.
#pragma once

#include <cstdint>
#include <string_view>

#include "asm_aarch64_aapcs64_frame.h"

namespace weft::asm_aarch64 {

struct backend {
  static constexpr std::string_view name = "asm";

  // Builds a saved_frame at the top of `s` that resumes in weft_asm_trampoline, which calls
  // entry(arg). The new context inherits the creator's FPCR.
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
    // 16 spare bytes above the frame, as on x86-64: the trampoline starts at top - 16.
    auto* frame = reinterpret_cast<saved_frame*>(top - 16 - sizeof(saved_frame));
    std::uint64_t fpcr;
    asm volatile("mrs %0, fpcr" : "=r"(fpcr));
    *frame = saved_frame{};
    frame->x19 = reinterpret_cast<std::uint64_t>(entry);
    frame->x20 = reinterpret_cast<std::uint64_t>(arg);
    frame->fp = 0;  // ends frame-pointer chains
    frame->lr = reinterpret_cast<void*>(trampoline);
    frame->fpcr = fpcr;
    reinterpret_cast<void**>(top - 16)[0] = nullptr;  // a null frame record above the trampoline
    reinterpret_cast<void**>(top - 16)[1] = nullptr;
    return frame;
  }
};

static_assert(context_access::handle_offset() == WEFT_CONTEXT_HANDLE_OFFSET);

}  // namespace weft::asm_aarch64
