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

// For code that runs on a fiber's stack after its final switch annotation: ASan has freed the
// fiber's fake stack by then, where an instrumented frame could live.
#if defined(__SANITIZE_ADDRESS__)
#define WEFT_NO_ASAN __attribute__((no_sanitize_address))
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_NO_ASAN __attribute__((no_sanitize("address")))
#endif
#endif
#ifndef WEFT_NO_ASAN
#define WEFT_NO_ASAN
#endif

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
