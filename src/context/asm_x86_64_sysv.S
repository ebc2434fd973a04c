/* weft's hand-written context switch for x86-64 System V (Linux).
 *
 *   void weft_asm_switch(void** from_sp, void* to_sp);
 *     rdi = from_sp: where the caller's stack pointer is stored once its frame is saved
 *     rsi = to_sp:   the stack pointer of the context to resume (points at a saved frame)
 *
 * The frame (offsets in asm_x86_64_sysv_frame.h) holds what the ABI makes callee-saved: rbx, rbp,
 * r12-r15, rsp (implicitly: it is the context), the MXCSR control bits and the x87 control
 * word. The caller's `call` already pushed the return address, which becomes the frame's RIP
 * slot, so the frame is built by moving rsp down FRAME_SIZE-8 bytes.
 *
 * Alignment invariant: a caller's rsp is 16-byte aligned before its `call`, so the frame
 * start (rsp after the lea) is 16-byte aligned too; new stacks are built the same way.
 *
 * Deliberately not saved: rax, rcx, rdx, rsi, rdi, r8-r11 and xmm0-15/ymm/zmm (caller-saved:
 * the compiler already spilled anything live), the MXCSR status flags and x87 status word
 * (caller-saved), the x87 register stack (empty at calls by the ABI), and fs (the thread
 * pointer belongs to the thread, not to the context).
 *
 * weft_asm_switch_fiber, the scheduler's switch, saves neither MXCSR nor the x87 control word:
 * fibers share their thread's, and the few with their own are handed over in C++ around the
 * switch (src/fp_env.hpp). On AMD Zen, stmxcsr and reading back what it stored cost about a
 * third of a round trip (bench/switch_bench.cpp, docs/design.md).
 *
 * In the other builds, only the MXCSR control bits (6-15) are context state; bits 0-5 are
 * sticky status flags, which the ABI does not preserve across calls. The switch reloads MXCSR
 * and the x87 control word only when the resumed context's control state differs from the
 * state it just saved.
 * The common case therefore costs one stmxcsr and one fnstcw and no load: ldmxcsr is
 * expensive whenever the value changes (about 80 ns a switch on an Intel Xeon under KVM when
 * only the status flags differed, e.g. after the caller's first inexact division) and fldcw
 * is slower than fnstcw everywhere we measured. The saved copies serve as the "current"
 * values, so no second stmxcsr is needed to compare (bench/switch_bench.cpp, README).
 */
#define WEFT_BUILD_ASM 1
#include "asm_x86_64_sysv_frame.h"

#if defined(__CET__) && (__CET__ & 1)
#define WEFT_ENDBR endbr64
#else
#define WEFT_ENDBR
#endif

.text

/* Resumes the frame at rsp. With \fp = fp, eax and dx hold on entry the MXCSR and x87 control
 * word in force now; each is reloaded from the frame only when its control bits differ (with
 * \fp = nofp the frame's FP slots are neither read nor written). Then the callee-saved
 * registers are restored and the frame's RIP resumed with \resume:
 *   jmp: load RIP and jump to it (no return-stack-buffer entry is consumed);
 *   ret: return to it, consuming the entry that the caller's `call` pushed. That predicts
 *        right when the resumed context was suspended at the same call site as the caller,
 *        as all fibers are in the scheduler, and keeps the return-stack buffer in step for
 *        the returns that follow. A fresh fiber (RIP = weft_asm_trampoline_fiber) is entered
 *        with jmp instead, leaving the entry in place for its final resume to consume. */
.macro WEFT_RESUME resume, fp
.ifc \fp, fp
    xorl    WEFT_CTX_MXCSR(%rsp), %eax
    testl   $WEFT_MXCSR_CONTROL_BITS, %eax
    jz      1f                           /* same control bits: keep MXCSR (and its flags) */
    ldmxcsr WEFT_CTX_MXCSR(%rsp)
1:
    cmpw    WEFT_CTX_X87CW(%rsp), %dx
    je      2f
    fldcw   WEFT_CTX_X87CW(%rsp)
2:
.endif
    movq    WEFT_CTX_R12(%rsp), %r12
    movq    WEFT_CTX_R13(%rsp), %r13
    movq    WEFT_CTX_R14(%rsp), %r14
    movq    WEFT_CTX_R15(%rsp), %r15
    movq    WEFT_CTX_RBX(%rsp), %rbx
    movq    WEFT_CTX_RBP(%rsp), %rbp
.ifc \resume, ret
    leaq    weft_asm_trampoline_fiber(%rip), %rcx
    cmpq    %rcx, WEFT_CTX_RIP(%rsp)
    je      3f
    .cfi_remember_state
    leaq    (WEFT_CTX_FRAME_SIZE - 8)(%rsp), %rsp  /* leave only the RIP slot */
    .cfi_adjust_cfa_offset -(WEFT_CTX_FRAME_SIZE - 8)
    ret
    .cfi_restore_state
