// Tells sanitizers about stack switches. Compiled in only when the build asks for them
// (WEFT_SWITCH_ANNOTATIONS: a WEFT_SANITIZE build); a plain build's switch pays nothing.
#pragma once

#include "backend.hpp"
#include "sanitizers.hpp"

#ifdef WEFT_SWITCH_ANNOTATIONS
#if WEFT_HAS_ASAN
#define WEFT_ASAN 1
#endif
#if WEFT_HAS_TSAN
#define WEFT_TSAN 1
#endif
#endif

// Called by each backend's trampoline when a new context first runs.
extern "C" void weft_context_started() noexcept;

namespace weft::annotations {

#ifdef WEFT_SWITCH_ANNOTATIONS
void on_create(context& c) noexcept;
void on_destroy(context& c) noexcept;
void before_switch(context& from, context& to, bool final) noexcept;
void after_switch(context& from) noexcept;
#else
inline void on_create(context&) noexcept {}
inline void on_destroy(context&) noexcept {}
inline void before_switch(context&, context&, bool) noexcept {}
inline void after_switch(context&) noexcept {}
#endif

}  // namespace weft::annotations
