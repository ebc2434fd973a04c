// The switch with its sanitizer annotations, inlined into the library's own hot paths (the
// scheduler); weft::switch_context is the same thing behind an out-of-line call.
#pragma once

#include "backend.hpp"
#include "switch_annotations.hpp"

// For functions that never return: under ThreadSanitizer their entry would never be popped
// from the (reused) TSan fiber's shadow stack.
#if defined(__SANITIZE_THREAD__)
#define WEFT_NO_TSAN __attribute__((no_sanitize_thread))
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_NO_TSAN __attribute__((no_sanitize("thread")))
#endif
#endif
#ifndef WEFT_NO_TSAN
#define WEFT_NO_TSAN
#endif

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
