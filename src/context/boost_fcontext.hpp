// The Boost.Context backend: jump_fcontext/make_fcontext, implemented in boost_fcontext.cpp,
// the only file of weft that includes Boost.
#pragma once

#include <string_view>

namespace weft::boost_fcontext {

struct backend {
  static constexpr std::string_view name = "boost";
  static void* make(stack_span s, context_entry entry, void* arg) noexcept;
  static void jump(context& from, context& to) noexcept;
};

}  // namespace weft::boost_fcontext
