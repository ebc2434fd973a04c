// The Boost.Context backend: jump_fcontext/make_fcontext. The contexts' start is in
// boost_fcontext.cpp; the jump is here, so that it inlines into its caller: an out-of-line
// wrapper's own `ret` would follow jump_fcontext's `jmp`, which leaves the return-stack buffer
// one entry off, and mispredict on every switch (bench/switch_bench.cpp).
#pragma once

#include <boost/context/detail/fcontext.hpp>

#include <string_view>

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
  WEFT_NO_ASAN static void jump(context& from, context& to) noexcept {
    namespace fc = boost::context::detail;
    jump_note note{&from, &to};
    fc::transfer_t t = fc::jump_fcontext(context_access::handle(to), &note);
    // Back in `from`: whoever jumped here left a note naming the context it left.
    context_access::handle(*static_cast<jump_note*>(t.data)->from) = t.fctx;
  }
  // jump_fcontext always resumes with a jump: nothing to balance.
  static void jump_balanced(context& from, context& to) noexcept { jump(from, to); }
};

}  // namespace weft::boost_fcontext
