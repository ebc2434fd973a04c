// The schedule fuzzer: input bytes -> a program of fiber operations -> a run on weft's
// executor -> a check of that run against a reference model. The byte format and the model
// are described in tests/fuzz/README.md.
#include "schedule_harness.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <weft/weft.hpp>

namespace weft_fuzz {
namespace {

using namespace std::chrono_literals;

// ---- the program ----------------------------------------------------------------------------

enum class op : std::uint8_t {
  spawn, yield, sleep, send, recv, try_send, try_recv, close, lock, unlock, set, wait, join,
  detach, throw_catch,
  count
};

const char* op_name(op o) {
  static const char* const names[] = {"spawn", "yield",  "sleep", "send",   "recv",
                                      "try_send", "try_recv", "close", "lock", "unlock",
                                      "set",   "wait",   "join",  "detach", "throw_catch"};
  return o < op::count ? names[static_cast<int>(o)] : "?";
}

struct instr {
  op code;
  std::uint8_t arg;
};

constexpr std::size_t max_fibers = 48;         // spawns beyond this are skipped
constexpr int max_sleeps_per_fiber = 4;        // later sleeps become yields
constexpr std::size_t max_program_length = 16;
constexpr std::size_t max_programs = 8;
constexpr std::size_t huge_capacity = std::size_t{1} << 40;
constexpr std::size_t capacity_table[] = {0, 0, 1, 1, 2, 3, 5, 8, 16, huge_capacity};
constexpr std::size_t stack_table[] = {16 * 1024, 32 * 1024, 64 * 1024, 256 * 1024};

struct program_set {
  std::vector<std::size_t> channel_capacity;  // 1..4 channels
  std::size_t mutexes = 1;                    // 1..3
  std::size_t events = 1;                     // 1..3
  std::size_t stack_size = 64 * 1024;
  bool guard_pages = true;
  std::vector<std::size_t> roots;             // program index of each root fiber, 1..3
  std::vector<std::vector<instr>> programs;   // 1..8 programs of 0..16 instructions
};

class byte_reader {
 public:
  byte_reader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  std::uint8_t next() { return pos_ < size_ ? data_[pos_++] : 0; }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

program_set decode(const std::uint8_t* data, std::size_t size) {
  byte_reader in(data, size);
  program_set p;
  const std::size_t channels = 1 + in.next() % 4;
  for (std::size_t i = 0; i < channels; ++i)
    p.channel_capacity.push_back(capacity_table[in.next() % std::size(capacity_table)]);
  p.mutexes = 1 + in.next() % 3;
  p.events = 1 + in.next() % 3;
  const std::uint8_t flags = in.next();
  p.stack_size = stack_table[flags % 4];
  p.guard_pages = (flags & 4) == 0;
  const std::size_t roots = 1 + in.next() % 3;
  std::vector<std::uint8_t> root_bytes;
  for (std::size_t i = 0; i < roots; ++i) root_bytes.push_back(in.next());
  const std::size_t programs = 1 + in.next() % max_programs;
  for (std::size_t i = 0; i < programs; ++i) {
    std::vector<instr> prog;
    const std::size_t length = in.next() % (max_program_length + 1);
    for (std::size_t j = 0; j < length; ++j) {
      const auto code = static_cast<op>(in.next() % static_cast<int>(op::count));
      prog.push_back(instr{code, in.next()});
    }
    p.programs.push_back(std::move(prog));
  }
  for (std::uint8_t b : root_bytes) p.roots.push_back(b % programs);
  return p;
}

std::chrono::microseconds sleep_duration(std::uint8_t arg) { return (arg % 5) * 500us; }

std::string describe(const program_set& p) {
  std::string s = "channels:";
  for (std::size_t c : p.channel_capacity)
    s += " " + (c == huge_capacity ? std::string("2^40") : std::to_string(c));
  s += "; mutexes: " + std::to_string(p.mutexes) + "; events: " + std::to_string(p.events) +
       "; stack " + std::to_string(p.stack_size / 1024) + " KiB" +
       (p.guard_pages ? "" : " unguarded") + "; roots run programs";
  for (std::size_t r : p.roots) s += " " + std::to_string(r);
  s += "\n";
  for (std::size_t i = 0; i < p.programs.size(); ++i) {
    s += "  program " + std::to_string(i) + ":";
    for (const instr& in : p.programs[i]) {
      s += " ";
      s += op_name(in.code);
      switch (in.code) {
        case op::spawn: s += "(p" + std::to_string(in.arg % p.programs.size()) + ")"; break;
        case op::sleep:
          s += "(" + std::to_string(sleep_duration(in.arg).count()) + "us)";
          break;
        case op::send: case op::recv: case op::try_send: case op::try_recv: case op::close:
          s += "(c" + std::to_string(in.arg % p.channel_capacity.size()) + ")";
          break;
        case op::lock: case op::unlock:
          s += "(m" + std::to_string(in.arg % p.mutexes) + ")";
          break;
        case op::set: case op::wait:
          s += "(e" + std::to_string(in.arg % p.events) + ")";
          break;
        case op::throw_catch:
          if (in.arg & 1) s += "(yield in handler)";
          break;
        default: break;
      }
    }
    s += "\n";
  }
  return s;
}

// ---- the watchdog ---------------------------------------------------------------------------

// One thread for the whole process; a run arms it with a deadline and disarms it at the end.
class watchdog {
 public:
  static watchdog& instance() {
    static watchdog* w = new watchdog;  // never destroyed: its thread runs until exit
    return *w;
  }
  void arm(double seconds, std::string what) {
    std::lock_guard g(mutex_);
    what_ = std::move(what);
    deadline_ = std::chrono::steady_clock::now() +
                std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                    std::chrono::duration<double>(seconds));
    seconds_ = seconds;
    armed_ = true;
  }
  void disarm() {
    std::lock_guard g(mutex_);
    armed_ = false;
  }

