// The C++ runtime's per-thread exception state (libstdc++/libsupc++ __cxa_eh_globals: the
// stack of exceptions being handled and std::uncaught_exceptions()) made per fiber: saved when
// a fiber switches away and restored when it runs again, on whatever thread. Without this, a
// fiber suspended inside a catch handler would see, and corrupt, another fiber's exceptions.
#pragma once

#include <cxxabi.h>

namespace weft::detail {

struct eh_state {
  void* caught = nullptr;      // caughtExceptions
  unsigned int uncaught = 0;   // uncaughtExceptions
};

// The calling thread's globals. Not inlined, and opaque to the optimiser: __cxa_get_globals is
// declared const, so the compiler could otherwise reuse one thread's answer after a switch.
abi::__cxa_eh_globals* current_eh_globals() noexcept;

// This thread's exception state, as the struct above (same layout as __cxa_eh_globals).
inline eh_state* thread_eh_state() noexcept {
  return reinterpret_cast<eh_state*>(current_eh_globals());
}

template <class State>
inline void save_eh_state(State& into, const eh_state* g = thread_eh_state()) noexcept {
  into.caught = g->caught;
  into.uncaught = g->uncaught;
}

template <class State>
inline void load_eh_state(const State& from, eh_state* g = thread_eh_state()) noexcept {
  g->caught = from.caught;
  g->uncaught = from.uncaught;
}

}  // namespace weft::detail
