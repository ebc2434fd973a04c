// Tracing: the stderr, chrome and user-sink outputs behind <weft/trace.hpp>.
#include <weft/trace.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <unordered_map>
#include <queue>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "current.hpp"
#include "fiber.hpp"
#include "thread_mutex.hpp"
#include "trace_buffer.hpp"
#include "trace_points.hpp"
#include "worker.hpp"

namespace weft::trace {

std::string_view to_string(event_kind k) noexcept {
  switch (k) {
    case event_kind::spawn: return "spawn";
    case event_kind::start: return "start";
    case event_kind::resume: return "resume";
    case event_kind::yield: return "yield";
    case event_kind::block: return "block";
    case event_kind::wake: return "wake";
    case event_kind::sleep: return "sleep";
    case event_kind::finish: return "finish";
    case event_kind::exception: return "exception";
    case event_kind::park: return "park";
    case event_kind::steal: return "steal";
  }
  return "?";
}

}  // namespace weft::trace

#ifdef WEFT_TRACE
namespace weft::detail {

std::atomic<bool> tracing_on{false};

namespace {

using trace::event;
using trace::event_kind;

// An event kept for the chrome file, owning its strings.
struct stored_event {
  std::uint64_t time_ns;
  std::uint32_t worker;
  event_kind kind;
  std::uint64_t fiber_id;
  std::uint64_t other_fiber;
  std::string fiber_name;
  std::string detail;
};

enum class output { none, text, chrome, user };

struct tracer {
  thread_mutex mutex;
  output mode WEFT_GUARDED_BY(mutex) = output::none;
  trace::sink user_sink WEFT_GUARDED_BY(mutex);
  std::string chrome_path WEFT_GUARDED_BY(mutex);
  std::FILE* chrome_file WEFT_GUARDED_BY(mutex) = nullptr;  // opened by enable, closed by stop
  std::vector<stored_event> ring WEFT_GUARDED_BY(mutex);  // collected when the chrome trace stops
  std::size_t capacity WEFT_GUARDED_BY(mutex) = 1'000'000;
  std::uint64_t dropped WEFT_GUARDED_BY(mutex) = 0;
  std::chrono::steady_clock::time_point start WEFT_GUARDED_BY(mutex);
  std::uint64_t start_stamp WEFT_GUARDED_BY(mutex) = 0;  // trace_clock::now() at the start
  bool exit_hook_installed WEFT_GUARDED_BY(mutex) = false;
};

tracer& the_tracer() {
  static tracer* t = new tracer;  // never destroyed: usable from atexit and late threads
  return *t;
}

// The number of the trace running now (from 1; each enable starts a new one).
std::atomic<std::uint32_t> trace_number{0};
// The trace in which this thread's last switch recorded the resume of the fiber it switched to
// (0: none pending); read and cleared by that fiber, right after the switch, on this thread.
constinit thread_local std::uint32_t resume_traced_in = 0;

// Each chrome trace's number: a fiber's name is recorded once per trace (traced_name_epoch).
std::atomic<std::uint32_t> chrome_epoch{0};

// The chrome trace's way: one compact event into the calling thread's buffer, no lock.
// (Inlined into both callers: a call of its own costs about 25 instructions an event.)
[[gnu::always_inline]] inline void record_chrome(event_kind kind, fiber* f,
                                                 std::string_view detail, std::uint64_t other,
                                                 std::uint64_t resumed_fiber = 0) noexcept {
  try {
    trace_buffer* buffer = trace_buffers::mine();
    if (!buffer) return;  // the thread is exiting
    const thread_position here = this_thread_position;  // no switch in here: read it directly
    std::string_view name;
    // The fiber's name, once per trace (set_name resets the mark), by its own thread or by its
    // spawn (it has not started yet).
    if (f && (f == here.current_fiber || kind == event_kind::spawn) && !f->name.empty()) {
      const std::uint32_t epoch = chrome_epoch.load(std::memory_order_relaxed);
      if (f->traced_name_epoch != epoch) {
        f->traced_name_epoch = epoch;
        name = f->name;
      }
    }
    buffer->append(kind, f ? f->id : 0, other, detail, kind == event_kind::exception,
                  here.current_worker ? here.current_worker->index() + 1 : 0u, name, resumed_fiber);
  } catch (...) {  // no buffer (out of memory): the event is lost, the program goes on
  }
}

// Every thread's events, merged by time (each thread's in its own order), with times in
// nanoseconds since the trace started.
void collect_chrome(tracer& t) WEFT_REQUIRES(t.mutex) {
  const std::vector<trace_buffer*> buffers = trace_buffers::stop();
  const std::uint64_t end_stamp = trace_clock::now();
  const double elapsed_ns = std::chrono::duration<double, std::nano>(
                                std::chrono::steady_clock::now() - t.start).count();
  // TSC ticks to nanoseconds, over the whole trace (steady clock nanoseconds: 1 to 1).
  const double ns_per_tick = trace_clock::counts_cycles() && end_stamp > t.start_stamp
                                 ? elapsed_ns / static_cast<double>(end_stamp - t.start_stamp)
                                 : 1.0;
  std::vector<std::vector<compact_event>> per_thread;
  std::unordered_map<std::uint64_t, std::pair<std::uint64_t, std::string>> names;  // the latest
  t.dropped = 0;
  for (trace_buffer* b : buffers) {
    per_thread.push_back(b->take_events());
    t.dropped += b->dropped();
    for (const auto& [id, named] : b->names()) {
      auto [it, fresh] = names.try_emplace(id, named);
      if (!fresh && named.first > it->second.first) it->second = named;
    }
  }
  auto name_of = [&names](std::uint64_t id) {
    auto it = names.find(id);
    return it == names.end() ? std::string() : it->second.second;
  };
  using head = std::pair<std::uint64_t, std::size_t>;  // (stamp, thread), smallest first
  std::priority_queue<head, std::vector<head>, std::greater<>> heads;
  std::vector<std::size_t> next(per_thread.size(), 0);
  for (std::size_t i = 0; i < per_thread.size(); ++i)
    if (!per_thread[i].empty()) heads.emplace(per_thread[i][0].stamp, i);
  t.ring.clear();
  while (!heads.empty()) {
    const std::size_t i = heads.top().second;
    heads.pop();
    const compact_event& e = per_thread[i][next[i]++];
    if (next[i] < per_thread[i].size()) heads.emplace(per_thread[i][next[i]].stamp, i);
    const double ns = e.stamp > t.start_stamp
                          ? static_cast<double>(e.stamp - t.start_stamp) * ns_per_tick
                          : 0.0;
    t.ring.push_back(stored_event{static_cast<std::uint64_t>(ns), e.worker, e.kind, e.fiber_id,
                                  e.other_fiber, name_of(e.fiber_id),
                                  std::string(e.detail ? e.detail : "", e.detail_size)});
    if (e.resumed_fiber)  // the resume of the fiber switched to (record_switch)
      t.ring.push_back(stored_event{static_cast<std::uint64_t>(ns), e.worker,
                                    event_kind::resume, e.resumed_fiber, 0,
                                    name_of(e.resumed_fiber), {}});
  }
  trace_buffers::clear_all();
}

std::string json_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += c;
    else if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\u{:04x}", static_cast<int>(c));
    else out += c;
  }
  return out;
}

