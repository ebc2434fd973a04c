// ASan and TSan bookkeeping around every switch (see switch_annotations.hpp).
#include "switch_annotations.hpp"

#include "../thread_mutex.hpp"

#ifdef WEFT_SWITCH_ANNOTATIONS
#include <pthread.h>

#include <vector>

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
#ifdef WEFT_ASAN
// The fake stack of the execution being resumed, read from `to` before the switch. The resumed
// side cannot read it from its own `from` afterwards: while suspended, a context may be moved
// and the object it was saved into destroyed.
thread_local void* resumed_fake_stack = nullptr;
#endif

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

#ifdef WEFT_TSAN
// __tsan_create_fiber and __tsan_destroy_fiber cost about 0.6 ms together, so released TSan
// fibers are kept for reuse. Every switch synchronises (flag 0 of __tsan_switch_to_fiber), so
// a reused fiber's history only adds happens-before edges TSan already had on that thread.
struct tsan_fiber_pool {
  detail::thread_mutex mutex;
  std::vector<void*> free WEFT_GUARDED_BY(mutex);
  static constexpr std::size_t max_kept = 4096;
};
tsan_fiber_pool& fiber_pool() {
  static auto* pool = [] {
    auto* p = new tsan_fiber_pool;  // never destroyed: contexts may outlive statics
    // A forked child must not reuse the parent's kept fibers: their TSan histories name the
    // parent's other threads, which do not exist in the child, and TSan reports false races
    // against them. The child forgets them (their memory is TSan's, left as it is); the pool's
    // mutex is held across fork() so that no other thread holds it at that moment.
    // (The analysis cannot pair a lock in one handler with its unlock in another.)
    pthread_atfork([]() WEFT_NO_THREAD_SAFETY_ANALYSIS { fiber_pool().mutex.lock(); },
                   []() WEFT_NO_THREAD_SAFETY_ANALYSIS { fiber_pool().mutex.unlock(); },
                   []() WEFT_NO_THREAD_SAFETY_ANALYSIS {
                     fiber_pool().free.clear();
                     fiber_pool().mutex.unlock();
                   });
    return p;
  }();
  return *pool;
}
#endif

void on_create([[maybe_unused]] context& c) noexcept {
#ifdef WEFT_TSAN
  void* fiber = nullptr;
  {
    tsan_fiber_pool& pool = fiber_pool();
    detail::thread_lock guard(pool.mutex);
    if (!pool.free.empty()) {
      fiber = pool.free.back();
      pool.free.pop_back();
    }
  }
  context_access::tsan_fiber(c) = fiber ? fiber : __tsan_create_fiber(0);
  context_access::owns_tsan_fiber(c) = true;
#endif
}

void on_destroy([[maybe_unused]] context& c) noexcept {
#ifdef WEFT_TSAN
  if (!context_access::owns_tsan_fiber(c)) return;
  void* fiber = context_access::tsan_fiber(c);
  {
    tsan_fiber_pool& pool = fiber_pool();
    detail::thread_lock guard(pool.mutex);
    if (pool.free.size() < tsan_fiber_pool::max_kept) {
      try {
        pool.free.push_back(fiber);
        return;
      } catch (...) {
      }
    }
  }
  __tsan_destroy_fiber(fiber);
#endif
}

// Not ASan-instrumented: with detect_stack_use_after_return, an instrumented frame would live
// on the fiber's fake stack, which a final switch's __sanitizer_start_switch_fiber(nullptr, ...)
// frees, and returning from that frame would then write to unmapped memory.
#ifdef WEFT_ASAN
__attribute__((no_sanitize_address))
#endif
void before_switch(context& from, context& to, [[maybe_unused]] bool final) noexcept {
  if (running_stack.low == nullptr) running_stack = thread_stack();
  // A context that captured a running flow learns its stack now, as it is suspended.
  if (context_access::stack(from).low == nullptr) context_access::stack(from) = running_stack;
  running_stack = context_access::stack(to);
#ifdef WEFT_ASAN
  // A context leaving for good never returns through its frames: clear their shadow, or the
  // next fiber on this (pooled) stack would trip over the stale redzones.
  if (final) __asan_handle_no_return();
  stack_span target = context_access::stack(to);
  resumed_fake_stack = context_access::asan_fake_stack(to);
  __sanitizer_start_switch_fiber(final ? nullptr : &context_access::asan_fake_stack(from),
                                 target.low, target.size);
#endif
#ifdef WEFT_TSAN
  if (context_access::tsan_fiber(from) == nullptr)
    context_access::tsan_fiber(from) = __tsan_get_current_fiber();
  __tsan_switch_to_fiber(context_access::tsan_fiber(to), 0);
#endif
}

// `from` is not read: it may be a moved-from or destroyed object by now. before_switch on the
// resuming side already set running_stack and resumed_fake_stack from the live object.
void after_switch(context& /*from*/) noexcept {
#ifdef WEFT_ASAN
  __sanitizer_finish_switch_fiber(resumed_fake_stack, nullptr, nullptr);
#endif
}

}  // namespace weft::annotations

extern "C" void weft_context_started() noexcept {
#ifdef WEFT_ASAN
  __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
}
#endif  // WEFT_SWITCH_ANNOTATIONS
