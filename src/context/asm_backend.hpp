// The hand-written backend: the same interface on every architecture it supports. The switch
// and trampolines are in asm_<arch>.S, each architecture's first frame is built in
// asm_<arch>.hpp (build_frame), and both keep the same symbol names.
#pragma once

#include <string_view>

#if defined(__x86_64__)
#include "asm_x86_64_sysv.hpp"
#elif defined(__aarch64__)
#include "asm_aarch64_aapcs64.hpp"
#else
#error "the asm backend supports x86-64 and AArch64 only: configure WEFT_CONTEXT_BACKEND=boost"
#endif

namespace weft::asm_switch {

struct backend {
  static constexpr std::string_view name = "asm";

  // A new context resumes in weft_asm_trampoline, which calls entry(arg). It inherits the
  // creator's FP control state.
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
};

static_assert(context_access::handle_offset() == WEFT_CONTEXT_HANDLE_OFFSET);

}  // namespace weft::asm_switch
