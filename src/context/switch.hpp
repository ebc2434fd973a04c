// The switch with its sanitizer annotations, inlined into the library's own hot paths (the
// scheduler); weft::switch_context is the same thing behind an out-of-line call.
#pragma once

#include "backend.hpp"
#include "switch_annotations.hpp"

namespace weft {

inline void switch_inline(context& from, context& to) noexcept {
  annotations::before_switch(from, to, false);
  context_backend_type::jump(from, to);
  annotations::after_switch(from);
}

[[noreturn]] inline void switch_final_inline(context& from, context& to) noexcept {
  annotations::before_switch(from, to, true);
  context_backend_type::jump(from, to);
  __builtin_unreachable();
}

}  // namespace weft
