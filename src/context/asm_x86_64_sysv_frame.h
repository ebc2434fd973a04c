/* The frame that weft's x86-64 SysV switch saves on a suspended stack.
 *
 * One header for the assembler and for C++: the .S uses only these macros, and under C++ the
 * same layout is declared as a struct and checked field by field with static_assert.
 *
 * A suspended context is a single pointer: its stack pointer, which points at this frame.
 *
 *   sp + WEFT_CTX_MXCSR   MXCSR (control and status bits)           4 bytes (unused by
 *                         weft_asm_switch_fiber, as is the next slot)
 *   sp + WEFT_CTX_X87CW   x87 FPU control word                      2 bytes (+2 padding)
 *   sp + WEFT_CTX_R12 .. WEFT_CTX_RBP   callee-saved general registers, 8 bytes each
 *   sp + WEFT_CTX_RIP     where to resume (the switch's return address)
 *   sp + WEFT_CTX_FRAME_SIZE   the resumed code's stack pointer, after the frame is popped
 */
#ifndef WEFT_SRC_CONTEXT_ASM_X86_64_SYSV_FRAME_H
#define WEFT_SRC_CONTEXT_ASM_X86_64_SYSV_FRAME_H

#define WEFT_CTX_MXCSR 0x00
#define WEFT_CTX_X87CW 0x04
#define WEFT_CTX_R12 0x08
#define WEFT_CTX_R13 0x10
#define WEFT_CTX_R14 0x18
#define WEFT_CTX_R15 0x20
#define WEFT_CTX_RBX 0x28
#define WEFT_CTX_RBP 0x30
#define WEFT_CTX_RIP 0x38
#define WEFT_CTX_FRAME_SIZE 0x40

/* Where weft::context keeps its handle (checked in backend.hpp). */
#define WEFT_CONTEXT_HANDLE_OFFSET 0x00

/* MXCSR bits that belong to a context: everything above the six status flags. */
#define WEFT_MXCSR_CONTROL_BITS 0xffffffc0

#ifndef WEFT_BUILD_ASM
#include <cstddef>
#include <cstdint>

namespace weft::asm_x86_64 {

struct saved_frame {
  std::uint32_t mxcsr;
  std::uint16_t x87_control_word;
  std::uint16_t padding;
  std::uint64_t r12, r13, r14, r15, rbx, rbp;
  void* rip;
};

static_assert(offsetof(saved_frame, mxcsr) == WEFT_CTX_MXCSR);
static_assert(offsetof(saved_frame, x87_control_word) == WEFT_CTX_X87CW);
static_assert(offsetof(saved_frame, r12) == WEFT_CTX_R12);
static_assert(offsetof(saved_frame, r13) == WEFT_CTX_R13);
static_assert(offsetof(saved_frame, r14) == WEFT_CTX_R14);
static_assert(offsetof(saved_frame, r15) == WEFT_CTX_R15);
static_assert(offsetof(saved_frame, rbx) == WEFT_CTX_RBX);
static_assert(offsetof(saved_frame, rbp) == WEFT_CTX_RBP);
static_assert(offsetof(saved_frame, rip) == WEFT_CTX_RIP);
static_assert(sizeof(saved_frame) == WEFT_CTX_FRAME_SIZE);
static_assert(WEFT_CTX_FRAME_SIZE % 16 == 0, "frames keep the stack 16-byte aligned");

}  // namespace weft::asm_x86_64

extern "C" {
// Saves the caller's frame, stores its stack pointer into *from_sp, and resumes to_sp.
// Two builds of the same switch that differ only in how they resume: `ret` pops the saved
// address (and enters a fresh fiber with a jump), `jmp` loads it and jumps. `ret` is the
// faster one when both sides switch from the same call site (the scheduler), `jmp` otherwise;
// weft_asm_switch is `jmp` (see README).
void weft_asm_switch(void** from_sp, void* to_sp) noexcept;
void weft_asm_switch_ret(void** from_sp, void* to_sp) noexcept;
void weft_asm_switch_jmp(void** from_sp, void* to_sp) noexcept;
// The scheduler's: as weft_asm_switch_ret, but the frame's FP slots are neither saved nor
// restored (the FP control state stays the thread's; src/fp_env.hpp).
void weft_asm_switch_fiber(void** from_sp, void* to_sp) noexcept;
// First code run on a new stack: calls r12(r13) and never returns.
void weft_asm_trampoline() noexcept;
// First code run on a new fiber's stack: calls r12(r13), which returns the context to resume
// for good, and resumes it.
void weft_asm_trampoline_fiber() noexcept;
}
#endif /* WEFT_BUILD_ASM */
#endif
