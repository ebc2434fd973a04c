// weft/trace.hpp: seeing what fibers do, as readable lines or a Perfetto/Chrome timeline.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace weft::trace {

// What happened. Per fiber: spawn, start, resume (runs again after yield/block/sleep), yield,
// block (with what it waits on), wake (and by whom), sleep, finish, exception. Per worker
// (several workers only): park, steal.
enum class event_kind : std::uint8_t {
  spawn, start, resume, yield, block, wake, sleep, finish, exception, park, steal
};
std::string_view to_string(event_kind) noexcept;

// One trace event, as a sink receives it. The string views are valid only during the call.
struct event {
  std::uint64_t time_ns;        // steady clock, nanoseconds since tracing was enabled
  std::uint32_t worker;         // the worker thread, from 1 (0: a plain thread, not a worker)
  event_kind kind;
  std::uint64_t fiber_id;       // the fiber the event is about (0 for park)
  std::string_view fiber_name;  // its name ("" if unnamed)
  std::string_view detail;      // block: what it waits on; exception: the message
  std::uint64_t other_fiber;    // spawn: the parent; wake: the waker (0: a thread or timer);
                                // steal: the worker stolen from
};

// Receives every event, from the thread where it happens; must be thread-safe and quick.
using sink = std::function<void(const event&)>;

// Starts tracing as `spec` says: "stderr" (one aligned line per event) or "chrome:PATH"
// (Chrome trace-event JSON written to PATH when tracing stops or the process exits; open it
// in https://ui.perfetto.dev or chrome://tracing). Replaces any tracing already on. Throws
// std::invalid_argument for another spec and std::logic_error if weft was built with
// WEFT_TRACE=OFF.
void enable(std::string_view spec);
// Starts tracing into a user-supplied sink.
void enable(sink s);
// Stops tracing; a chrome trace is written now. Callable when tracing is off.
void disable();
// Whether tracing is on.
bool enabled() noexcept;

// The chrome trace keeps about this many events at most (each thread records into its own
// buffer, 4096 events at a time, and keeps at least two such chunks; once they hold this many,
// a thread that needs room drops its oldest 4096, and the file says how many were dropped).
// Fibers' names are kept apart and never dropped. Default 1,000,000 (about 64 MB). Applies
// from the next enable.
void set_chrome_capacity(std::size_t events);

}  // namespace weft::trace