// "name (fiber id)", using the last name the fiber had in the trace (names are often set
// after a fiber starts).
std::string fiber_label(const std::map<std::uint64_t, std::string>& names, std::uint64_t id) {
  auto it = names.find(id);
  return it == names.end() || it->second.empty() ? fmt::format("fiber {}", id)
                                                 : fmt::format("{} (fiber {})", it->second, id);
}

// Chrome trace-event JSON: one track per worker with a complete ("X") slice for each stretch
// a fiber runs, instant events for the rest, and flow arrows from waker to woken.
void write_chrome(tracer& t) WEFT_REQUIRES(t.mutex) {
  std::FILE* out = std::exchange(t.chrome_file, nullptr);
  if (!out) return;
  std::vector<std::string> items;
  std::map<std::uint32_t, const stored_event*> running;  // worker -> slice start
  std::map<std::uint64_t, const stored_event*> pending_flow;  // woken fiber -> its wake
  std::map<std::uint32_t, bool> workers;
  std::uint64_t next_flow = 1;
  std::map<std::uint64_t, std::string> names;
  for (const stored_event& e : t.ring)
    if (!e.fiber_name.empty()) names[e.fiber_id] = e.fiber_name;
  auto us = [](std::uint64_t ns) { return fmt::format("{:.3f}", static_cast<double>(ns) / 1000.0); };
  auto end_slice = [&](std::uint32_t worker, std::uint64_t end_ns) {
    auto it = running.find(worker);
    if (it == running.end()) return;
    const stored_event& b = *it->second;
    items.push_back(fmt::format(
        R"({{"name":"{}","cat":"fiber","ph":"X","ts":{},"dur":{},"pid":1,"tid":{},"args":{{"fiber":{}}}}})",
        json_escape(fiber_label(names, b.fiber_id)), us(b.time_ns), us(end_ns - b.time_ns), worker, b.fiber_id));
    running.erase(it);
  };
  for (const stored_event& e : t.ring) {
    workers[e.worker] = true;
    switch (e.kind) {
      case event_kind::start:
      case event_kind::resume: {
        end_slice(e.worker, e.time_ns);
        running[e.worker] = &e;
        auto flow = pending_flow.find(e.fiber_id);
        if (flow != pending_flow.end()) {  // the wake's arrow starts, and ends here
          const stored_event& wake = *flow->second;
          const std::uint64_t id = next_flow++;
          items.push_back(fmt::format(
              R"({{"name":"wake","cat":"wake","ph":"s","id":{},"ts":{},"pid":1,"tid":{}}})", id,
              us(wake.time_ns), wake.worker));
          items.push_back(fmt::format(
              R"({{"name":"wake","cat":"wake","ph":"f","bp":"e","id":{},"ts":{},"pid":1,"tid":{}}})",
              id, us(e.time_ns), e.worker));
          pending_flow.erase(flow);
        }
        continue;
      }
      case event_kind::yield:
      case event_kind::block:
      case event_kind::sleep:
      case event_kind::finish:
      case event_kind::exception:
        end_slice(e.worker, e.time_ns);
        break;
      case event_kind::wake:
        // The arrow is drawn once the fiber resumes (a wake whose resume the trace does not
        // have draws none).
        if (e.other_fiber != 0) pending_flow[e.fiber_id] = &e;
        break;
      default:
        break;
    }
    std::string name = std::string(trace::to_string(e.kind));
    if (!e.detail.empty()) name += " " + e.detail;
    items.push_back(fmt::format(
        R"({{"name":"{}","cat":"event","ph":"i","s":"t","ts":{},"pid":1,"tid":{},"args":{{"fiber":{},"fiber_name":"{}","other":{}}}}})",
        json_escape(name), us(e.time_ns), e.worker, e.fiber_id, json_escape(e.fiber_name),
        e.other_fiber));
  }
  std::vector<std::uint32_t> still_running;
  for (auto& [worker, slice] : running) still_running.push_back(worker);
  for (std::uint32_t worker : still_running) end_slice(worker, t.ring.back().time_ns);
  for (auto& [worker, unused] : workers) {
    (void)unused;
    items.push_back(fmt::format(
        R"({{"name":"thread_name","ph":"M","pid":1,"tid":{},"args":{{"name":"{}"}}}})", worker,
        worker == 0 ? std::string("plain threads") : fmt::format("weft worker {}", worker)));
  }
  std::fprintf(out, "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"dropped_events\":%llu},\"traceEvents\":[\n",
               static_cast<unsigned long long>(t.dropped));
  for (std::size_t i = 0; i < items.size(); ++i)
    std::fprintf(out, "%s%s\n", items[i].c_str(), i + 1 < items.size() ? "," : "");
  std::fprintf(out, "]}\n");
  const bool failed = std::ferror(out) != 0;
  const int error = errno;
  if (std::fclose(out) != 0 || failed)  // a full disk, say: the file is incomplete
    std::fprintf(stderr, "weft: writing trace file %s failed: %s\n", t.chrome_path.c_str(),
                 std::strerror(failed ? error : errno));
}

