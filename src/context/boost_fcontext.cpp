// The Boost.Context backend. jump_fcontext returns the fcontext of whoever jumped to us; it is
// stored into the context that jumped, which the jumper passed as the transfer's data.
#include <boost/context/detail/fcontext.hpp>

#include <cstdint>

#include "backend.hpp"
#include "switch.hpp"

// The frames that straddle a stack switch are left uninstrumented by ASan (WEFT_NO_ASAN): a
// context that ends never returns through them, and their redzones would stay poisoned on the
// pooled stack.

namespace weft::boost_fcontext {
namespace fc = boost::context::detail;

namespace {

// Kept at the top of a new context's stack until the trampoline has read it. `entry` is a
// context_entry (trampoline) or a fiber_entry (trampoline_fiber).
struct start_record {
  void* entry;
  void* arg;
#if defined(__aarch64__)
  // The creator's FPCR, which a context made by make() starts in (Boost's arm64 make_fcontext
  // records none; on x86-64 it records MXCSR and the x87 control word itself).
  std::uint64_t fpcr;
#endif
};

start_record* record_of(stack_span s) noexcept {
  auto top = reinterpret_cast<std::uintptr_t>(s.top()) & ~std::uintptr_t{15};
  return reinterpret_cast<start_record*>(top - sizeof(start_record) - 16);
}

// The first steps of both trampolines: store the fcontext of the context that jumped here and
// return this context and its start record.
WEFT_NO_ASAN context& begin_context(fc::transfer_t t, start_record& start) noexcept {
  auto* note = static_cast<jump_note*>(t.data);
  context_access::handle(*note->from) = t.fctx;
  start = *record_of(context_access::stack(*note->to));
#ifdef WEFT_SWITCH_ANNOTATIONS
  weft_context_started();
#endif
  return *note->to;
}

#if defined(__x86_64__)
#define WEFT_CFI_UNDEFINED_RETURN_ADDRESS ".cfi_undefined rip"
#elif defined(__aarch64__)
#define WEFT_CFI_UNDEFINED_RETURN_ADDRESS ".cfi_undefined x30"
#else
#error "boost_fcontext.cpp: name this architecture's return-address column"
#endif

// The outermost frames: Boost's make_fcontext, which calls them, has no CFI (Boost 1.74), so
// debuggers and unwinders walking past them read the start record as return addresses (gdb
// showed "?? ()" frames). An undefined return address ends every backtrace here. They never
// return, so TSan does not instrument them either (their entry would stay on the reused TSan
// fiber's shadow stack).
WEFT_NO_ASAN WEFT_NO_TSAN void trampoline(fc::transfer_t t) noexcept {
  asm volatile(WEFT_CFI_UNDEFINED_RETURN_ADDRESS);
  start_record start;
  begin_context(t, start);
#if defined(__aarch64__)
  detail::write_fpcr(start.fpcr);
#endif
  reinterpret_cast<context_entry>(start.entry)(start.arg);
  __builtin_trap();  // entry must never return
}

WEFT_NO_ASAN WEFT_NO_TSAN void trampoline_fiber(fc::transfer_t t) noexcept {
  asm volatile(WEFT_CFI_UNDEFINED_RETURN_ADDRESS);
  start_record start;
  context& self = begin_context(t, start);
  context* next = reinterpret_cast<fiber_entry>(start.entry)(start.arg);
  backend::jump_balanced(self, *next);  // for good: nothing resumes `self`
  __builtin_trap();
}

void* make_with(stack_span s, void* entry, void* arg, void (*trampoline)(fc::transfer_t)) noexcept {
  start_record* record = record_of(s);
#if defined(__aarch64__)
  *record = start_record{entry, arg, detail::read_fpcr()};
#else
  *record = start_record{entry, arg};
#endif
  auto usable = static_cast<std::size_t>(reinterpret_cast<char*>(record) - static_cast<char*>(s.low));
  return fc::make_fcontext(record, usable, trampoline);
}

}  // namespace

void* backend::make(stack_span s, context_entry entry, void* arg) noexcept {
  return make_with(s, reinterpret_cast<void*>(entry), arg, &trampoline);
}

void* backend::make_fiber(stack_span s, fiber_entry entry, void* arg) noexcept {
  return make_with(s, reinterpret_cast<void*>(entry), arg, &trampoline_fiber);
}

}  // namespace weft::boost_fcontext
