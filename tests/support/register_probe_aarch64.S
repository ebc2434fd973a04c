/* The AArch64 register probe for the register tests (tests/context_test.cpp,
 * tests/fiber_state_test.cpp): does a call that switches contexts (weft::switch_context, or a
 * fiber's yield through the scheduler's switch) preserve every callee-saved register, the FPCR
 * and the stack pointer?
 *
 *   void weft_probe_call(void (*fn)(void*, void*), void* a, void* b,
 *                        const uint64_t values[20], probe_registers* out);
 *     x0 = fn, x1 = a, x2 = b: calls fn(a, b), e.g. weft::switch_context(*from, *to)
 *     x3 = values: loaded into x19-x28, x29, d8-d15 and the FPCR (in that order) before the call
 *     x4 = out:    after fn returns, out->reg[0..19] receive those registers the same way, and
 *                  out->sp_delta (offset 160) receives sp after minus sp before the call
 *
 * The probe saves and restores the caller's callee-saved registers and FPCR itself, so it is an
 * ordinary ABI-conforming function; only while it is suspended inside fn do the registers hold
 * the test's values.
 */
#define PROBE_BTI_C hint #34  /* bti c (a no-op without BTI), as in the switch */

#define PROBE_FRAME 192  /* x29/x30, x19-x28, d8-d15, out, FPCR, sp before the call, padding */

.text
.globl weft_probe_call
.type weft_probe_call, %function
.balign 16
weft_probe_call:
    .cfi_startproc
    PROBE_BTI_C
    stp     x29, x30, [sp, #-PROBE_FRAME]!
    .cfi_def_cfa_offset PROBE_FRAME
    .cfi_offset x29, -PROBE_FRAME
    .cfi_offset x30, -PROBE_FRAME + 8
    stp     x19, x20, [sp, #16]
    stp     x21, x22, [sp, #32]
    stp     x23, x24, [sp, #48]
    stp     x25, x26, [sp, #64]
    stp     x27, x28, [sp, #80]
    stp     d8, d9, [sp, #96]
    stp     d10, d11, [sp, #112]
    stp     d12, d13, [sp, #128]
    stp     d14, d15, [sp, #144]
    mrs     x9, fpcr
    stp     x4, x9, [sp, #160]       /* out, the caller's FPCR */
    mov     x9, sp
    str     x9, [sp, #176]           /* sp before the call */

    ldp     x19, x20, [x3, #0]
    ldp     x21, x22, [x3, #16]
    ldp     x23, x24, [x3, #32]
    ldp     x25, x26, [x3, #48]
    ldp     x27, x28, [x3, #64]
    ldr     x29, [x3, #80]
    ldp     d8, d9, [x3, #88]
    ldp     d10, d11, [x3, #104]
    ldp     d12, d13, [x3, #120]
    ldp     d14, d15, [x3, #136]
    ldr     x9, [x3, #152]
    msr     fpcr, x9
    mov     x16, x0
    mov     x0, x1
    mov     x1, x2
    blr     x16

    ldr     x9, [sp, #160]           /* out */
    stp     x19, x20, [x9, #0]
    stp     x21, x22, [x9, #16]
    stp     x23, x24, [x9, #32]
    stp     x25, x26, [x9, #48]
    stp     x27, x28, [x9, #64]
    str     x29, [x9, #80]
    stp     d8, d9, [x9, #88]
    stp     d10, d11, [x9, #104]
    stp     d12, d13, [x9, #120]
    stp     d14, d15, [x9, #136]
    mrs     x10, fpcr
    str     x10, [x9, #152]
    mov     x10, sp
    ldr     x11, [sp, #176]
    sub     x10, x10, x11
    str     x10, [x9, #160]          /* sp_delta: 0 when sp came back unchanged */

    ldr     x9, [sp, #168]
    msr     fpcr, x9
    ldp     x19, x20, [sp, #16]
    ldp     x21, x22, [sp, #32]
    ldp     x23, x24, [sp, #48]
    ldp     x25, x26, [sp, #64]
    ldp     x27, x28, [sp, #80]
    ldp     d8, d9, [sp, #96]
    ldp     d10, d11, [sp, #112]
    ldp     d12, d13, [sp, #128]
    ldp     d14, d15, [sp, #144]
    ldp     x29, x30, [sp], #PROBE_FRAME
    .cfi_def_cfa_offset 0
    .cfi_restore x29
    .cfi_restore x30
    ret
    .cfi_endproc
.size weft_probe_call, .-weft_probe_call

.pushsection .note.gnu.property, "a"
.balign 8
.long 4, 16, 5
.asciz "GNU"
.long 0xc0000000, 4, 3, 0            /* GNU_PROPERTY_AARCH64_FEATURE_1_AND: BTI | PAC */
.popsection

.section .note.GNU-stack,"",%progbits