// Stops the current output (writing a chrome file); the tracer's mutex is held.
void stop_locked(tracer& t) WEFT_REQUIRES(t.mutex) {
  tracing_on.store(false);
  if (t.mode == output::chrome) {
    collect_chrome(t);
    write_chrome(t);
  }
  t.mode = output::none;
  t.user_sink = nullptr;
  t.ring.clear();
  t.dropped = 0;
}

void start_locked(tracer& t, output mode) WEFT_REQUIRES(t.mutex) {
  stop_locked(t);
  t.mode = mode;
  t.start = std::chrono::steady_clock::now();
  trace_number.fetch_add(1, std::memory_order_relaxed);
  if (mode == output::chrome) {
    chrome_epoch.fetch_add(1, std::memory_order_relaxed);
    t.start_stamp = trace_buffers::start(t.capacity);
  }
  tracing_on.store(true);
}

void enable_from_environment() {
  const char* spec = std::getenv("WEFT_TRACE");
  if (!spec || !*spec) return;
  try {
    trace::enable(spec);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weft: ignoring WEFT_TRACE=%s: %s\n", spec, e.what());
  }
}

// Reads WEFT_TRACE once, at start-up.
const bool environment_read = (enable_from_environment(), true);

}  // namespace

void record_switch(fiber& self, fiber* next) noexcept {
  const event_kind kind = self.waiting_on == wait_kind::none    ? event_kind::yield
                          : self.waiting_on == wait_kind::sleep ? event_kind::sleep
                                                                : event_kind::block;
  const std::string_view detail =
      kind == event_kind::block ? to_string(self.waiting_on) : std::string_view();
  // A fiber that never ran starts rather than resumes: its start event is its own.
  fiber* resumed = next && next->resumed_by ? next : nullptr;
  if (trace_buffers::collecting()) {
    record_chrome(kind, &self, detail, 0, resumed ? resumed->id : 0);
  } else {
    record(kind, &self, detail);
    if (resumed) record(event_kind::resume, resumed);
  }
  if (resumed) resume_traced_in = trace_number.load(std::memory_order_relaxed);
}

