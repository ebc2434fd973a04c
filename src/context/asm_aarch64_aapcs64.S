/* weft's hand-written context switch for AArch64 (AAPCS64, Linux).
 *
 *   void weft_asm_switch(void** from_sp, void* to_sp);
 *     x0 = from_sp: where the caller's stack pointer is stored once its frame is saved
 *     x1 = to_sp:   the stack pointer of the context to resume (points at a saved frame)
 *
 * The frame (offsets in asm_aarch64_aapcs64_frame.h) holds what AAPCS64 makes callee-saved:
 * x19-x28, the frame pointer x29, the link register x30 (where the context resumes), sp
 * (implicitly: it is the context), the low 64 bits of v8-v15 (d8-d15) and the FPCR.
 *
 * Deliberately not saved: x0-x18 (argument, temporary and platform registers; x18 is not used
 * by Linux user code, and the compiler already spilled anything live in the others), the upper
 * halves of v8-v15 and all of v0-v7 and v16-v31 (caller-saved), the FPSR (cumulative status
 * flags, not preserved across calls) and tpidr_el0 (the thread pointer belongs to the thread).
 *
 * Alignment invariant: AArch64 faults on an sp-based access through a stack pointer that is not
 * 16-byte aligned, so sp is a multiple of 16 at every call; the frame is 0xb0 bytes, so the
 * saved stack pointer is aligned too, and new stacks are built the same way.
 *
 * The FPCR (rounding mode, flush-to-zero, default NaN, trap enables) is control state only: it
 * has no status bits. weft_asm_switch reloads it only when the resumed context's differs from
 * the caller's, because writing it may serialise the pipeline on some cores and reading it
 * does not. weft_asm_switch_fiber, the scheduler's, neither saves nor loads it: fibers share
 * their thread's, and those with their own are handed over in C++ (src/fp_env.hpp).
 *
 * Resuming: `ret` versus `br`, the AArch64 form of the x86 switch's `ret` versus `jmp`.
 * `ret` pops the return-address predictor's entry that the caller's `bl` pushed, so it predicts
 * right when the resumed context was suspended at the same call site (every fiber in the
 * scheduler) and keeps the predictor in step for the returns that follow; `br` would leave the
 * entry behind. Unlike x86, there is no `br` variant for the public switch: with Branch Target
 * Identification (-mbranch-protection=standard), a `br` may only land on a `bti j` pad, and a
 * switch resumes at its caller's return address, which has none; `ret` is never checked. So
 * both switches resume with `ret`, except the scheduler's entry into a fresh fiber, which is a
 * `br` to the trampoline's `bti j` pad: the `bl` entry stays for the fiber's final `ret`, as in
 * the x86 switch.
 *
 * Every symbol starts with a landing pad, and the object carries a GNU property note marking it
 * BTI and PAC compatible, whatever flags it is assembled with: linking it never switches BTI
 * off for a program built with -mbranch-protection=standard (the pads are no-ops on cores
 * without BTI). Return addresses are not signed here: the switch stores and reloads x30
 * unchanged, and pac-ret code signs its own link register in its own frame.
 */
#define WEFT_BUILD_ASM 1
#include "asm_aarch64_aapcs64_frame.h"

/* The landing pads are HINT-space instructions (no-ops before ARMv8.5, on any assembler). */
#define WEFT_BTI_C hint #34   /* bti c: reached by a call (blr) */
#define WEFT_BTI_J hint #36   /* bti j: reached by a jump (br) */

.text

/* Saves the caller's frame below sp (FPCR too with \fp = fp, into x9), stores sp into *x0 and
 * moves to the stack at x1. CFI: the CFA is sp + FRAME_SIZE, with x29 and x30 in the frame;
 * the resumed stack has the same frame at sp, so the same rules hold after the move. */
