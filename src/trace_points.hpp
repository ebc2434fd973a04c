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
// A fiber switches to its worker's run loop rather than to another fiber (see
// trace_buffer::no_stamp_reuse).
void note_switch_to_loop() noexcept;
#define WEFT_TRACE_SWITCH_TO_LOOP()                                                    \
  do {                                                                                \
    if (__builtin_expect(::weft::detail::tracing_on.load(std::memory_order_relaxed), 0)) \
      ::weft::detail::note_switch_to_loop();                                          \
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
#define WEFT_TRACE_SWITCH_TO_LOOP() \
  do {                              \
  } while (0)
#endif

}  // namespace weft::detail