[[gnu::noinline]] void record_resume(fiber& self) noexcept {
  const std::uint32_t pending = resume_traced_in;
  if (pending != 0 && pending == trace_number.load(std::memory_order_relaxed)) {
    resume_traced_in = 0;
    return;
  }
  record(event_kind::resume, &self);
}

void record(event_kind kind, fiber* f, std::string_view detail, std::uint64_t other) noexcept {
  if (trace_buffers::collecting()) {
    record_chrome(kind, f, detail, other);
    return;
  }
  tracer& t = the_tracer();
  thread_lock guard(t.mutex);
  if (t.mode == output::none) return;
  worker* w = current_worker();
  event e{static_cast<std::uint64_t>(
              std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t.start)
                  .count()),
          w ? w->index() + 1 : 0u, kind, f ? f->id : 0, f ? std::string_view(f->name) : std::string_view(),
          detail, other};
  try {
    switch (t.mode) {
      case output::text:
        fmt::print(stderr, "weft {:>12.3f} us  w{}  {:<9}  fiber {:>6} {:<18} {}{}\n",
                   static_cast<double>(e.time_ns) / 1000.0, e.worker, trace::to_string(kind),
                   e.fiber_id, fmt::format("\"{}\"", e.fiber_name), detail,
                   other ? fmt::format("{}{}", detail.empty() ? "" : " ",
                                       kind == event_kind::spawn ? fmt::format("(parent {})", other)
                                                                 : fmt::format("(by fiber {})", other))
                         : std::string());
        break;
      case output::user:
        t.user_sink(e);
        break;
      case output::chrome:  // record_chrome's (a race with the trace's start or stop)
      case output::none:
        break;
    }
  } catch (...) {  // tracing must never break the program it watches
  }
}

}  // namespace weft::detail

namespace weft::trace {

void enable(std::string_view spec) {
  using namespace weft::detail;
  tracer& t = the_tracer();
  thread_lock guard(t.mutex);
  if (spec == "stderr") {
    start_locked(t, output::text);
  } else if (spec.substr(0, 7) == "chrome:" && spec.size() > 7) {
    stop_locked(t);  // a chrome file of the previous output is written before this one opens
    std::string path(spec.substr(7));
    std::FILE* file = std::fopen(path.c_str(), "w");
    if (!file)
      throw std::system_error(errno, std::generic_category(),
                              "weft::trace::enable: cannot write trace file " + path);
    start_locked(t, output::chrome);
    t.chrome_path = std::move(path);
    t.chrome_file = file;
    if (!t.exit_hook_installed) {
      t.exit_hook_installed = true;
      std::atexit([] { disable(); });
    }
  } else {
    throw std::invalid_argument("weft::trace::enable: unknown trace spec '" + std::string(spec) +
                                "'; use \"stderr\" or \"chrome:PATH\"");
  }
}

void enable(sink s) {
  using namespace weft::detail;
  if (!s) throw std::invalid_argument("weft::trace::enable: empty sink");
  tracer& t = the_tracer();
  thread_lock guard(t.mutex);
  start_locked(t, output::user);
  t.user_sink = std::move(s);
}

void disable() {
  using namespace weft::detail;
  tracer& t = the_tracer();
  thread_lock guard(t.mutex);
  stop_locked(t);
}

bool enabled() noexcept { return weft::detail::tracing_on.load(); }

void set_chrome_capacity(std::size_t events) {
  using namespace weft::detail;
  tracer& t = the_tracer();
  thread_lock guard(t.mutex);
  t.capacity = events == 0 ? 1 : events;
}

}  // namespace weft::trace

#else  // WEFT_TRACE off: the API exists and says so.
namespace weft::trace {
namespace {
[[noreturn]] void compiled_out() {
  throw std::logic_error("weft::trace: weft was built with WEFT_TRACE=OFF; no trace points exist");
}
}  // namespace
void enable(std::string_view) { compiled_out(); }
void enable(sink) { compiled_out(); }
void disable() {}
bool enabled() noexcept { return false; }
void set_chrome_capacity(std::size_t) {}
}  // namespace weft::trace
#endif