.macro WEFT_SAVE fp
    sub     sp, sp, #WEFT_CTX_FRAME_SIZE
    .cfi_def_cfa_offset WEFT_CTX_FRAME_SIZE
    stp     d8, d9, [sp, #WEFT_CTX_D8]
    stp     d10, d11, [sp, #WEFT_CTX_D10]
    stp     d12, d13, [sp, #WEFT_CTX_D12]
    stp     d14, d15, [sp, #WEFT_CTX_D14]
    stp     x19, x20, [sp, #WEFT_CTX_X19]
    stp     x21, x22, [sp, #WEFT_CTX_X21]
    stp     x23, x24, [sp, #WEFT_CTX_X23]
    stp     x25, x26, [sp, #WEFT_CTX_X25]
    stp     x27, x28, [sp, #WEFT_CTX_X27]
    stp     x29, x30, [sp, #WEFT_CTX_FP]
    .cfi_offset x29, WEFT_CTX_FP - WEFT_CTX_FRAME_SIZE
    .cfi_offset x30, WEFT_CTX_LR - WEFT_CTX_FRAME_SIZE
.ifc \fp, fp
    mrs     x9, fpcr
    str     x9, [sp, #WEFT_CTX_FPCR]
.endif
    mov     x10, sp
    str     x10, [x0]                /* the caller is now a suspended context */
    mov     sp, x1                   /* from here on we run on the resumed stack */
.endm

/* Resumes the frame at sp. With \fp = fp, x9 holds the FPCR in force now, and the frame's is
 * loaded only when it differs. \resume is:
 *   ret:   return to the frame's x30;
 *   fiber: as ret, but a fresh fiber (x30 = weft_asm_trampoline_fiber) is entered with br. */
.macro WEFT_RESUME resume, fp
.ifc \fp, fp
    ldr     x10, [sp, #WEFT_CTX_FPCR]
    cmp     x9, x10
    b.eq    1f                       /* same control state: no write */
    msr     fpcr, x10
1:
.endif
    ldp     d8, d9, [sp, #WEFT_CTX_D8]
    ldp     d10, d11, [sp, #WEFT_CTX_D10]
    ldp     d12, d13, [sp, #WEFT_CTX_D12]
    ldp     d14, d15, [sp, #WEFT_CTX_D14]
    ldp     x19, x20, [sp, #WEFT_CTX_X19]
    ldp     x21, x22, [sp, #WEFT_CTX_X21]
    ldp     x23, x24, [sp, #WEFT_CTX_X23]
    ldp     x25, x26, [sp, #WEFT_CTX_X25]
    ldp     x27, x28, [sp, #WEFT_CTX_X27]
    ldp     x29, x30, [sp, #WEFT_CTX_FP]
.ifc \resume, fiber
    adr     x9, weft_asm_trampoline_fiber
    cmp     x30, x9
    b.eq    3f
.endif
    .cfi_remember_state
    add     sp, sp, #WEFT_CTX_FRAME_SIZE
    .cfi_def_cfa_offset 0
    .cfi_restore x29
    .cfi_restore x30
    ret
    .cfi_restore_state
.ifc \resume, fiber
3:
    add     sp, sp, #WEFT_CTX_FRAME_SIZE
    .cfi_def_cfa_offset 0
    .cfi_restore x29
    .cfi_restore x30
    br      x30
.endif
.endm

/* The switch; \resume and \fp as in WEFT_RESUME. */
.macro WEFT_SWITCH name, resume, fp
.globl \name
.hidden \name
.type \name, %function
.balign 16
\name:
    .cfi_startproc
    WEFT_BTI_C
    WEFT_SAVE \fp
    WEFT_RESUME \resume, \fp
    .cfi_endproc
.size \name, .-\name
.endm

WEFT_SWITCH weft_asm_switch, ret, fp
WEFT_SWITCH weft_asm_switch_fiber, fiber, nofp

/* First code on a new stack. The backend built a frame whose x30 is this label, with
 * x19 = entry, x20 = arg and x29 = 0 (the end of the frame-pointer chain), and sp 16-byte
 * aligned. The return address column is undefined, so debuggers and unwinders end the
 * backtrace at this frame. weft_asm_switch enters it with `ret`, which BTI does not check;
 * the pad is there for callers that branch to it. */
.globl weft_asm_trampoline
.hidden weft_asm_trampoline
.type weft_asm_trampoline, %function
.balign 16
weft_asm_trampoline:
    .cfi_startproc
    .cfi_undefined x30
    WEFT_BTI_J
#ifdef WEFT_SWITCH_ANNOTATIONS
    bl      weft_context_started     /* sanitizer bookkeeping for the first entry */
#endif
    mov     x0, x20
    blr     x19
    brk     #0x3e8                   /* entry must never return */
    .cfi_endproc
.size weft_asm_trampoline, .-weft_asm_trampoline

/* The same for a fiber, entered with `br` from weft_asm_switch_fiber: x19 = entry returns (in
 * x0) the context to resume for good, whose saved stack pointer is at
 * WEFT_CONTEXT_HANDLE_OFFSET. Returning here instead of switching from deep inside the fiber
 * pops every predictor entry the fiber pushed, so the final `ret` consumes the one its
 * starter's `bl` pushed. That context was suspended by weft_asm_switch_fiber, so no FPCR is
 * restored. */
.globl weft_asm_trampoline_fiber
.hidden weft_asm_trampoline_fiber
.type weft_asm_trampoline_fiber, %function
.balign 16
weft_asm_trampoline_fiber:
    .cfi_startproc
    .cfi_undefined x30
    WEFT_BTI_J
#ifdef WEFT_SWITCH_ANNOTATIONS
    bl      weft_context_started
#endif
    mov     x0, x20
    blr     x19
    ldr     x9, [x0, #WEFT_CONTEXT_HANDLE_OFFSET]  /* the saved stack pointer to resume */
    mov     sp, x9
    .cfi_def_cfa sp, WEFT_CTX_FRAME_SIZE
    .cfi_offset x29, WEFT_CTX_FP - WEFT_CTX_FRAME_SIZE
    .cfi_offset x30, WEFT_CTX_LR - WEFT_CTX_FRAME_SIZE
    WEFT_RESUME ret, nofp
    .cfi_endproc
.size weft_asm_trampoline_fiber, .-weft_asm_trampoline_fiber

/* GNU_PROPERTY_AARCH64_FEATURE_1_AND: this object keeps BTI (bit 0) and PAC (bit 1) working. */
.pushsection .note.gnu.property, "a"
.balign 8
.long 4                              /* name size */
.long 16                             /* descriptor size */
.long 5                              /* NT_GNU_PROPERTY_TYPE_0 */
.asciz "GNU"
.long 0xc0000000                     /* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
.long 4                              /* its data size */
.long 3                              /* BTI | PAC */
.long 0                              /* padding to 8 bytes */
.popsection

.section .note.GNU-stack,"",%progbits
