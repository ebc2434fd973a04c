// The Boost.Context backend: jump_fcontext/make_fcontext, implemented in boost_fcontext.cpp,
// the only file of weft that includes Boost.
#pragma once

#include <string_view>

namespace weft::boost_fcontext {

struct backend {
  static constexpr std::string_view name = "boost";
  static void* make(stack_span s, context_entry entry, void* arg) noexcept;
  static void* make_fiber(stack_span s, fiber_entry entry, void* arg) noexcept;
  static void jump(context& from, context& to) noexcept;
  // jump_fcontext always resumes with a jump: nothing to balance.
  static void jump_balanced(context& from, context& to) noexcept { jump(from, to); }
};

}  // namespace weft::boost_fcontext
