/* The x86-64 register probe for the register tests (tests/context_test.cpp,
 * tests/fiber_state_test.cpp): does a call that switches contexts (weft::switch_context, or a fiber's yield through the
 * scheduler's switch) preserve every callee-saved register and the stack pointer?
 *
 *   void weft_probe_call(void (*fn)(void*, void*), void* a, void* b,
 *                        const uint64_t values[6], probe_registers* out);
 *     rdi = fn, rsi = a, rdx = b: calls fn(a, b), e.g. weft::switch_context(*from, *to)
 *     rcx = values: loaded into rbx, rbp, r12, r13, r14, r15 (in that order) before the call
 *     r8  = out:    after fn returns, out->gpr[0..5] receive rbx, rbp, r12-r15 and
 *                   out->rsp_delta (offset 48) receives rsp after minus rsp before the call
 *
 * The probe saves and restores the caller's callee-saved registers itself, so it is an
 * ordinary ABI-conforming function; only while it is suspended inside fn do the registers
 * hold the test's values.
 */

#define PROBE_LOCALS 24 /* out pointer, rsp before the call, padding to 16-byte alignment */

.text
.globl weft_probe_call
.type weft_probe_call, @function
.align 16
weft_probe_call:
    .cfi_startproc
    pushq   %rbx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset rbx, 0
    pushq   %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset rbp, 0
    pushq   %r12
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r12, 0
    pushq   %r13
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r13, 0
    pushq   %r14
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r14, 0
    pushq   %r15
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r15, 0
    /* return address + 6 pushes + 24 bytes = 80: rsp is 16-byte aligned for the call below */
    subq    $PROBE_LOCALS, %rsp
    .cfi_adjust_cfa_offset PROBE_LOCALS
    movq    %r8, 0(%rsp)             /* out */
    movq    %rsp, 8(%rsp)            /* rsp before the call */

    movq    0(%rcx), %rbx
    movq    8(%rcx), %rbp
    movq    16(%rcx), %r12
    movq    24(%rcx), %r13
    movq    32(%rcx), %r14
    movq    40(%rcx), %r15
    movq    %rdi, %rax
    movq    %rsi, %rdi
    movq    %rdx, %rsi
    call    *%rax

    movq    0(%rsp), %rax            /* out */
    movq    %rbx, 0(%rax)
    movq    %rbp, 8(%rax)
    movq    %r12, 16(%rax)
    movq    %r13, 24(%rax)
    movq    %r14, 32(%rax)
    movq    %r15, 40(%rax)
    movq    %rsp, %rcx
    subq    8(%rsp), %rcx
    movq    %rcx, 48(%rax)           /* rsp_delta: 0 when rsp came back unchanged */

    addq    $PROBE_LOCALS, %rsp
    .cfi_adjust_cfa_offset -PROBE_LOCALS
    popq    %r15
    .cfi_adjust_cfa_offset -8
    .cfi_restore r15
    popq    %r14
    .cfi_adjust_cfa_offset -8
    .cfi_restore r14
    popq    %r13
    .cfi_adjust_cfa_offset -8
    .cfi_restore r13
    popq    %r12
    .cfi_adjust_cfa_offset -8
    .cfi_restore r12
    popq    %rbp
    .cfi_adjust_cfa_offset -8
    .cfi_restore rbp
    popq    %rbx
    .cfi_adjust_cfa_offset -8
    .cfi_restore rbx
    ret
    .cfi_endproc
.size weft_probe_call, .-weft_probe_call

.section .note.GNU-stack,"",@progbits