 private:
  watchdog() {
    std::thread([this] { loop(); }).detach();
  }
  void loop() {
    std::unique_lock g(mutex_);
    for (;;) {
      cv_.wait_for(g, 50ms);
      if (armed_ && std::chrono::steady_clock::now() > deadline_) {
        std::fprintf(stderr,
                     "schedule fuzzer: the program did not finish within %.1f s (a hang: a lost "
                     "wakeup, or a deadlock that was not reported)\n%s",
                     seconds_, what_.c_str());
        std::fflush(stderr);
        std::abort();
      }
    }
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  bool armed_ = false;
  double seconds_ = 0;
  std::chrono::steady_clock::time_point deadline_;
  std::string what_;
};

// ---- the run --------------------------------------------------------------------------------

enum class ev : std::uint8_t { spawn, start, begin, end, act, finish };

// One entry of the run's log. `value`/`result` depend on the operation:
//   spawn: obj = child fiber index; start: value = weft's fiber id;
//   send/try_send: value = the value, result = 1 if delivered; recv/try_recv: has_value, value;
//   join: obj = child index, value = what join returned; finish: value = the fiber's result.
struct log_entry {
  ev kind;
  op code;
  std::uint32_t fiber;
  std::uint32_t obj;
  std::uint64_t value;
  bool has_value;
  bool result;
};

std::uint64_t expected_result(std::uint32_t fiber) {
  std::uint64_t z = fiber + 0x9e3779b97f4a7c15ull;  // splitmix64
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::uint64_t make_value(std::uint32_t fiber, std::uint32_t seq) {
  return (std::uint64_t{fiber} << 32) | seq;
}

struct fiber_record {
  std::size_t program = 0;
  std::atomic<int> ended{0};    // the body's guard was destroyed by a normal return
  std::atomic<int> unwound{0};  // ... by unwinding (executor destruction)
};

struct run_context {
  const program_set* programs = nullptr;
  harness_options options;
  std::vector<std::unique_ptr<weft::channel<std::uint64_t>>> channels;
  std::vector<std::unique_ptr<weft::mutex>> mutexes;
  std::vector<std::unique_ptr<weft::event>> events;

  std::mutex log_mutex;  // never held across a weft call
  std::vector<log_entry> log;
  std::vector<std::string> failures;

  std::atomic<std::uint32_t> next_fiber{0};
  fiber_record records[max_fibers];
  std::atomic<int> tokens_live{0};

  void append(const log_entry& e) {
    std::lock_guard g(log_mutex);
    log.push_back(e);
  }
  void fail(std::string what) {
    std::lock_guard g(log_mutex);
    failures.push_back(std::move(what));
  }
};

// Passed by value into every spawned fiber: counts the copies alive, so the check can see
// that every fiber's callable was destroyed (run or unwound, never leaked).
struct capture_token {
  run_context* ctx;
  explicit capture_token(run_context* c) noexcept : ctx(c) { ctx->tokens_live.fetch_add(1); }
  capture_token(const capture_token& o) noexcept : ctx(o.ctx) { ctx->tokens_live.fetch_add(1); }
  capture_token(capture_token&& o) noexcept : ctx(o.ctx) { ctx->tokens_live.fetch_add(1); }
  capture_token& operator=(const capture_token&) = delete;
  ~capture_token() { ctx->tokens_live.fetch_sub(1); }
};

// On every fiber's stack: records whether the fiber ended normally or was unwound.
struct life_guard {
  run_context* ctx;
  std::uint32_t self;
  ~life_guard() {
    if (std::uncaught_exceptions() > 0) ctx->records[self].unwound.fetch_add(1);
    else ctx->records[self].ended.fetch_add(1);
  }
};

// An exception thrown and caught on the fiber's stack, optionally suspending (yield) inside
// the handler: the exception being handled must still be this fiber's afterwards.
void throw_and_catch(run_context* ctx, std::uint32_t self, bool yield_in_handler) {
  const std::string mine = "fiber " + std::to_string(self);
  try {
    struct on_stack {
      int x = 1;
      ~on_stack() { x = 0; }
    } object;
    throw std::runtime_error(mine);
  } catch (const std::runtime_error& e) {
    if (yield_in_handler) weft::this_fiber::yield();
    try {
      throw;  // the exception currently handled by *this* fiber
    } catch (const std::runtime_error& again) {
      if (mine != again.what() || mine != e.what())
        ctx->fail(mine + ": after a yield in a catch handler, the handled exception is \"" +
                  again.what() + "\"");
    }
  }
}

std::uint64_t fiber_body(run_context* ctx, std::uint32_t self, std::size_t program,
                         capture_token) {
  life_guard guard{ctx, self};
  const program_set& ps = *ctx->programs;
  weft::this_fiber::set_name("<fz" + std::to_string(self) + ">");
  ctx->append({ev::start, op::count, self, 0, weft::this_fiber::id(), false, false});
  std::vector<std::pair<std::uint32_t, weft::join_handle<std::uint64_t>>> children;
  std::vector<std::unique_lock<weft::mutex>> locks;
  for (auto& m : ctx->mutexes) locks.emplace_back(*m, std::defer_lock);
  std::uint32_t seq = 0;
  int sleeps = 0;
  try {
    for (const instr& in : ps.programs[program]) {
      const std::uint32_t c = in.arg % ps.channel_capacity.size();
      const std::uint32_t m = in.arg % ps.mutexes;
      const std::uint32_t e = in.arg % ps.events;
      switch (in.code) {
        case op::spawn: {
          const std::uint32_t child = ctx->next_fiber.fetch_add(1);
          if (child >= max_fibers) break;
          const std::size_t p = in.arg % ps.programs.size();
          ctx->records[child].program = p;
          ctx->append({ev::spawn, op::spawn, self, child, 0, false, false});
          children.emplace_back(child, weft::spawn(&fiber_body, ctx, child, p, capture_token(ctx)));
          break;
        }
        case op::sleep:
          if (sleeps++ < max_sleeps_per_fiber) {
            ctx->append({ev::begin, op::sleep, self, 0, 0, false, false});
            weft::this_fiber::sleep_for(sleep_duration(in.arg));
            ctx->append({ev::end, op::sleep, self, 0, 0, false, false});
            break;
          }
          [[fallthrough]];
        case op::yield:
          weft::this_fiber::yield();
          break;
        case op::send: {
          const std::uint64_t v = make_value(self, seq++);
          ctx->append({ev::begin, op::send, self, c, v, false, false});
          const bool ok = ctx->channels[c]->send(v);
          ctx->append({ev::end, op::send, self, c, v, false, ok});
          break;
        }
        case op::recv: {
          ctx->append({ev::begin, op::recv, self, c, 0, false, false});
          const std::optional<std::uint64_t> v = ctx->channels[c]->recv();
          ctx->append({ev::end, op::recv, self, c, v.value_or(0), v.has_value(), false});
          break;
        }
        case op::try_send: {
          std::uint64_t v = make_value(self, seq++);
          const std::uint64_t sent = v;
          const bool ok = ctx->channels[c]->try_send(v);
          ctx->append({ev::act, op::try_send, self, c, sent, false, ok});
          break;
        }
        case op::try_recv: {
          const std::optional<std::uint64_t> v = ctx->channels[c]->try_recv();
          ctx->append({ev::act, op::try_recv, self, c, v.value_or(0), v.has_value(), false});
          break;
        }
        case op::close:
          ctx->channels[c]->close();
          ctx->append({ev::act, op::close, self, c, 0, false, false});
          break;
        case op::lock:
          ctx->append({ev::begin, op::lock, self, m, 0, false, false});
          if (locks[m].owns_lock()) ctx->mutexes[m]->lock();  // not recursive: waits forever
          else locks[m].lock();
          ctx->append({ev::end, op::lock, self, m, 0, false, false});
          break;
        case op::unlock:
          if (!locks[m].owns_lock()) break;
          locks[m].unlock();
          ctx->append({ev::act, op::unlock, self, m, 0, false, false});
          break;
        case op::set:
          ctx->events[e]->set();
          ctx->append({ev::act, op::set, self, e, 0, false, false});
          break;
        case op::wait:
          ctx->append({ev::begin, op::wait, self, e, 0, false, false});
          ctx->events[e]->wait();
          ctx->append({ev::end, op::wait, self, e, 0, false, false});
          break;
        case op::join: {
          if (children.empty()) break;
          auto it = children.end() - 1 - static_cast<std::ptrdiff_t>(in.arg % children.size());
          auto [child, handle] = std::move(*it);
          children.erase(it);
          ctx->append({ev::begin, op::join, self, child, 0, false, false});
          const std::uint64_t r = handle.join();
          ctx->append({ev::end, op::join, self, child, r, true, false});
          break;
        }
        case op::detach: {
          if (children.empty()) break;
          auto it = children.end() - 1 - static_cast<std::ptrdiff_t>(in.arg % children.size());
          it->second.detach();
          ctx->append({ev::act, op::detach, self, it->first, 0, false, false});
          children.erase(it);
          break;
        }
        case op::throw_catch:
          throw_and_catch(ctx, self, (in.arg & 1) && !ctx->options.no_handler_yield);
          break;
        case op::count:
          break;
      }
    }
  } catch (const std::exception& e) {  // weft's unwinding is not a std::exception: it passes
    ctx->fail("fiber " + std::to_string(self) + ": unexpected exception: " + e.what());
  }
  for (std::size_t i = 0; i < locks.size(); ++i) {
    if (!locks[i].owns_lock()) continue;
    locks[i].unlock();
    ctx->append({ev::act, op::unlock, self, static_cast<std::uint32_t>(i), 0, false, false});
  }
  const std::uint64_t result = expected_result(self);
  ctx->append({ev::finish, op::count, self, 0, result, false, false});
  return result;  // unjoined children are detached here
}

// ---- the reference model ----------------------------------------------------------------------

// Replays the log of a one-worker run, in which entries are in the order things happened,
// applying the documented semantics of each primitive (FIFO channels with the given
// capacities, close waking everybody, FIFO mutex hand-off, events, joins). Every outcome weft
// reported must be the one the model predicts; at the end, the model says whether the
// program is deadlocked (fibers remain, each waiting on something that can no longer
// happen) or finished.
class model {
 public:
  model(const program_set& p, std::vector<std::string>& failures)
      : failures_(failures), channels_(p.channel_capacity.size()), mutexes_(p.mutexes),
        events_(p.events) {
    for (std::size_t i = 0; i < channels_.size(); ++i) channels_[i].capacity = p.channel_capacity[i];
  }

  void create_root(std::uint32_t f) { fibers_[f].created = true; }

  void apply(const log_entry& e) {
    if (!failures_.empty()) return;  // the first discrepancy is the one worth reading
    ++step_;
    switch (e.kind) {
      case ev::spawn:
        require_running(e.fiber);
        if (fibers_[e.obj].created) return fail(e, "fiber index spawned twice");
        fibers_[e.obj].created = true;
        return;
      case ev::start: {
        mfiber& f = fibers_[e.fiber];
        if (!f.created || f.started) return fail(e, "start of a fiber never spawned, or twice");
        f.started = true;
        f.weft_id = e.value;
        return;
      }
      case ev::finish: {
        require_running(e.fiber);
        mfiber& f = fibers_[e.fiber];
        if (e.value != expected_result(e.fiber)) return fail(e, "wrong result");
        for (std::size_t m = 0; m < mutexes_.size(); ++m)
          if (mutexes_[m].owner == static_cast<int>(e.fiber))
            return fail(e, "finished holding mutex " + std::to_string(m));
        f.finished = true;
        for (std::uint32_t joiner : joiners_[e.fiber]) complete(joiner, e.value, true, false);
        joiners_.erase(e.fiber);
        return;
      }
      case ev::begin:
        require_running(e.fiber);
        fibers_[e.fiber].pending = e.code;
        fibers_[e.fiber].pending_obj = e.obj;
        return begin(e);
      case ev::end: {
        mfiber& f = fibers_[e.fiber];
        if (f.pending != e.code || f.pending_obj != e.obj)
          return fail(e, "end of an operation that was not pending");
        if (!f.predicted)
          return fail(e, "completed, but the model says it must still be waiting");
        if (f.predicted_has_value != e.has_value ||
            (e.has_value && f.predicted_value != e.value) ||
            (e.code == op::send && f.predicted_ok != e.result))
          return fail(e, "outcome differs from the model's: expected " + describe_prediction(f));
        f.pending = op::count;
        f.predicted = false;
        return;
      }
      case ev::act:
        require_running(e.fiber);
        return act(e);
    }
  }

  // What is left buffered in channel c must be what was drained from it after the run.
  void check_drained(std::size_t c, const std::vector<std::uint64_t>& drained) {
    if (!failures_.empty()) return;
    const std::vector<std::uint64_t> expected(channels_[c].buffer.begin(),
                                              channels_[c].buffer.end());
    if (expected != drained)
      failures_.push_back("channel " + std::to_string(c) + ": " + std::to_string(drained.size()) +
                          " values left after the run, the model expects " +
                          std::to_string(expected.size()) + " (or other values)");
  }

  // The fibers that have not finished.
  std::vector<std::uint32_t> unfinished() const {
    std::vector<std::uint32_t> r;
    for (const auto& [i, f] : fibers_)
      if (!f.finished) r.push_back(i);
    return r;
  }

  // Whether the model says the program is deadlocked: fibers remain, each has started, and
  // each waits on something the model has not granted. Explains the first exception to that.
  bool deadlocked(std::string& why_not) const {
    bool any = false;
    for (const auto& [i, f] : fibers_) {
      if (f.finished) continue;
      any = true;
      if (!f.started) {
        why_not = "fiber " + std::to_string(i) + " was spawned but never started";
        return false;
      }
      if (f.pending == op::count) {
        why_not = "fiber " + std::to_string(i) + " is not waiting on anything";
        return false;
      }
      if (f.predicted) {
        why_not = "fiber " + std::to_string(i) + "'s " + op_name(f.pending) +
                  " can complete (" + describe_prediction(f) + ")";
        return false;
      }
    }
    if (!any) why_not = "every fiber finished";
    return any;
  }

  std::uint64_t weft_id(std::uint32_t f) const {
    auto it = fibers_.find(f);
    return it == fibers_.end() ? 0 : it->second.weft_id;
  }

 private:
  struct mfiber {
    bool created = false, started = false, finished = false;
    std::uint64_t weft_id = 0;
    op pending = op::count;  // the blocking operation in progress, if any
    std::uint32_t pending_obj = 0;
    bool predicted = false;  // the model says the pending operation completes, with:
    bool predicted_ok = false;
    bool predicted_has_value = false;
    std::uint64_t predicted_value = 0;
  };
  struct mchannel {
    std::size_t capacity = 0;
    bool closed = false;
    std::deque<std::uint64_t> buffer;
    std::deque<std::pair<std::uint32_t, std::uint64_t>> senders;  // blocked, with their values
    std::deque<std::uint32_t> receivers;                          // blocked
  };
  struct mmutex {
    int owner = -1;
    std::deque<std::uint32_t> waiters;
  };
  struct mevent {
    bool set = false;
    std::vector<std::uint32_t> waiters;
  };

  static std::string describe_prediction(const mfiber& f) {
    if (f.pending == op::send) return f.predicted_ok ? "delivered" : "not delivered (closed)";
    if (f.predicted_has_value) return "value " + std::to_string(f.predicted_value);
    if (f.pending == op::recv) return "nullopt (closed and drained)";
    return "done";
  }

  void fail(const log_entry& e, const std::string& what) {
    failures_.push_back("log entry " + std::to_string(step_ - 1) + ", fiber " +
                        std::to_string(e.fiber) + " " + op_name(e.code) + ": " + what);
  }
  void require_running(std::uint32_t f) {
    const mfiber& r = fibers_[f];
    if (!r.started || r.finished || r.pending != op::count)
      failures_.push_back("log entry " + std::to_string(step_ - 1) + ": fiber " +
                          std::to_string(f) + " acts while not running (not started, finished "
                          "or blocked in " + op_name(r.pending) + ")");
  }
  void complete(std::uint32_t f, std::uint64_t value, bool has_value, bool ok) {
    mfiber& r = fibers_[f];
    r.predicted = true;
    r.predicted_value = value;
    r.predicted_has_value = has_value;
    r.predicted_ok = ok;
  }

  // A value leaves channel c for receiver `to` (blocked or not): the buffer's oldest value,
  // refilled from the oldest blocked sender, or straight from that sender. False if none.
  bool take(mchannel& ch, std::uint64_t& v) {
    if (!ch.buffer.empty()) {
      v = ch.buffer.front();
      ch.buffer.pop_front();
      if (!ch.senders.empty()) {
        auto [s, sv] = ch.senders.front();
        ch.senders.pop_front();
        ch.buffer.push_back(sv);
        complete(s, 0, false, true);
      }
      return true;
    }
    if (!ch.senders.empty()) {
      auto [s, sv] = ch.senders.front();
      ch.senders.pop_front();
      v = sv;
      complete(s, 0, false, true);
      return true;
    }
    return false;
  }
  // Offers v to channel c without waiting; false if it would have to wait.
  bool offer(mchannel& ch, std::uint64_t v) {
    if (!ch.receivers.empty()) {
      const std::uint32_t r = ch.receivers.front();
      ch.receivers.pop_front();
      complete(r, v, true, false);
      return true;
    }
    if (ch.buffer.size() < ch.capacity) {
      ch.buffer.push_back(v);
      return true;
    }
    return false;
  }

  void begin(const log_entry& e) {
    const std::uint32_t f = e.fiber;
    switch (e.code) {
      case op::sleep:
        return complete(f, 0, false, false);  // sleeps end on their own
      case op::send: {
        mchannel& ch = channels_[e.obj];
        if (ch.closed) return complete(f, 0, false, false);
        if (offer(ch, e.value)) return complete(f, 0, false, true);
        ch.senders.emplace_back(f, e.value);
        return;
      }
      case op::recv: {
        mchannel& ch = channels_[e.obj];
        std::uint64_t v;
        if (take(ch, v)) return complete(f, v, true, false);
        if (ch.closed) return complete(f, 0, false, false);
        ch.receivers.push_back(f);
        return;
      }
      case op::lock: {
        mmutex& m = mutexes_[e.obj];
        if (m.owner < 0) {
          m.owner = static_cast<int>(f);
          return complete(f, 0, false, false);
        }
        m.waiters.push_back(f);  // also when f owns it: weft::mutex is not recursive
        return;
      }
      case op::wait: {
        mevent& ev = events_[e.obj];
        if (ev.set) return complete(f, 0, false, false);
        ev.waiters.push_back(f);
        return;
      }
      case op::join: {
        auto it = fibers_.find(e.obj);
        if (it == fibers_.end() || !it->second.created) return fail(e, "join of an unknown fiber");
        if (it->second.finished) return complete(f, expected_result(e.obj), true, false);
        joiners_[e.obj].push_back(f);
        return;
      }
      default:
        return fail(e, "not a blocking operation");
    }
  }

  void act(const log_entry& e) {
    switch (e.code) {
      case op::try_send: {
        mchannel& ch = channels_[e.obj];
        const bool ok = !ch.closed && offer(ch, e.value);
        if (ok != e.result)
          fail(e, std::string("try_send returned ") + (e.result ? "true" : "false") +
                      ", the model expects the opposite");
        return;
      }
      case op::try_recv: {
        mchannel& ch = channels_[e.obj];
        std::uint64_t v = 0;
        const bool got = take(ch, v);
        if (got != e.has_value || (got && v != e.value))
          fail(e, "try_recv returned " +
                      (e.has_value ? "value " + std::to_string(e.value) : std::string("nullopt")) +
                      ", the model expects " +
                      (got ? "value " + std::to_string(v) : std::string("nullopt")));
        return;
      }
      case op::close: {
        mchannel& ch = channels_[e.obj];
        ch.closed = true;
        for (auto [s, v] : ch.senders) complete(s, 0, false, false);
        ch.senders.clear();
        if (!ch.receivers.empty() && !ch.buffer.empty())
          return fail(e, "receivers were waiting on a channel with buffered values");
        for (std::uint32_t r : ch.receivers) complete(r, 0, false, false);
        ch.receivers.clear();
        return;
      }
      case op::unlock: {
        mmutex& m = mutexes_[e.obj];
        if (m.owner != static_cast<int>(e.fiber)) return fail(e, "unlock by a non-owner");
        if (m.waiters.empty()) {
          m.owner = -1;
          return;
        }
        const std::uint32_t next = m.waiters.front();
        m.waiters.pop_front();
        if (next == e.fiber) return fail(e, "a fiber both holds and waits for a mutex");
        m.owner = static_cast<int>(next);
        return complete(next, 0, false, false);
      }
      case op::set: {
        mevent& ev = events_[e.obj];
        ev.set = true;
        for (std::uint32_t w : ev.waiters) complete(w, 0, false, false);
        ev.waiters.clear();
        return;
      }
      case op::detach:
        return;
      default:
        return fail(e, "not a non-blocking operation");
    }
  }

  std::vector<std::string>& failures_;
  std::map<std::uint32_t, mfiber> fibers_;
  std::vector<mchannel> channels_;
  std::vector<mmutex> mutexes_;
  std::vector<mevent> events_;
  std::map<std::uint32_t, std::vector<std::uint32_t>> joiners_;
  std::size_t step_ = 0;
};

std::string format_log(const std::vector<log_entry>& log) {
  static const char* const kinds[] = {"spawn", "start", "begin", "end", "act", "finish"};
  std::string s;
  for (std::size_t i = 0; i < log.size(); ++i) {
    const log_entry& e = log[i];
    char line[200];
    std::snprintf(line, sizeof line, "  %4zu f%-3u %-6s %-11s obj=%u value=%llu%s%s\n", i,
                  e.fiber, kinds[static_cast<int>(e.kind)],
                  e.kind == ev::start || e.kind == ev::finish ? "" : op_name(e.code), e.obj,
                  static_cast<unsigned long long>(e.value), e.has_value ? " has_value" : "",
                  e.result ? " ok" : "");
    s += line;
  }
  return s;
}

// Checks that hold whatever the schedule (any number of workers): every value delivered once
// or reported undelivered, nothing invented.
void check_values(const run_context& ctx, const std::vector<std::vector<std::uint64_t>>& drained,
                  std::vector<std::string>& failures) {
  std::map<std::uint64_t, std::pair<std::uint32_t, bool>> sent;  // value -> (channel, delivered)
  std::map<std::uint64_t, int> received;
  auto receive = [&](std::uint32_t c, std::uint64_t v) {
    auto it = sent.find(v);
    if (it == sent.end() || it->second.first != c)
      failures.push_back("value " + std::to_string(v) + " received from channel " +
                         std::to_string(c) + " was never sent on it");
    else if (!it->second.second)
      failures.push_back("value " + std::to_string(v) + " was received, but its send said "
                         "it was not delivered");
    if (++received[v] > 1) failures.push_back("value " + std::to_string(v) + " received twice");
  };
  for (const log_entry& e : ctx.log) {
    if ((e.kind == ev::end && e.code == op::send) || (e.kind == ev::act && e.code == op::try_send))
      sent[e.value] = {e.obj, e.result};
    else if (e.kind == ev::begin && e.code == op::send)
      sent[e.value] = {e.obj, true};  // provisional: a send that never ended may have delivered
  }
  for (const log_entry& e : ctx.log)
    if (e.has_value && ((e.kind == ev::end && e.code == op::recv) ||
                        (e.kind == ev::act && e.code == op::try_recv)))
      receive(e.obj, e.value);
  for (std::size_t c = 0; c < drained.size(); ++c)
    for (std::uint64_t v : drained[c]) receive(static_cast<std::uint32_t>(c), v);
  // A completed send that reported delivery: its value must have been received or drained.
  for (const log_entry& e : ctx.log)
    if (((e.kind == ev::end && e.code == op::send) ||
         (e.kind == ev::act && e.code == op::try_send)) &&
        e.result && received[e.value] != 1)
      failures.push_back("value " + std::to_string(e.value) + " was delivered to channel " +
                         std::to_string(e.obj) + " but received " +
                         std::to_string(received[e.value]) + " times");
}

}  // namespace

harness_options options_from_environment() {
  harness_options o;
  if (const char* w = std::getenv("WEFT_FUZZ_WORKERS")) o.workers = std::strtoul(w, nullptr, 10);
  if (o.workers == 0) o.workers = 1;
  if (const char* t = std::getenv("WEFT_FUZZ_WATCHDOG_S")) o.watchdog_seconds = std::atof(t);
  if (o.watchdog_seconds <= 0) o.watchdog_seconds = 10.0;
  if (const char* v = std::getenv("WEFT_FUZZ_VERBOSE")) o.verbose = *v && *v != '0';
  if (const char* v = std::getenv("WEFT_FUZZ_NO_HANDLER_YIELD"))
    o.no_handler_yield = *v && *v != '0';
  return o;
}

std::string describe_program(const std::uint8_t* data, std::size_t size) {
  return describe(decode(data, size));
}

void run_schedule_program(const std::uint8_t* data, std::size_t size, const harness_options& o) {
  const program_set programs = decode(data, size);
  const std::string description = describe(programs);
  if (o.verbose) std::fprintf(stderr, "%s", description.c_str());

  auto ctx = std::make_unique<run_context>();
  ctx->programs = &programs;
  ctx->options = o;
  ctx->log.reserve(1024);
  for (std::size_t c : programs.channel_capacity)
    ctx->channels.push_back(std::make_unique<weft::channel<std::uint64_t>>(c));
  for (std::size_t i = 0; i < programs.mutexes; ++i)
    ctx->mutexes.push_back(std::make_unique<weft::mutex>());
  for (std::size_t i = 0; i < programs.events; ++i)
    ctx->events.push_back(std::make_unique<weft::event>());

  watchdog::instance().arm(o.watchdog_seconds, description);

  weft::executor_options options;
  options.workers = o.workers;
  options.stack_size = programs.stack_size;
  options.guard_pages = programs.guard_pages;
  // Only the program's own fibers can wake each other: a deadlock is one at once.
  options.deadlock_grace = std::chrono::milliseconds(0);

  bool deadlocked = false;
  std::string deadlock_message;
  std::vector<std::pair<std::uint32_t, weft::join_handle<std::uint64_t>>> roots;
  std::vector<std::string>& failures = ctx->failures;
  {
    weft::executor ex(options);
    for (std::size_t p : programs.roots) {
      const std::uint32_t f = ctx->next_fiber.fetch_add(1);
      ctx->records[f].program = p;
      roots.emplace_back(f, ex.spawn(&fiber_body, ctx.get(), f, p, capture_token(ctx.get())));
    }
    try {
      ex.run();
    } catch (const weft::deadlock_error& e) {
      deadlocked = true;
      deadlock_message = e.what();
    } catch (const std::exception& e) {
      failures.push_back(std::string("executor::run threw an unexpected exception: ") + e.what());
    }
    if (!deadlocked && failures.empty()) {
      if (ex.live_fibers() != 0)
        failures.push_back("run() returned with " + std::to_string(ex.live_fibers()) +
                           " fibers alive");
      for (auto& [f, h] : roots) {
        if (!h.done()) failures.push_back("root fiber " + std::to_string(f) + " not done");
        else if (h.join() != expected_result(f))
          failures.push_back("root fiber " + std::to_string(f) + ": join returned a wrong value");
      }
    }
    // Leaving the scope destroys the executor: after a deadlock it unwinds the fibers left.
  }
  if (deadlocked) {
    for (auto& [f, h] : roots) {
      if (!h.joinable()) continue;
      if (!h.done()) {
        failures.push_back("root fiber " + std::to_string(f) + " not done after the executor");
        continue;
      }
      try {
        if (h.join() != expected_result(f))
          failures.push_back("root fiber " + std::to_string(f) + ": join returned a wrong value");
      } catch (const std::runtime_error& e) {
        if (std::string(e.what()).find("destroyed") == std::string::npos)
          failures.push_back("root fiber " + std::to_string(f) + ": join threw \"" + e.what() +
                             "\", not the executor-destroyed error");
      }
    }
  }
  roots.clear();
  watchdog::instance().disarm();

  std::vector<std::vector<std::uint64_t>> drained(ctx->channels.size());
  for (std::size_t c = 0; c < ctx->channels.size(); ++c)
    while (auto v = ctx->channels[c]->try_recv()) drained[c].push_back(*v);

  // No fiber lost: each one either ended or (after a deadlock only) was unwound, exactly once;
  // every callable was destroyed.
  const std::uint32_t created = std::min<std::uint32_t>(ctx->next_fiber.load(), max_fibers);
  std::set<std::uint32_t> spawned;  // fibers that exist: roots and logged spawns
  for (std::uint32_t i = 0; i < programs.roots.size(); ++i) spawned.insert(i);
  for (const log_entry& e : ctx->log)
    if (e.kind == ev::spawn) spawned.insert(e.obj);
  for (std::uint32_t f : spawned) {
    if (f >= created) continue;
    const int ended = ctx->records[f].ended.load(), unwound = ctx->records[f].unwound.load();
    if (ended + unwound != 1 || (unwound && !deadlocked))
      failures.push_back("fiber " + std::to_string(f) + " ended " + std::to_string(ended) +
                         " times and was unwound " + std::to_string(unwound) + " times");
  }
  if (ctx->tokens_live.load() != 0)
    failures.push_back(std::to_string(ctx->tokens_live.load()) +
                       " copies of fibers' callables are still alive after the executor");

  check_values(*ctx, drained, failures);

  if (o.workers == 1) {
    model m(programs, failures);
    for (std::uint32_t i = 0; i < programs.roots.size(); ++i) m.create_root(i);
    for (const log_entry& e : ctx->log) m.apply(e);
    for (std::size_t c = 0; c < drained.size(); ++c) m.check_drained(c, drained[c]);
    if (failures.empty()) {
      std::string why_not;
      const bool model_deadlock = m.deadlocked(why_not);
      if (deadlocked && !model_deadlock)
        failures.push_back("weft reported a deadlock the model does not see: " + why_not +
                           "\n  weft said: " + deadlock_message);
      if (!deadlocked && model_deadlock)
        failures.push_back("run() ended normally but the model sees fibers deadlocked");
      if (deadlocked && model_deadlock)
        for (std::uint32_t f : m.unfinished()) {
          const std::string name = "<fz" + std::to_string(f) + ">";
          if (deadlock_message.find(name) == std::string::npos)
            failures.push_back("the deadlock_error message does not name blocked fiber " + name +
                               " (weft id " + std::to_string(m.weft_id(f)) + "):\n" +
                               deadlock_message);
        }
    }
  } else {
    // Without a linearised log: a deadlock exactly when some fiber did not finish.
    std::size_t finished = 0;
    for (const log_entry& e : ctx->log) finished += e.kind == ev::finish;
    const bool all_finished = finished == std::min<std::size_t>(spawned.size(), created);
    if (deadlocked == all_finished)
      failures.push_back(deadlocked ? "deadlock_error although every fiber finished"
                                    : "run() ended normally but fibers did not finish");
  }

  if (o.verbose)
    std::fprintf(stderr, "  -> %s, %zu fibers, %zu log entries\n",
                 deadlocked ? "deadlock_error" : "finished", spawned.size(), ctx->log.size());
  if (!failures.empty()) {
    std::fprintf(stderr, "schedule fuzzer: the run differs from the model\nprogram:\n%s",
                 description.c_str());
    std::fprintf(stderr, "run: %s, %zu workers\nlog:\n%s", deadlocked ? "deadlock_error" : "finished",
                 o.workers, format_log(ctx->log).c_str());
    for (const std::string& f : failures) std::fprintf(stderr, "FAILED: %s\n", f.c_str());
    std::fflush(stderr);
    std::abort();
  }
}

}  // namespace weft_fuzz
