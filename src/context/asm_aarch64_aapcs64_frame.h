/* The frame that weft's AArch64 (AAPCS64) switch saves on a suspended stack.
 *
 * One header for the assembler and for C++: the .S uses only these macros, and under C++ the
 * same layout is declared as a struct and checked field by field with static_assert.
 *
 * A suspended context is a single pointer: its stack pointer, which points at this frame.
 *
 *   sp + WEFT_CTX_D8 .. WEFT_CTX_D14   d8-d15 (the low halves of v8-v15), a pair per slot
 *   sp + WEFT_CTX_X19 .. WEFT_CTX_X27  x19-x28, a pair per slot
 *   sp + WEFT_CTX_FP      x29, the frame pointer
 *   sp + WEFT_CTX_LR      x30: where to resume (the switch's return address)
 *   sp + WEFT_CTX_FPCR    FPCR (unused by weft_asm_switch_fiber)   8 bytes (+8 padding)
 *   sp + WEFT_CTX_FRAME_SIZE   the resumed code's stack pointer, after the frame is popped
 */
#ifndef WEFT_SRC_CONTEXT_ASM_AARCH64_AAPCS64_FRAME_H
#define WEFT_SRC_CONTEXT_ASM_AARCH64_AAPCS64_FRAME_H

#define WEFT_CTX_D8 0x00
#define WEFT_CTX_D10 0x10
#define WEFT_CTX_D12 0x20
#define WEFT_CTX_D14 0x30
#define WEFT_CTX_X19 0x40
#define WEFT_CTX_X21 0x50
#define WEFT_CTX_X23 0x60
#define WEFT_CTX_X25 0x70
#define WEFT_CTX_X27 0x80
#define WEFT_CTX_FP 0x90
#define WEFT_CTX_LR 0x98
#define WEFT_CTX_FPCR 0xa0
#define WEFT_CTX_FRAME_SIZE 0xb0

/* Where weft::context keeps its handle (checked in the backend's header). */
#define WEFT_CONTEXT_HANDLE_OFFSET 0x00

#ifndef WEFT_BUILD_ASM
#include <cstddef>
#include <cstdint>

namespace weft::asm_aarch64 {

struct saved_frame {
  std::uint64_t d8, d9, d10, d11, d12, d13, d14, d15;  // bit patterns of the doubles
  std::uint64_t x19, x20, x21, x22, x23, x24, x25, x26, x27, x28;
  std::uint64_t fp;
  void* lr;
  std::uint64_t fpcr;
  std::uint64_t padding;
};

static_assert(offsetof(saved_frame, d8) == WEFT_CTX_D8);
static_assert(offsetof(saved_frame, d10) == WEFT_CTX_D10);
static_assert(offsetof(saved_frame, d12) == WEFT_CTX_D12);
static_assert(offsetof(saved_frame, d14) == WEFT_CTX_D14);
static_assert(offsetof(saved_frame, x19) == WEFT_CTX_X19);
static_assert(offsetof(saved_frame, x21) == WEFT_CTX_X21);
static_assert(offsetof(saved_frame, x23) == WEFT_CTX_X23);
static_assert(offsetof(saved_frame, x25) == WEFT_CTX_X25);
static_assert(offsetof(saved_frame, x27) == WEFT_CTX_X27);
static_assert(offsetof(saved_frame, fp) == WEFT_CTX_FP);
static_assert(offsetof(saved_frame, lr) == WEFT_CTX_LR);
static_assert(offsetof(saved_frame, fpcr) == WEFT_CTX_FPCR);
static_assert(sizeof(saved_frame) == WEFT_CTX_FRAME_SIZE);
static_assert(WEFT_CTX_FRAME_SIZE % 16 == 0, "sp stays 16-byte aligned (AArch64 requires it)");

}  // namespace weft::asm_aarch64

extern "C" {
// Saves the caller's frame, stores its stack pointer into *from_sp, and resumes to_sp. The
// public API's switch: keeps the FPCR per context, resumes with `ret` (see the .S).
void weft_asm_switch(void** from_sp, void* to_sp) noexcept;
// The scheduler's: the frame's FPCR slot is neither saved nor restored (the FP control state
// stays the thread's; src/fp_env.hpp), and a fresh fiber is entered with `br`.
void weft_asm_switch_fiber(void** from_sp, void* to_sp) noexcept;
// First code run on a new stack: calls x19(x20) and never returns.
void weft_asm_trampoline() noexcept;
// First code run on a new fiber's stack: calls x19(x20), which returns the context to resume
// for good, and resumes it.
void weft_asm_trampoline_fiber() noexcept;
}
#endif /* WEFT_BUILD_ASM */
#endif
