// The one internal interface every context-switch backend implements, checked by a concept.
// Only src/ sees it; the choice of backend is a PRIVATE compile definition of the library.
#pragma once

#include <concepts>
#include <string_view>

#include <weft/context.hpp>

namespace weft {

// The library's access to a context's private state, for backends and annotations.
struct context_access {
  static void*& handle(context& c) noexcept { return c.sp_; }
  static stack_span& stack(context& c) noexcept { return c.stack_; }
  static void*& asan_fake_stack(context& c) noexcept { return c.asan_fake_stack_; }
  static void*& tsan_fiber(context& c) noexcept { return c.tsan_fiber_; }
  static bool& owns_tsan_fiber(context& c) noexcept { return c.owns_tsan_fiber_; }
};

using context_entry = void (*)(void* arg);

// A backend prepares entry(arg) on a stack, returning the handle of the new suspended context,
// and performs the symmetric switch: save into `from`, resume `to`.
template <class B>
concept context_backend_impl = requires(context& from, context& to, stack_span s,
                                        context_entry entry, void* arg) {
  { B::name } -> std::convertible_to<std::string_view>;
  { B::make(s, entry, arg) } noexcept -> std::same_as<void*>;
  { B::jump(from, to) } noexcept -> std::same_as<void>;
};

}  // namespace weft

#if defined(WEFT_CONTEXT_BACKEND_ASM)
#include "asm_x86_64_sysv.hpp"
namespace weft { using context_backend_type = asm_x86_64::backend; }
#elif defined(WEFT_CONTEXT_BACKEND_BOOST)
#include "boost_fcontext.hpp"
namespace weft { using context_backend_type = boost_fcontext::backend; }
#else
#error "define WEFT_CONTEXT_BACKEND_ASM or WEFT_CONTEXT_BACKEND_BOOST (CMake does this)"
#endif

static_assert(weft::context_backend_impl<weft::context_backend_type>);
