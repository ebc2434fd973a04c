// The trace points in the executor. With WEFT_TRACE off they compile to nothing; with it on
// they cost one relaxed load and a predicted branch while tracing is disabled.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

#include <weft/trace.hpp>

namespace weft::detail {
struct fiber;

#ifdef WEFT_TRACE
extern std::atomic<bool> tracing_on;
// `detail` must be a static string (a literal, to_string of a wait kind), except for an
// exception event's: the chrome trace keeps only the pointer of the others.
void record(trace::event_kind kind, fiber* f, std::string_view detail = {},
            std::uint64_t other = 0) noexcept;
// `self` switches to `next` (null: to the run loop) as it yields or suspends: a block or a
// sleep as self.waiting_on says, a yield when it waits on nothing. Records that event and, if
// `next` has run before, its resume, both here, before the switch: a chrome trace stores one
// event with one clock read, and the resumed side records nothing (record_resume).
void record_switch(fiber& self, fiber* next) noexcept;
// A fiber resumed after a switch: its resume event, unless the switch to it recorded it
// already (record_switch). Out of line: it reads a thread-local, which code after a switch
// must not do in the function that switched (current.hpp).
void record_resume(fiber& self) noexcept;
#define WEFT_TRACE_SWITCH(self, next)                                                  \
  do {                                                                                \
    if (__builtin_expect(::weft::detail::tracing_on.load(std::memory_order_relaxed), 0)) \
      ::weft::detail::record_switch(self, next);                                      \
  } while (0)
#define WEFT_TRACE_RESUME(self)                                                        \
  do {                                                                                \
    if (__builtin_expect(::weft::detail::tracing_on.load(std::memory_order_relaxed), 0)) \
      ::weft::detail::record_resume(self);                                            \
  } while (0)
#define WEFT_TRACE_EVENT(...)                                                       \
  do {                                                                              \
    if (__builtin_expect(::weft::detail::tracing_on.load(std::memory_order_relaxed), 0)) \
      ::weft::detail::record(__VA_ARGS__);                                          \
  } while (0)
#else
#define WEFT_TRACE_EVENT(...) \
  do {                        \
  } while (0)
#define WEFT_TRACE_SWITCH(self, next) \
  do {                                \
  } while (0)
#define WEFT_TRACE_RESUME(self) \
  do {                          \
  } while (0)
#endif

}  // namespace weft::detail
