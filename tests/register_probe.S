/* A probe for tests/context_test.cpp: does weft::switch_context preserve every callee-saved
 * register and the stack pointer?
 *
 *   void weft_probe_switch(weft::context* from, weft::context* to,
 *                          const uint64_t values[6], probe_registers* out);
 *     rdi = from, rsi = to: passed on unchanged to weft::switch_context(from, to)
 *     rdx = values: loaded into rbx, rbp, r12, r13, r14, r15 (in that order) before the switch
 *     rcx = out:    after the switch returns, out->gpr[0..5] receive rbx, rbp, r12-r15 and
 *                   out->rsp_delta (offset 48) receives rsp after minus rsp before the call
 *
 * The probe saves and restores the caller's callee-saved registers itself, so it is an
 * ordinary ABI-conforming function; only while it is suspended inside switch_context do the
 * registers hold the test's values.
 */

#define PROBE_LOCALS 24 /* out pointer, rsp before the call, padding to 16-byte alignment */

.text
.globl weft_probe_switch
.type weft_probe_switch, @function
.align 16
weft_probe_switch:
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
    movq    %rcx, 0(%rsp)            /* out */
    movq    %rsp, 8(%rsp)            /* rsp before the switch */

    movq    0(%rdx), %rbx
    movq    8(%rdx), %rbp
    movq    16(%rdx), %r12
    movq    24(%rdx), %r13
    movq    32(%rdx), %r14
    movq    40(%rdx), %r15
    call    _ZN4weft14switch_contextERNS_7contextES1_@PLT

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
.size weft_probe_switch, .-weft_probe_switch

.section .note.GNU-stack,"",@progbits
