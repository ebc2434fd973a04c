// The one internal interface every context-switch backend implements, checked by a concept.
// Only src/ sees it; the choice of backend is a PRIVATE compile definition of the library.
#pragma once

#include <concepts>
#include <cstddef>
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
  static constexpr std::size_t handle_offset() noexcept { return offsetof(context, sp_); }
};

// What a context created through the public API runs: it never returns.
using context_entry = void (*)(void* arg);
// What a scheduler's fiber runs: it returns the context to resume for good, after its own
// final switch annotations (annotations::before_switch with final = true).
using fiber_entry = context* (*)(void* arg);

// A backend prepares entry(arg) on a stack, returning the handle of the new suspended context,
// and performs the symmetric switch: save into `from`, resume `to`.
//   make / jump:                the public API's contexts and switch;
//   make_fiber / jump_balanced: the scheduler's. Its fibers all suspend at one call site, so a
//     backend may resume them with a `ret` that the CPU's return-stack predictor gets right,
//     and a fiber's entry returns into the trampoline, which then resumes what it returned.
//     It need not keep the FP control state: the scheduler keeps it per thread (fp_env.hpp).
template <class B>
concept context_backend_impl = requires(context& from, context& to, stack_span s,
                                        context_entry entry, fiber_entry fentry, void* arg) {
  { B::name } -> std::convertible_to<std::string_view>;
  { B::make(s, entry, arg) } noexcept -> std::same_as<void*>;
  { B::make_fiber(s, fentry, arg) } noexcept -> std::same_as<void*>;
  { B::jump(from, to) } noexcept -> std::same_as<void>;
  { B::jump_balanced(from, to) } noexcept -> std::same_as<void>;
};

}  // namespace weft

#if defined(WEFT_CONTEXT_BACKEND_ASM)
#include "asm_backend.hpp"
namespace weft { using context_backend_type = asm_switch::backend; }
#elif defined(WEFT_CONTEXT_BACKEND_BOOST)
#include "boost_fcontext.hpp"
namespace weft { using context_backend_type = boost_fcontext::backend; }
#else
#error "define WEFT_CONTEXT_BACKEND_ASM or WEFT_CONTEXT_BACKEND_BOOST (CMake does this)"
#endif

static_assert(weft::context_backend_impl<weft::context_backend_type>);
