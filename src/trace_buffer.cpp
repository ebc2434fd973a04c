// The chrome trace's per-thread event buffers (trace_buffer.hpp).
#include "trace_buffer.hpp"

#include <chrono>
#include <mutex>

#include "spin.hpp"

namespace weft::detail {

namespace {

// Chunks that may still be allocated before threads start dropping their oldest.
std::atomic<std::int64_t> chunk_budget{0};

std::mutex registry_mutex;
std::vector<trace_buffer*>& all_buffers() {
  static auto* buffers = new std::vector<trace_buffer*>;  // never destroyed, as the buffers
  return *buffers;
}

// Set once the exiting thread gave its buffer back: its last records (from later thread-exit
// destructors) are dropped rather than written into a buffer another thread may own.
constinit __attribute__((tls_model("initial-exec"))) thread_local bool buffer_given_back = false;

// Gives the thread's buffer back when the thread exits.
struct buffer_owner {
  trace_buffer* buffer = nullptr;
  ~buffer_owner() {
    if (!buffer) return;
    trace_buffers::my_buffer = nullptr;
    buffer_given_back = true;
    buffer->owned.store(false, std::memory_order_release);
  }
};
thread_local buffer_owner owner;

}  // namespace

bool trace_clock::use_tsc = false;

std::uint64_t trace_clock::steady_ns() noexcept {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

void trace_buffer::keep_strings(compact_event& e, std::string_view detail, bool copy_detail,
                                std::string_view name) noexcept {
  try {
    if (!name.empty()) {
      auto& [stamp, kept] = names_[e.fiber_id];
      stamp = e.stamp;
      kept.assign(name);
    }
    if (copy_detail && !detail.empty())
      e.detail = chunks_.back().details.emplace_back(detail).c_str();
  } catch (...) {  // out of memory: the event goes without them
    if (copy_detail) {
      e.detail = nullptr;
      e.detail_size = 0;
    }
  }
}

bool trace_buffer::add_chunk() noexcept {
  try {
    if (chunk_budget.fetch_sub(1, std::memory_order_relaxed) > 0 ||
        chunks_.size() - first_chunk_ < 2) {
      chunks_.push_back(chunk{std::make_unique<compact_event[]>(chunk_events), {}});
    } else {  // the budget is spent: our oldest chunk's events go
      chunk_budget.fetch_add(1, std::memory_order_relaxed);
      chunk& recycled = chunks_.emplace_back(std::move(chunks_[first_chunk_++]));
      recycled.details.clear();
      dropped_ += chunk_events;
    }
  } catch (...) {  // out of memory: this event is dropped, and tracing goes on
    ++dropped_;
    return false;
  }
  used_in_last_ = 0;
  return true;
}

std::vector<compact_event> trace_buffer::take_events() {
  std::vector<compact_event> out;
  for (std::size_t c = first_chunk_; c < chunks_.size(); ++c) {
    const std::size_t n = c + 1 == chunks_.size() ? used_in_last_ : chunk_events;
    out.insert(out.end(), chunks_[c].events.get(), chunks_[c].events.get() + n);
  }
  return out;
}

void trace_buffer::clear() noexcept {
  chunks_.clear();
  first_chunk_ = 0;
  used_in_last_ = chunk_events;
  dropped_ = 0;
  names_.clear();
}

void trace_clock::choose() noexcept { use_tsc = tick_counter::available(); }

namespace trace_buffers {

std::atomic<bool> collecting_now{false};
// The calling thread's buffer: a plain pointer, so the hot path calls no TLS wrapper.
constinit __attribute__((tls_model("initial-exec"))) thread_local trace_buffer* my_buffer = nullptr;

std::uint64_t start(std::size_t capacity) {
  std::lock_guard guard(registry_mutex);
  trace_clock::choose();  // before any append reads it (they acquire collecting_now)
  for (trace_buffer* b : all_buffers()) b->clear();
  chunk_budget.store(static_cast<std::int64_t>((capacity + trace_buffer::chunk_events - 1) /
                                               trace_buffer::chunk_events),
                     std::memory_order_relaxed);
  const std::uint64_t first = trace_clock::now();
  collecting_now.store(true, std::memory_order_release);
  return first;
}

std::vector<trace_buffer*> stop() {
  collecting_now.store(false, std::memory_order_relaxed);
  heavy_barrier();
  std::lock_guard guard(registry_mutex);
  for (trace_buffer* b : all_buffers()) {
    while (b->appending.load(std::memory_order_acquire)) cpu_relax();
  }
  return all_buffers();
}

void clear_all() noexcept {
  std::lock_guard guard(registry_mutex);
  for (trace_buffer* b : all_buffers()) b->clear();
}

trace_buffer* attach() {
  if (buffer_given_back) return nullptr;
  std::lock_guard guard(registry_mutex);
  trace_buffer* mine = nullptr;
  for (trace_buffer* b : all_buffers()) {
    bool free = false;
    if (b->owned.compare_exchange_strong(free, true, std::memory_order_acquire)) {
      mine = b;
      break;
    }
  }
  if (!mine) {
    mine = new trace_buffer;  // never freed (all_buffers keeps it)
    mine->owned.store(true, std::memory_order_relaxed);
    all_buffers().push_back(mine);
  }
  owner.buffer = my_buffer = mine;
  return mine;
}

trace_buffer* mine_if_any() noexcept { return my_buffer; }

}  // namespace trace_buffers

}  // namespace weft::detail
