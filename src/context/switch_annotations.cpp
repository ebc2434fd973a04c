// ASan and TSan bookkeeping around every switch (see switch_annotations.hpp).
#include "switch_annotations.hpp"

#ifdef WEFT_SWITCH_ANNOTATIONS
#include <pthread.h>

#ifdef WEFT_ASAN
#include <sanitizer/asan_interface.h>
#endif
#ifdef WEFT_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace weft::annotations {
namespace {

// The stack the running code is on; starts as the thread's own stack.
thread_local stack_span running_stack{};

stack_span thread_stack() noexcept {
  stack_span s{};
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    pthread_attr_getstack(&attr, &s.low, &s.size);
    pthread_attr_destroy(&attr);
  }
  return s;
}

}  // namespace

void on_create([[maybe_unused]] context& c) noexcept {
#ifdef WEFT_TSAN
  context_access::tsan_fiber(c) = __tsan_create_fiber(0);
  context_access::owns_tsan_fiber(c) = true;
#endif
}

void on_destroy([[maybe_unused]] context& c) noexcept {
#ifdef WEFT_TSAN
  if (context_access::owns_tsan_fiber(c)) __tsan_destroy_fiber(context_access::tsan_fiber(c));
#endif
}

void before_switch(context& from, context& to, [[maybe_unused]] bool final) noexcept {
  if (running_stack.low == nullptr) running_stack = thread_stack();
  // A context that captured a running flow learns its stack now, as it is suspended.
  if (context_access::stack(from).low == nullptr) context_access::stack(from) = running_stack;
  running_stack = context_access::stack(to);
#ifdef WEFT_ASAN
  stack_span target = context_access::stack(to);
  __sanitizer_start_switch_fiber(final ? nullptr : &context_access::asan_fake_stack(from),
                                 target.low, target.size);
#endif
#ifdef WEFT_TSAN
  if (context_access::tsan_fiber(from) == nullptr)
    context_access::tsan_fiber(from) = __tsan_get_current_fiber();
  __tsan_switch_to_fiber(context_access::tsan_fiber(to), 0);
#endif
}

void after_switch(context& from) noexcept {
  running_stack = context_access::stack(from);
#ifdef WEFT_ASAN
  __sanitizer_finish_switch_fiber(context_access::asan_fake_stack(from), nullptr, nullptr);
#endif
}

}  // namespace weft::annotations

extern "C" void weft_context_started() noexcept {
#ifdef WEFT_ASAN
  __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
}
#endif  // WEFT_SWITCH_ANNOTATIONS
