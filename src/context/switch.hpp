// The switch with its sanitizer annotations, inlined into the library's own hot paths (the
// scheduler); weft::switch_context is the same thing behind an out-of-line call.
#pragma once

#include "backend.hpp"
#include "sanitizer_attributes.hpp"
#include "switch_annotations.hpp"

namespace weft {

// Jump: the backend's jump (the public API's switch) or jump_balanced (the scheduler's).
template <void (*Jump)(context&, context&) noexcept = &context_backend_type::jump>
inline void switch_inline(context& from, context& to) noexcept {
  annotations::before_switch(from, to, false);
  Jump(from, to);
  annotations::after_switch(from);
}

// Prepares a scheduler fiber: entry(arg) starts on `s` and returns the context to resume when
// it ends (see fiber_entry). `c` must be empty.
inline void prepare_fiber_context(context& c, stack_span s, fiber_entry entry, void* arg) noexcept {
  context_access::stack(c) = s;
  context_access::handle(c) = context_backend_type::make_fiber(s, entry, arg);
  annotations::on_create(c);
}

[[noreturn]] inline void switch_final_inline(context& from, context& to) noexcept {
  annotations::before_switch(from, to, true);
  context_backend_type::jump(from, to);
  __builtin_unreachable();
}

}  // namespace weft
