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
void record(trace::event_kind kind, const fiber* f, std::string_view detail = {},
            std::uint64_t other = 0) noexcept;
#define WEFT_TRACE_EVENT(...)                                                       \
  do {                                                                              \
    if (__builtin_expect(::weft::detail::tracing_on.load(std::memory_order_relaxed), 0)) \
      ::weft::detail::record(__VA_ARGS__);                                          \
  } while (0)
#else
#define WEFT_TRACE_EVENT(...) \
  do {                        \
  } while (0)
#endif

}  // namespace weft::detail
