// Unwinding fibers when their executor is destroyed (executor_core::unwind_all): every fiber
// still suspended gets unwind_requested, and its blocking call throws fiber_unwind, an
// exception only weft catches (it derives from nothing), so the destructors of the objects on
// its stack run. The fiber then ends with the error that set_unwound_error stores, which a
// join_handle kept past the executor rethrows.
#pragma once

#include <exception>

#include "fiber.hpp"

namespace weft::detail {

// Thrown into a fiber's blocking call when its executor unwinds it at destruction.
struct fiber_unwind {};

// Whether a blocking call of `f` throws fiber_unwind now: when its executor is unwinding it,
// but not while `f` is already unwinding (a destructor that blocks, e.g. locks a mutex): a
// second exception there would be std::terminate. Such a call blocks and is woken as usual.
// std::uncaught_exceptions() is the fiber's own count: each fiber has its own C++
// exception-handling state (eh_state.hpp).
inline bool must_unwind(const fiber& f) noexcept {
  return f.unwind_requested && std::uncaught_exceptions() == 0;
}

// For a suspended fiber: whether it blocked while already unwinding (its saved exception state
// counts an uncaught exception), so must_unwind will not throw into it. Executor destruction
// leaves such a fiber where it waits instead of waking it early.
inline bool blocked_while_unwinding(const fiber& f) noexcept { return f.eh.uncaught > 0; }

// Throws fiber_unwind (out of line: the blocking calls' hot paths only test must_unwind).
[[noreturn, gnu::cold, gnu::noinline]] void throw_fiber_unwind();

// The error a fiber unwound at its executor's destruction ends with.
[[gnu::cold, gnu::noinline]] void set_unwound_error(fiber& f);

}  // namespace weft::detail