3:
.else
    movq    WEFT_CTX_RIP(%rsp), %rcx
.endif
    leaq    WEFT_CTX_FRAME_SIZE(%rsp), %rsp        /* pop the whole frame, RIP slot included */
    .cfi_adjust_cfa_offset -WEFT_CTX_FRAME_SIZE
    jmp     *%rcx
.endm

/* The switch; \resume is `ret` or `jmp`, \fp is `fp` or `nofp` (WEFT_RESUME). */
.macro WEFT_SWITCH name, resume, fp
.globl \name
.hidden \name
.type \name, @function
.align 16
\name:
    .cfi_startproc
    WEFT_ENDBR
    leaq    -(WEFT_CTX_FRAME_SIZE - 8)(%rsp), %rsp   /* the return address is the RIP slot */
    .cfi_adjust_cfa_offset (WEFT_CTX_FRAME_SIZE - 8)
.ifc \fp, fp
    stmxcsr WEFT_CTX_MXCSR(%rsp)
    fnstcw  WEFT_CTX_X87CW(%rsp)
.endif
    movq    %r12, WEFT_CTX_R12(%rsp)
    movq    %r13, WEFT_CTX_R13(%rsp)
    movq    %r14, WEFT_CTX_R14(%rsp)
    movq    %r15, WEFT_CTX_R15(%rsp)
    movq    %rbx, WEFT_CTX_RBX(%rsp)
    movq    %rbp, WEFT_CTX_RBP(%rsp)

.ifc \fp, fp
    movl    WEFT_CTX_MXCSR(%rsp), %eax    /* the FP control state in force right now */
    movzwl  WEFT_CTX_X87CW(%rsp), %edx
.endif

    movq    %rsp, (%rdi)                 /* the caller is now a suspended context */
    movq    %rsi, %rsp                   /* from here on we run on the resumed stack */
    WEFT_RESUME \resume, \fp
    .cfi_endproc
.size \name, .-\name
.endm

WEFT_SWITCH weft_asm_switch_ret, ret, fp
WEFT_SWITCH weft_asm_switch_jmp, jmp, fp
WEFT_SWITCH weft_asm_switch_fiber, ret, nofp

/* The faster of the two for switches between unrelated call sites (bench/switch, README). */
.globl weft_asm_switch
.hidden weft_asm_switch
.type weft_asm_switch, @function
.set weft_asm_switch, weft_asm_switch_jmp

/* First code on a new stack. make_context built a frame whose RIP is this label, with
 * r12 = entry, r13 = arg and rbp = 0, and rsp 16-byte aligned here, so the call below
 * enters `entry` with the ABI's alignment. The return address column is undefined, so
 * debuggers and unwinders end the backtrace at this frame. */
.globl weft_asm_trampoline
.hidden weft_asm_trampoline
.type weft_asm_trampoline, @function
.align 16
weft_asm_trampoline:
    .cfi_startproc
    .cfi_undefined rip
    WEFT_ENDBR                        /* reached by an indirect jmp */
#ifdef WEFT_SWITCH_ANNOTATIONS
    call    weft_context_started      /* sanitizer bookkeeping for the first entry */
#endif
    movq    %r13, %rdi
    call    *%r12
    ud2                               /* entry must never return */
    .cfi_endproc
.size weft_asm_trampoline, .-weft_asm_trampoline

/* The same for a fiber: r12 = entry returns (in rax) the context to resume for good, whose
 * saved stack pointer is at WEFT_CONTEXT_HANDLE_OFFSET. Returning here instead of switching
 * from deep inside the fiber pops every return-stack-buffer entry the fiber pushed, so the
 * final `ret` consumes the one its starter's switch pushed (see WEFT_RESUME). That context was
 * suspended by weft_asm_switch_fiber, so no FP control state is restored. */
.globl weft_asm_trampoline_fiber
.hidden weft_asm_trampoline_fiber
.type weft_asm_trampoline_fiber, @function
.align 16
weft_asm_trampoline_fiber:
    .cfi_startproc
    .cfi_undefined rip
    WEFT_ENDBR                        /* reached by an indirect jmp */
#ifdef WEFT_SWITCH_ANNOTATIONS
    call    weft_context_started
#endif
    movq    %r13, %rdi
    call    *%r12
    movq    WEFT_CONTEXT_HANDLE_OFFSET(%rax), %rsp  /* the saved stack pointer to resume */
    WEFT_RESUME ret, nofp
    .cfi_endproc
.size weft_asm_trampoline_fiber, .-weft_asm_trampoline_fiber

.section .note.GNU-stack,"",@progbits
