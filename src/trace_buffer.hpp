// Where the chrome trace keeps its events while tracing runs: one buffer per thread, appended
// to by that thread alone with no lock and no allocation but one per 4096 events, stamped with
// the TSC. trace.cpp collects them into the chrome file when tracing stops.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <weft/trace.hpp>

#include "asymmetric_barrier.hpp"
#include "tick_counter.hpp"

namespace weft::detail {

// One event as recorded. Its detail is a static string (every detail but an exception's) or
// one kept with its chunk (an exception's message); fibers' names are kept apart, for the
// whole trace (trace_buffer::names).
struct compact_event {
  std::uint64_t stamp;  // trace_clock units
  std::uint64_t fiber_id;
  std::uint64_t other_fiber;
  const char* detail;
  std::uint32_t detail_size;
  std::uint32_t worker;
  // A yield, block or sleep event: the fiber its thread switched to right after, whose resume
  // this event also is (record_switch), or 0.
  std::uint64_t resumed_fiber;
  trace::event_kind kind;
};

// Timestamps: a constant-rate counter read in user space, converted to nanoseconds once, when
// the trace is written: the TSC where it is invariant (x86-64), the generic timer's virtual count
// (AArch64, cntvct_el0); the steady clock's nanoseconds elsewhere.
struct trace_clock {
  static void choose() noexcept;  // as a trace starts, before anything reads the clock
  static bool counts_cycles() noexcept { return use_tsc; }  // whether now() is the counter
  static std::uint64_t now() noexcept {
    if (use_tsc) [[likely]] return tick_counter::read();
    return steady_ns();
  }

 private:
  static bool use_tsc;  // now() reads the counter (set by choose)
  static std::uint64_t steady_ns() noexcept;
};

namespace trace_buffers {
extern std::atomic<bool> collecting_now;
}

// A thread's events, in the order it recorded them.
class trace_buffer {
 public:
  static constexpr std::size_t chunk_events = 4096;

  // Appends an event (stamped here) if the chrome trace is collecting (see
  // trace_buffers::stop). `detail` must be static unless `copy_detail`; a non-empty `name`
  // becomes the fiber's name in the trace. `resumed_fiber` (a yield's, block's or sleep's): the
  // fiber this thread switches to next, whose resume the event carries (0: none).
  inline void append(trace::event_kind kind, std::uint64_t fiber_id, std::uint64_t other,
                     std::string_view detail, bool copy_detail, std::uint32_t worker,
                     std::string_view name, std::uint64_t resumed_fiber = 0) noexcept;
  // Under the collector's mutex, once no thread appends (trace_buffers::stop):
  std::vector<compact_event> take_events();
  void clear() noexcept;
  std::uint64_t dropped() const noexcept { return dropped_; }
  // Each fiber's last name this thread recorded, with its stamp; never dropped in a trace.
  const std::unordered_map<std::uint64_t, std::pair<std::uint64_t, std::string>>& names() const {
    return names_;
  }

  std::atomic<bool> appending{false};  // a thread is inside append (see trace_buffers::stop)
  std::atomic<bool> owned{false};      // a live thread records into it

 private:
  bool add_chunk() noexcept;  // room for chunk_events more; false: out of memory
  // Keeps what append must copy: an exception's message with its chunk, a name (rare).
  void keep_strings(compact_event& e, std::string_view detail, bool copy_detail,
                    std::string_view name) noexcept;

  struct chunk {
    std::unique_ptr<compact_event[]> events;
    std::deque<std::string> details;  // exception messages of its events, dropped with them
  };
  std::vector<chunk> chunks_;
  std::size_t first_chunk_ = 0;  // chunks before it were dropped (their memory reused)
  std::size_t used_in_last_ = chunk_events;
  std::uint64_t dropped_ = 0;
  std::unordered_map<std::uint64_t, std::pair<std::uint64_t, std::string>> names_;
};

// Every thread's buffer. Buffers are never freed: a thread that exits leaves its buffer (and
// its events) to the next thread that starts recording.
namespace trace_buffers {
// Starts collecting into empty buffers, keeping at most about `capacity` events in all (the
// oldest 4096 of a thread that needs room are dropped once the budget is spent). Returns
// trace_clock::now() from before the first event.
std::uint64_t start(std::size_t capacity);
// Stops collecting, waits for appends in progress, and returns every buffer (their events
// stay until clear_all).
std::vector<trace_buffer*> stop();
void clear_all() noexcept;
// The calling thread's buffer; null once the thread has begun to exit (it gave its buffer
// back, and another thread may have taken it). Throws std::bad_alloc.
extern constinit __attribute__((tls_model("initial-exec"))) thread_local trace_buffer* my_buffer;
trace_buffer* attach();  // mine()'s first call in a thread
inline trace_buffer* mine() {
  if (my_buffer) [[likely]] return my_buffer;
  return attach();
}
// The calling thread's buffer if it has one, or null.
trace_buffer* mine_if_any() noexcept;
inline bool collecting() noexcept { return collecting_now.load(std::memory_order_relaxed); }
}  // namespace trace_buffers

void trace_buffer::append(trace::event_kind kind, std::uint64_t fiber_id, std::uint64_t other,
                          std::string_view detail, bool copy_detail, std::uint32_t worker,
                          std::string_view name, std::uint64_t resumed_fiber) noexcept {
  // The handshake with trace_buffers::stop: it clears collecting_now, then waits while
  // `appending` is set; we set `appending`, then look at collecting_now. The asymmetric
  // barrier pair makes sure one of us sees the other's store.
  appending.store(true, std::memory_order_relaxed);
  light_barrier();
  if (!trace_buffers::collecting_now.load(std::memory_order_acquire)) [[unlikely]] {
    appending.store(false, std::memory_order_release);
    return;
  }
  if (used_in_last_ == chunk_events && !add_chunk()) [[unlikely]] {
    appending.store(false, std::memory_order_release);
    return;
  }
  compact_event& e = chunks_.back().events[used_in_last_++];
  e.stamp = trace_clock::now();
  e.resumed_fiber = resumed_fiber;
  e.fiber_id = fiber_id;
  e.other_fiber = other;
  e.detail = detail.data();
  e.detail_size = static_cast<std::uint32_t>(detail.size());
  e.worker = worker;
  e.kind = kind;
  if (copy_detail || !name.empty()) [[unlikely]] keep_strings(e, detail, copy_detail, name);
  appending.store(false, std::memory_order_release);
}

}  // namespace weft::detail
