// The Boost.Context backend: jump_fcontext/make_fcontext. The contexts' start is in
// boost_fcontext.cpp; the jump is here, so that it inlines into its caller: an out-of-line
// wrapper's own `ret` would follow jump_fcontext's `jmp`, which leaves the return-stack buffer
// one entry off, and mispredict on every switch (bench/switch_bench.cpp).
#pragma once

#include <boost/context/detail/fcontext.hpp>

#include <cstdint>
#include <string_view>

#include "fpcr.hpp"
#include "sanitizer_attributes.hpp"

namespace weft::boost_fcontext {

// What a jump passes: the context being left (to receive its fcontext) and the one entered.
struct jump_note {
  context* from;
  context* to;
};

struct backend {
  static constexpr std::string_view name = "boost";
  static void* make(stack_span s, context_entry entry, void* arg) noexcept;
  static void* make_fiber(stack_span s, fiber_entry entry, void* arg) noexcept;
  // Not instrumented by ASan (then not inlined into instrumented callers either): a context
  // that ends never returns through this frame, whose redzones would stay poisoned on the
  // pooled stack.
  WEFT_NO_ASAN static void jump_balanced(context& from, context& to) noexcept {
    namespace fc = boost::context::detail;
    jump_note note{&from, &to};
    fc::transfer_t t = fc::jump_fcontext(context_access::handle(to), &note);
    // Back in `from`: whoever jumped here left a note naming the context it left.
    context_access::handle(*static_cast<jump_note*>(t.data)->from) = t.fctx;
  }
  // The public switch keeps the FP control state per context. Boost's x86-64 jump_fcontext
  // saves MXCSR and the x87 control word itself; its AArch64 one does not save the FPCR, so it
  // is kept here (written back only when the contexts' differ); a new context starts in its
  // creator's (boost_fcontext.cpp).
#if defined(__aarch64__)
  WEFT_NO_ASAN static void jump(context& from, context& to) noexcept {
    const std::uint64_t fpcr = detail::read_fpcr();
    jump_balanced(from, to);
    if (detail::read_fpcr() != fpcr) detail::write_fpcr(fpcr);
  }
#else
  WEFT_NO_ASAN static void jump(context& from, context& to) noexcept { jump_balanced(from, to); }
#endif
};

}  // namespace weft::boost_fcontext
