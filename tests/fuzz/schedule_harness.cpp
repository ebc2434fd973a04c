// The schedule fuzzer: input bytes -> a program of fiber operations -> a run on weft's
// executor -> a check of that run against a reference model. The byte format and the model
// are described in tests/fuzz/README.md.
#include "schedule_harness.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <future>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <weft/weft.hpp>

#include "../support/descriptors.hpp"
#include "../support/sanitizers.hpp"

namespace weft_fuzz {
namespace {

using namespace std::chrono_literals;

// On the harness's coroutines (the task actors): clang 14 cannot assemble a coroutine that has
// both SanitizerCoverage (-fsanitize=fuzzer-no-link) and AddressSanitizer instrumentation
// ("error: Cannot represent a difference across sections"), so they go without coverage
// instrumentation (ASan still checks them; the library keeps its coverage).
#if defined(__clang__)
#define WEFT_FUZZ_COROUTINE __attribute__((no_sanitize("coverage")))
#else
#define WEFT_FUZZ_COROUTINE
#endif

// ---- the program ----------------------------------------------------------------------------

enum class op : std::uint8_t {
  spawn, yield, sleep, send, recv, try_send, try_recv, close, lock, unlock, set, wait, join,
  detach, throw_catch,
  // Timed waits and select (op bytes 240-249), and stop requests (250-255), see decode_op:
  // appended, so that every op byte below 240 decodes as it always did.
  recv_for, send_for, wait_for, lock_for, select, stop,
  // Semaphores (op byte 254) and latches (255), when the input's trailer declares some (see
  // decode_op): the sub-operation is in the argument.
  sem_acquire, sem_release, sem_try_acquire, sem_acquire_for, sem_acquire_until,
  latch_count_down, latch_wait, latch_wait_for, latch_wait_until, latch_try_wait,
  latch_arrive_and_wait,
  // IO on the input's socket pairs (op bytes 252 and 253, when the trailer declares pipes; see
  // decode_op): io::write_all, io::read_some, io::wait_readable, shutdown(SHUT_WR).
  io_write, io_read, io_wait, io_shutdown,
  // The vocabulary (op bytes 250 and 251, when a trailer marked 0xC_ declares the objects; see
  // decode_op): promise/future, barrier (bar_completion is only logged, by the completion
  // function), shared_mutex, recursive_mutex, fiber_local.
  fut_set, fut_get, fut_wait, fut_wait_for, fut_drop,
  bar_arrive_and_wait, bar_arrive_and_drop, bar_completion,
  sm_lock, sm_lock_shared, sm_unlock, sm_unlock_shared, sm_try_lock, sm_try_lock_shared,
  rm_lock, rm_unlock, rm_try_lock,
  fl_write, fl_read,
  count
};
constexpr int classic_ops = static_cast<int>(op::recv_for);  // 15
constexpr int timed_ops = static_cast<int>(op::stop) - classic_ops;  // 5

const char* op_name(op o) {
  static const char* const names[] = {"spawn", "yield",  "sleep", "send",   "recv",
                                      "try_send", "try_recv", "close", "lock", "unlock",
                                      "set",   "wait",   "join",  "detach", "throw_catch",
                                      "recv_for", "send_for", "wait_for", "lock_for", "select",
                                      "stop",
                                      "sem_acquire", "sem_release", "sem_try_acquire",
                                      "sem_acquire_for", "sem_acquire_until",
                                      "latch_count_down", "latch_wait", "latch_wait_for",
                                      "latch_wait_until", "latch_try_wait",
                                      "latch_arrive_and_wait",
                                      "io_write", "io_read", "io_wait_readable", "io_shutdown",
                                      "future_set", "future_get", "future_wait",
                                      "future_wait_for", "promise_drop",
                                      "barrier_arrive_and_wait", "barrier_arrive_and_drop",
                                      "barrier_completion",
                                      "shared_lock", "shared_lock_shared", "shared_unlock",
                                      "shared_unlock_shared", "shared_try_lock",
                                      "shared_try_lock_shared",
                                      "rmutex_lock", "rmutex_unlock", "rmutex_try_lock",
                                      "local_write", "local_read"};
  static_assert(std::size(names) == static_cast<std::size_t>(op::count));
  return o < op::count ? names[static_cast<int>(o)] : "?";
}

// The semaphore and latch operations' argument: bits 0-1 the object (% count), bits 2-4 the
// sub-operation (these tables), bits 5-6 the time limit of the timed ones (timed_duration_sync)
// and bits 5-7 the amount of release / count_down / arrive_and_wait (sync_amount).
constexpr op semaphore_ops[8] = {op::sem_acquire,     op::sem_release,       op::sem_try_acquire,
                                 op::sem_acquire_for, op::sem_acquire_until, op::sem_release,
                                 op::sem_acquire,     op::sem_release};
constexpr op latch_ops[8] = {op::latch_count_down,      op::latch_wait,       op::latch_wait_for,
                             op::latch_try_wait,        op::latch_arrive_and_wait,
                             op::latch_wait_until,      op::latch_count_down, op::latch_wait};

// The IO operations' argument: bits 0-1 the pipe (% pipes), bit 2 the end (0: a, 1: b), bits
// 3-5 the sub-operation (this table), bits 6-7 its parameter (io_write_length, io_read_buffer,
// io_limit).
constexpr op io_ops[8] = {op::io_write, op::io_read, op::io_wait,  op::io_write,
                          op::io_read,  op::io_wait, op::io_read, op::io_shutdown};

// The vocabulary operations' argument: bits 0-1 the object (% count), bits 2-4 the
// sub-operation (these tables). Op byte 250: bit 7 picks futures (0) or barriers (1) among the
// kinds the input declares (% the number declared), bits 5-6 future_wait_for's limit. Op byte
// 251: bits 5-6 pick shared_mutex, recursive_mutex, fiber_local among those declared (%).
constexpr op future_ops[8] = {op::fut_set,  op::fut_get,      op::fut_wait, op::fut_wait_for,
                              op::fut_set,  op::fut_get,      op::fut_drop, op::fut_get};
constexpr op barrier_ops[8] = {op::bar_arrive_and_wait, op::bar_arrive_and_wait,
                               op::bar_arrive_and_drop, op::bar_arrive_and_wait,
                               op::bar_arrive_and_wait, op::bar_arrive_and_drop,
                               op::bar_arrive_and_wait, op::bar_arrive_and_wait};
constexpr op shared_mutex_ops[8] = {op::sm_lock,     op::sm_lock_shared,     op::sm_unlock,
                                    op::sm_unlock_shared, op::sm_try_lock,
                                    op::sm_try_lock_shared, op::sm_lock_shared,
                                    op::sm_unlock_shared};
constexpr op recursive_mutex_ops[8] = {op::rm_lock, op::rm_unlock, op::rm_try_lock, op::rm_lock,
                                       op::rm_unlock, op::rm_lock, op::rm_unlock,
                                       op::rm_try_lock};
constexpr op fiber_local_ops[8] = {op::fl_write, op::fl_read, op::fl_write, op::fl_read,
                                   op::fl_read,  op::fl_write, op::fl_read, op::fl_read};

// How many of each vocabulary object the input declares (the 0xC_ trailer's bytes).
struct vocab_counts {
  std::size_t futures = 0, barriers = 0, shared_mutexes = 0, recursive_mutexes = 0, locals = 0;
};

// Op bytes 0-239 are the first 15 operations (b % 15, as before they existed: older inputs
// decode unchanged unless they used a byte of 240-255), 240-249 the timed ones and select,
// 250-255 a stop request, except 254 (a semaphore operation) when the program has semaphores
// and 255 (a latch operation) when it has latches: only inputs with a trailer declaring them
// (written after these existed, or older ones with bytes left after their programs) decode
// differently. 252 and 253 are IO operations when the program has pipes, which only a trailer
// marked 0x5_ declares (no input written before IO existed has one).
//
// 250 and 251 are vocabulary operations when the program has such objects, which only a
// trailer marked 0xC_ declares (no input written before they existed has one): 250 on futures
// and barriers, 251 on shared mutexes, recursive mutexes and fiber_locals.
op decode_op(std::uint8_t b, std::uint8_t arg, bool semaphores, bool latches, bool pipes,
             const vocab_counts& v) {
  constexpr int first_timed = 240, first_stop = 250;
  if (b < first_timed) return static_cast<op>(b % classic_ops);
  if (b < first_stop) return static_cast<op>(classic_ops + (b - first_timed) % timed_ops);
  if (b == 250 && v.futures + v.barriers > 0) {
    const op* kinds[2];
    std::size_t n = 0;
    if (v.futures) kinds[n++] = future_ops;
    if (v.barriers) kinds[n++] = barrier_ops;
    return kinds[(arg >> 7) % n][(arg >> 2) & 7];
  }
  if (b == 251 && v.shared_mutexes + v.recursive_mutexes + v.locals > 0) {
    const op* kinds[3];
    std::size_t n = 0;
    if (v.shared_mutexes) kinds[n++] = shared_mutex_ops;
    if (v.recursive_mutexes) kinds[n++] = recursive_mutex_ops;
    if (v.locals) kinds[n++] = fiber_local_ops;
    return kinds[((arg >> 5) & 3) % n][(arg >> 2) & 7];
  }
  if ((b == 252 || b == 253) && pipes) return io_ops[(arg >> 3) & 7];
  if (b == 254 && semaphores) return semaphore_ops[(arg >> 2) & 7];
  if (b == 255 && latches) return latch_ops[(arg >> 2) & 7];
  return op::stop;
}

bool is_semaphore_op(op o) { return o >= op::sem_acquire && o <= op::sem_acquire_until; }
bool is_latch_op(op o) { return o >= op::latch_count_down && o <= op::latch_arrive_and_wait; }
// The IO calls that a begin and an end surround (the model handles them on their own).
bool is_io_wait_op(op o) { return o == op::io_read || o == op::io_wait; }
// The timed semaphore and latch waits whose deadline is a time point (computed after the
// begin is logged): one that has passed by the time the call converts it returns timed out
// without blocking, and without looking at a stop request.
bool is_until_op(op o) { return o == op::sem_acquire_until || o == op::latch_wait_until; }
bool is_future_op(op o) { return o >= op::fut_set && o <= op::fut_drop; }
bool is_barrier_op(op o) { return o >= op::bar_arrive_and_wait && o <= op::bar_completion; }
bool is_shared_mutex_op(op o) { return o >= op::sm_lock && o <= op::sm_try_lock_shared; }
bool is_recursive_mutex_op(op o) { return o >= op::rm_lock && o <= op::rm_try_lock; }
bool is_local_op(op o) { return o == op::fl_write || o == op::fl_read; }

// Whether a stop request makes `o` throw operation_cancelled instead of blocking. (io_read and
// io_wait are interruption points too; the model treats them apart, see model::end_io.)
bool interruption_point(op o) {
  switch (o) {
    case op::sleep: case op::send: case op::recv: case op::wait: case op::join:
    case op::recv_for: case op::send_for: case op::wait_for: case op::select:
    case op::sem_acquire: case op::sem_acquire_for: case op::sem_acquire_until:
    case op::latch_wait: case op::latch_wait_for: case op::latch_wait_until:
    case op::latch_arrive_and_wait:
    case op::fut_get: case op::fut_wait: case op::fut_wait_for: case op::bar_arrive_and_wait:
      return true;
    default:
      return false;  // lock and lock_for among them, the shared and recursive mutexes' too
  }
}

struct instr {
  op code;
  std::uint8_t arg;
};

constexpr std::size_t max_fibers = 48;         // spawns beyond this are skipped
constexpr int max_sleeps_per_fiber = 4;        // later sleeps become yields
constexpr std::size_t max_program_length = 16;
constexpr std::size_t max_programs = 8;
constexpr std::uint8_t task_byte_mark = 0xA;   // trailer bits 4-7: a task byte follows
constexpr std::uint8_t io_byte_mark = 0x5;     // trailer bits 4-7: a task byte, then the IO byte
// IO byte bits 4-7 (after a trailer marked 0x5_): the vocabulary's bytes follow. (Every value
// of the trailer's bits 4-7 occurs in the corpus; of the IO byte's, only 0 and 6.)
constexpr std::uint8_t vocab_byte_mark = 0xA;
constexpr std::size_t max_pipes = 3;
// Writes per direction of a pipe (later ones are skipped): with at most 4 bytes each, the
// socket's buffer never fills, so write_all never waits.
constexpr std::uint32_t max_io_writes = 64;
constexpr std::size_t huge_capacity = std::size_t{1} << 40;
constexpr std::size_t capacity_table[] = {0, 0, 1, 1, 2, 3, 5, 8, 16, huge_capacity};
constexpr std::size_t stack_table[] = {16 * 1024, 32 * 1024, 64 * 1024, 256 * 1024};
constexpr std::ptrdiff_t ptrdiff_max = std::numeric_limits<std::ptrdiff_t>::max();
// Initial counts of semaphores and latches (the trailer's bytes, % 8), and the amounts of
// release / count_down / arrive_and_wait (argument bits 5-7): negative and huge ones throw.
constexpr std::ptrdiff_t semaphore_initial_table[] = {0, 0, 1, 1, 2, 3, ptrdiff_max - 1,
                                                      ptrdiff_max};
constexpr std::ptrdiff_t latch_initial_table[] = {0, 1, 1, 2, 2, 3, 5, ptrdiff_max};
constexpr std::ptrdiff_t amount_table[] = {1, 1, 2, 3, 1, 0, -1, ptrdiff_max};
// A barrier's expected count (bits 0-1 of its byte; bit 2: with a completion function).
constexpr std::ptrdiff_t barrier_expected_table[] = {2, 1, 3, 0};
constexpr std::size_t max_locals = 3;  // fiber_local objects
// AddressSanitizer's redzones make frames several times larger: the select and timed ops'
// frames overflowed 16 KiB under gcc's ASan. Stacks scale with it.
constexpr std::size_t stack_scale = weft_test::under_asan ? 4 : 1;

struct program_set {
  std::vector<std::size_t> channel_capacity;  // 1..4 channels
  std::size_t mutexes = 1;                    // 1..3
  std::size_t events = 1;                     // 1..3
  std::size_t stack_size = 64 * 1024;
  bool guard_pages = true;
  std::vector<std::size_t> roots;             // program index of each root fiber, 1..3
  std::vector<std::vector<instr>> programs;   // 1..8 programs of 0..16 instructions
  std::vector<std::ptrdiff_t> semaphores;     // initial counts, 0..3 semaphores (trailer)
  std::vector<std::ptrdiff_t> latches;        // expected counts, 0..3 latches (trailer)
  std::vector<bool> tasks;                    // per program: its actors run as weft::tasks
  std::size_t pipes = 0;                      // socket pairs, 0..3 (the IO byte)
  // The vocabulary (a trailer marked 0xC_): promise/future pairs, barriers (expected count,
  // whether it has a completion function), shared mutexes, recursive mutexes, fiber_locals.
  vocab_counts vocab;
  std::vector<std::pair<std::ptrdiff_t, bool>> barriers;
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
  p.stack_size = stack_table[flags % 4] * stack_scale;
  p.guard_pages = (flags & 4) == 0;
  const std::size_t roots = 1 + in.next() % 3;
  std::vector<std::uint8_t> root_bytes;
  for (std::size_t i = 0; i < roots; ++i) root_bytes.push_back(in.next());
  const std::size_t programs = 1 + in.next() % max_programs;
  std::vector<std::vector<std::pair<std::uint8_t, std::uint8_t>>> raw(programs);
  for (std::size_t i = 0; i < programs; ++i) {
    const std::size_t length = in.next() % (max_program_length + 1);
    for (std::size_t j = 0; j < length; ++j) {
      const std::uint8_t code = in.next();
      raw[i].emplace_back(code, in.next());
    }
  }
  // The trailer, after the programs (missing: none of either): bits 0-1 semaphores, bits 2-3
  // latches, then one byte per semaphore and per latch, its initial count.
  const std::uint8_t trailer = in.next();
  const std::size_t semaphores = trailer & 3, latches = (trailer >> 2) & 3;
  for (std::size_t i = 0; i < semaphores; ++i)
    p.semaphores.push_back(semaphore_initial_table[in.next() % std::size(semaphore_initial_table)]);
  for (std::size_t i = 0; i < latches; ++i)
    p.latches.push_back(latch_initial_table[in.next() % std::size(latch_initial_table)]);
  // Trailer bits 4-7 equal to 0xA (which no input written before tasks existed has): one more
  // byte, whose bit i set makes program i's actors weft::tasks instead of fibers.
  p.tasks.assign(programs, false);
  // Bits 4-7 equal to 0x5 (which no input written before IO existed has): the task byte, then
  // the IO byte, whose bits 0-1 are the number of pipes (socket pairs), 0-3.
  const bool io_byte = (trailer >> 4) == io_byte_mark;
  if ((trailer >> 4) == task_byte_mark || io_byte) {
    const std::uint8_t tasks = in.next();
    for (std::size_t i = 0; i < programs; ++i) p.tasks[i] = (tasks >> i) & 1;
  }
  std::uint8_t io = 0;
  if (io_byte) {
    io = in.next();
    p.pipes = io & 3;
  }
  // The IO byte's bits 4-7 equal to 0xA (no input written before the vocabulary existed has
  // that): the vocabulary byte (bits 0-1 futures, 2-3 barriers, 4-5 shared mutexes, 6-7
  // recursive mutexes, 0-3 each), one byte per barrier (bits 0-1 its expected count,
  // barrier_expected_table; bit 2 set: with a completion function), then the locals byte
  // (bits 0-1: fiber_locals, 0-3).
  if (io_byte && (io >> 4) == vocab_byte_mark) {
    const std::uint8_t v = in.next();
    p.vocab.futures = v & 3;
    p.vocab.barriers = (v >> 2) & 3;
    p.vocab.shared_mutexes = (v >> 4) & 3;
    p.vocab.recursive_mutexes = (v >> 6) & 3;
    for (std::size_t i = 0; i < p.vocab.barriers; ++i) {
      const std::uint8_t b = in.next();
      p.barriers.emplace_back(barrier_expected_table[b & 3], (b & 4) != 0);
    }
    p.vocab.locals = in.next() & 3;
  }
  for (const auto& r : raw) {
    std::vector<instr> prog;
    for (auto [code, arg] : r)
      prog.push_back(
          instr{decode_op(code, arg, semaphores > 0, latches > 0, p.pipes > 0, p.vocab), arg});
    p.programs.push_back(std::move(prog));
  }
  for (std::uint8_t b : root_bytes) p.roots.push_back(b % programs);
  return p;
}

std::chrono::microseconds sleep_duration(std::uint8_t arg) { return (arg % 5) * 500us; }

// recv_for, send_for, wait_for, lock_for: bits 4-5 of the argument pick the time limit (the
// low bits pick the object, `arg % count`).
std::chrono::microseconds timed_duration(std::uint8_t arg) {
  static constexpr std::chrono::microseconds table[] = {0us, 500us, 1000us, 2000us};
  return table[(arg >> 4) & 3];
}

// The timed semaphore and latch waits: bits 5-6 (bits 2-4 pick the sub-operation).
std::chrono::microseconds timed_duration_sync(std::uint8_t arg) {
  return timed_duration(static_cast<std::uint8_t>(arg >> 1));
}

std::uint32_t limit_us(std::uint8_t arg) {
  return static_cast<std::uint32_t>(timed_duration(arg).count());
}
std::uint32_t limit_us_sync(std::uint8_t arg) {
  return static_cast<std::uint32_t>(timed_duration_sync(arg).count());
}

// release / count_down / arrive_and_wait: bits 5-7.
std::ptrdiff_t sync_amount(std::uint8_t arg) { return amount_table[(arg >> 5) & 7]; }
// The semaphore or latch of a semaphore or latch operation: bits 0-1.
std::uint32_t sync_object(std::uint8_t arg, std::size_t count) {
  return static_cast<std::uint32_t>((arg & 3) % count);
}

// IO: the end an IO operation acts on (bits 0-1 the pipe, bit 2 the end): pipe p's ends are
// 2p (a) and 2p + 1 (b). What end x writes, end x ^ 1 reads: direction x is the bytes end x
// wrote.
std::uint32_t io_end(std::uint8_t arg, std::size_t pipes) {
  return static_cast<std::uint32_t>(((arg & 3) % pipes) * 2 + ((arg >> 2) & 1));
}
std::string end_text(std::uint32_t end) {
  return "p" + std::to_string(end / 2) + (end % 2 ? ".b" : ".a");
}
// The n bytes packed in v (byte j in bits 8j..8j+7), as text.
std::string io_bytes_text(std::uint64_t v, std::size_t n) {
  std::string s;
  for (std::size_t j = 0; j < n && j < 8; ++j)
    s += (j ? " " : "") + std::to_string(static_cast<std::uint8_t>(v >> (8 * j)));
  return s;
}
// Bits 6-7: write_all's length (1-4 bytes), read_some's buffer, wait_readable's limit.
std::size_t io_write_length(std::uint8_t arg) { return 1 + (arg >> 6); }
std::size_t io_read_buffer(std::uint8_t arg) {
  static constexpr std::size_t table[] = {1, 2, 4, 8};
  return table[arg >> 6];
}
std::chrono::microseconds io_limit(std::uint8_t arg) {
  return timed_duration(static_cast<std::uint8_t>(arg >> 2));
}
// Byte j of the k-th write on a direction: unique on it (k < max_io_writes, j < 4).
std::uint8_t io_byte_of(std::uint32_t k, std::size_t j) {
  return static_cast<std::uint8_t>(k * 4 + j);
}

// The object of a vocabulary operation (bits 0-1, % the count of its kind).
std::uint32_t vocab_object(const program_set& p, const instr& in) {
  std::size_t n = 1;
  if (is_future_op(in.code)) n = p.vocab.futures;
  else if (is_barrier_op(in.code)) n = p.vocab.barriers;
  else if (is_shared_mutex_op(in.code)) n = p.vocab.shared_mutexes;
  else if (is_recursive_mutex_op(in.code)) n = p.vocab.recursive_mutexes;
  else if (is_local_op(in.code)) n = p.vocab.locals;
  return sync_object(in.arg, n == 0 ? 1 : n);
}
// future_wait_for's limit: bits 5-6, as the timed semaphore and latch waits.
std::chrono::microseconds future_limit(std::uint8_t arg) { return timed_duration_sync(arg); }

std::string amount_text(std::ptrdiff_t n) {
  return n == ptrdiff_max ? std::string("PTRDIFF_MAX")
         : n == ptrdiff_max - 1 ? std::string("PTRDIFF_MAX-1")
                                : std::to_string(n);
}

// select's argument: two channel cases and what else it has.
//   bits 0-1: case 0's channel (% channels); bits 2-3: case 1's channel (% channels);
//   bit 4: case 0 sends (else receives); bit 5: case 1 sends;
//   bits 6-7: 0 nothing else (blocks), 1 a default_case, 2 a timeout_case(0), 3 timeout_case(1 ms).
// Cases are at positions 0 and 1; a default or timeout case is at position 2.
struct select_shape {
  std::uint32_t channel[2];
  bool sends[2];
  enum extra_kind : std::uint8_t { none, with_default, with_timeout } extra;
  std::chrono::microseconds timeout{0};
};
select_shape decode_select(std::uint8_t arg, std::size_t channels) {
  select_shape s{};
  s.channel[0] = static_cast<std::uint32_t>((arg & 3) % channels);
  s.channel[1] = static_cast<std::uint32_t>(((arg >> 2) & 3) % channels);
  s.sends[0] = (arg >> 4) & 1;
  s.sends[1] = (arg >> 5) & 1;
  switch (arg >> 6) {
    case 0: s.extra = select_shape::none; break;
    case 1: s.extra = select_shape::with_default; break;
    case 2: s.extra = select_shape::with_timeout; s.timeout = 0us; break;
    default: s.extra = select_shape::with_timeout; s.timeout = 1000us; break;
  }
  return s;
}

std::string describe(const program_set& p) {
  std::string s = "channels:";
  for (std::size_t c : p.channel_capacity)
    s += " " + (c == huge_capacity ? std::string("2^40") : std::to_string(c));
  s += "; mutexes: " + std::to_string(p.mutexes) + "; events: " + std::to_string(p.events) +
       "; stack " + std::to_string(p.stack_size / 1024) + " KiB" +
       (p.guard_pages ? "" : " unguarded") + "; roots run programs";
  for (std::size_t r : p.roots) s += " " + std::to_string(r);
  if (!p.semaphores.empty()) {
    s += "; semaphores:";
    for (std::ptrdiff_t n : p.semaphores) s += " " + amount_text(n);
  }
  if (!p.latches.empty()) {
    s += "; latches:";
    for (std::ptrdiff_t n : p.latches) s += " " + amount_text(n);
  }
  if (p.pipes > 0) s += "; pipes: " + std::to_string(p.pipes);
  if (p.vocab.futures > 0) s += "; futures: " + std::to_string(p.vocab.futures);
  if (!p.barriers.empty()) {
    s += "; barriers:";
    for (auto [n, completion] : p.barriers)
      s += " " + std::to_string(n) + (completion ? "+completion" : "");
  }
  if (p.vocab.shared_mutexes > 0)
    s += "; shared mutexes: " + std::to_string(p.vocab.shared_mutexes);
  if (p.vocab.recursive_mutexes > 0)
    s += "; recursive mutexes: " + std::to_string(p.vocab.recursive_mutexes);
  if (p.vocab.locals > 0) s += "; fiber_locals: " + std::to_string(p.vocab.locals);
  s += "\n";
  for (std::size_t i = 0; i < p.programs.size(); ++i) {
    s += "  program " + std::to_string(i) + (p.tasks[i] ? " (tasks):" : ":");
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
          if (p.tasks[i] && (in.arg & 2))
            s += (in.arg & 1) ? "(yield in task, yield in handler)" : "(yield in task)";
          else if (in.arg & 1)
            s += "(yield in handler)";
          break;
        case op::stop:
          s += "(child " + std::to_string(in.arg) + " from the last)";
          break;
        case op::recv_for: case op::send_for:
          s += "(c" + std::to_string(in.arg % p.channel_capacity.size()) + ", " +
               std::to_string(timed_duration(in.arg).count()) + "us)";
          break;
        case op::lock_for:
          s += "(m" + std::to_string(in.arg % p.mutexes) + ", " +
               std::to_string(timed_duration(in.arg).count()) + "us)";
          break;
        case op::wait_for:
          s += "(e" + std::to_string(in.arg % p.events) + ", " +
               std::to_string(timed_duration(in.arg).count()) + "us)";
          break;
        case op::sem_acquire: case op::sem_try_acquire:
          s += "(s" + std::to_string(sync_object(in.arg, p.semaphores.size())) + ")";
          break;
        case op::sem_release:
          s += "(s" + std::to_string(sync_object(in.arg, p.semaphores.size())) + ", " +
               amount_text(sync_amount(in.arg)) + ")";
          break;
        case op::sem_acquire_for: case op::sem_acquire_until:
          s += "(s" + std::to_string(sync_object(in.arg, p.semaphores.size())) + ", " +
               std::to_string(timed_duration_sync(in.arg).count()) + "us)";
          break;
        case op::latch_wait: case op::latch_try_wait:
          s += "(l" + std::to_string(sync_object(in.arg, p.latches.size())) + ")";
          break;
        case op::latch_count_down: case op::latch_arrive_and_wait:
          s += "(l" + std::to_string(sync_object(in.arg, p.latches.size())) + ", " +
               amount_text(sync_amount(in.arg)) + ")";
          break;
        case op::latch_wait_for: case op::latch_wait_until:
          s += "(l" + std::to_string(sync_object(in.arg, p.latches.size())) + ", " +
               std::to_string(timed_duration_sync(in.arg).count()) + "us)";
          break;
        case op::io_write:
          s += "(" + end_text(io_end(in.arg, p.pipes)) + ", " +
               std::to_string(io_write_length(in.arg)) + " bytes)";
          break;
        case op::io_read:
          s += "(" + end_text(io_end(in.arg, p.pipes)) + ", buffer " +
               std::to_string(io_read_buffer(in.arg)) + ")";
          break;
        case op::io_wait:
          s += "(" + end_text(io_end(in.arg, p.pipes)) + ", " +
               std::to_string(io_limit(in.arg).count()) + "us)";
          break;
        case op::io_shutdown:
          s += "(" + end_text(io_end(in.arg, p.pipes)) + ")";
          break;
        case op::fut_set: case op::fut_get: case op::fut_wait: case op::fut_drop:
          s += "(f" + std::to_string(vocab_object(p, in)) + ")";
          break;
        case op::fut_wait_for:
          s += "(f" + std::to_string(vocab_object(p, in)) + ", " +
               std::to_string(future_limit(in.arg).count()) + "us)";
          break;
        case op::bar_arrive_and_wait: case op::bar_arrive_and_drop:
          s += "(b" + std::to_string(vocab_object(p, in)) + ")";
          break;
        case op::sm_lock: case op::sm_lock_shared: case op::sm_unlock: case op::sm_unlock_shared:
        case op::sm_try_lock: case op::sm_try_lock_shared:
          s += "(sm" + std::to_string(vocab_object(p, in)) + ")";
          break;
        case op::rm_lock: case op::rm_unlock: case op::rm_try_lock:
          s += "(rm" + std::to_string(vocab_object(p, in)) + ")";
          break;
        case op::fl_write: case op::fl_read:
          s += "(fl" + std::to_string(vocab_object(p, in)) + ")";
          break;
        case op::select: {
          const select_shape sh = decode_select(in.arg, p.channel_capacity.size());
          s += "(";
          for (int k = 0; k < 2; ++k)
            s += std::string(sh.sends[k] ? "send c" : "recv c") + std::to_string(sh.channel[k]) +
                 (k == 0 ? ", " : "");
          if (sh.extra == select_shape::with_default) s += ", default";
          if (sh.extra == select_shape::with_timeout)
            s += ", timeout " + std::to_string(sh.timeout.count()) + "us";
          s += ")";
          break;
        }
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
  // select: obj = its argument (the shape), begin: value = the value of case 0 if it sends
  // (case 1 sends value + 1); end: fired = the case that fired (0, 1, or 2 for default or
  // timeout), value/has_value what a recv case got, or the value a send case offered, result
  // whether it was sent. Timed ops: end result = true if it completed (sent, locked, set);
  // begin: fired = the time limit in microseconds.
  std::uint32_t fired = 0;
  // end: the call threw operation_cancelled (a stop request); act stop: result = whether
  // request_stop returned true.
  bool cancelled = false;
  // When it was logged (steady_clock, ns; set by run_context::append). A timed wait's deadline
  // is at least its begin's time plus its limit, which lets the model rule out timeouts.
  std::int64_t time_ns = 0;
  // Semaphores and latches: sem_release, latch_count_down (act) and latch_arrive_and_wait
  // (begin and end) carry their amount in `value` (a ptrdiff_t); their end or act says in
  // `thrown` what the call threw. sem_try_acquire, latch_try_wait (act) and the waits' ends:
  // result = what they returned (true for the untimed ones).
  // IO (obj: the end, end_text): io_write (act) value = its bytes (byte j in bits 8j..8j+7),
  // fired = how many, result = written, thrown = broken_pipe if it threw that; io_read begin
  // fired = the buffer's size, end value = the bytes read, fired = how many; io_wait begin
  // fired = the limit in microseconds, end result = what it returned; io_shutdown (act) result
  // = shutdown(2) returned 0, fiber = closer_fiber when the closer did it.
  // Vocabulary: fut_set, fut_drop (act) value = the value set; fut_get (end) value = what it
  // returned, thrown = the future_error; fut_wait_for (end) result = ready. bar_completion
  // (act, fiber = vocab_fiber) value = weft's id of the fiber that ran it. sm_try_lock*,
  // rm_try_lock (act) result = what they returned; rm_unlock (act) thrown = logic_error when
  // not the owner. fl_write (act) value = the value written; fl_read value = the value read.
  enum thrown_kind : std::uint8_t {
    none, invalid_argument, logic_error, other, broken_pipe, no_state, broken_promise,
    already_satisfied
  } thrown = none;
};

// The fiber index of the closer's entries (see closer_body).
constexpr std::uint32_t closer_fiber = 0xffffffff;
// The fiber index of a barrier's completion function's entries (it does not know its actor:
// the entry names weft's id of the fiber it ran on).
constexpr std::uint32_t completion_fiber = 0xfffffffe;

const char* thrown_name(log_entry::thrown_kind t) {
  switch (t) {
    case log_entry::none: return "nothing";
    case log_entry::invalid_argument: return "std::invalid_argument";
    case log_entry::logic_error: return "std::logic_error";
    case log_entry::other: return "another exception";
    case log_entry::broken_pipe: return "std::system_error (broken_pipe)";
    case log_entry::no_state: return "std::future_error (no_state)";
    case log_entry::broken_promise: return "std::future_error (broken_promise)";
    case log_entry::already_satisfied: return "std::future_error (promise_already_satisfied)";
  }
  return "?";
}

// Runs f, saying what it threw (std::invalid_argument is a std::logic_error: tested first).
template <class F>
log_entry::thrown_kind what_throws(F&& f) {
  try {
    f();
  } catch (const std::future_error& e) {
    if (e.code() == std::future_errc::no_state) return log_entry::no_state;
    if (e.code() == std::future_errc::broken_promise) return log_entry::broken_promise;
    if (e.code() == std::future_errc::promise_already_satisfied)
      return log_entry::already_satisfied;
    return log_entry::other;
  } catch (const std::invalid_argument&) {
    return log_entry::invalid_argument;
  } catch (const std::logic_error&) {
    return log_entry::logic_error;
  } catch (const weft::operation_cancelled&) {
    throw;
  } catch (const std::exception&) {
    return log_entry::other;
  }
  return log_entry::none;
}

std::int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

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
  // fiber_local: the values the actor saw constructed (its first get() of each object), and
  // the ones destroyed (local_value's destructor), per object; the last value it wrote.
  std::atomic<int> locals_made[max_locals] = {};
  std::atomic<int> locals_destroyed[max_locals] = {};
  std::atomic<std::uint64_t> local_last[max_locals] = {};
};

// A barrier's completion function: logs that it ran (bar_completion, with the weft id of the
// fiber it runs on: the model checks it is the completing arrival's).
struct run_context;
struct barrier_completion {
  run_context* ctx;
  std::uint32_t index;
  void operator()() noexcept;
};
// A barrier with or without a completion function (two types).
struct barrier_object {
  std::unique_ptr<weft::barrier<>> plain;
  std::unique_ptr<weft::barrier<barrier_completion>> with;
  void arrive_and_wait() { plain ? plain->arrive_and_wait() : with->arrive_and_wait(); }
  void arrive_and_drop() { plain ? plain->arrive_and_drop() : with->arrive_and_drop(); }
};
// A promise and its future. The promise's calls are made under `mutex` (two actors may set or
// drop it at once: a promise object is not thread-safe); the future is claimed (moved out,
// under `mutex`) by the first actor that gets or waits on it, which keeps it; the others then
// use an empty future (no_state).
struct future_object {
  std::mutex mutex;  // never held across a blocking weft call
  std::optional<weft::promise<std::uint64_t>> promise;
  weft::future<std::uint64_t> future;
  bool claimed = false;
};

struct run_context {
  const program_set* programs = nullptr;
  harness_options options;
  std::vector<std::unique_ptr<weft::channel<std::uint64_t>>> channels;
  std::vector<std::unique_ptr<weft::mutex>> mutexes;
  std::vector<std::unique_ptr<weft::event>> events;
  std::vector<std::unique_ptr<weft::counting_semaphore<>>> semaphores;
  std::vector<std::unique_ptr<weft::latch>> latches;
  std::vector<std::unique_ptr<future_object>> futures;
  std::vector<barrier_object> barriers;
  std::vector<std::unique_ptr<weft::shared_mutex>> shared_mutexes;
  std::vector<std::unique_ptr<weft::recursive_mutex>> recursive_mutexes;
  std::atomic<int> locals_constructed{0}, locals_destructed{0};  // every local_value
  // The future_errors the actors caught, kept until after the executor: the stored
  // broken_promise is one object, rethrown to every getter, and freed by whoever lets go of the
  // shared state last. libstdc++ counts an exception's references with atomics that
  // ThreadSanitizer does not see (it is not instrumented), so a getter still in its handler
  // while another worker drops the promise reads as a race on the exception object.
  std::mutex kept_mutex;
  std::vector<std::exception_ptr> kept_exceptions;

  std::mutex log_mutex;  // never held across a weft call
  std::vector<log_entry> log;
  std::vector<std::string> failures;

  std::atomic<std::uint32_t> next_fiber{0};
  fiber_record records[max_fibers];
  std::atomic<int> tokens_live{0};
  std::atomic<std::size_t> log_count{0};  // entries appended (the closer watches it)

  // IO: the pipes' descriptors, end x at fds[x] (see io_end), made before the run and closed
  // after it. Per direction (the end that writes it): whether its write side was shut down,
  // the writes claimed (max_io_writes), the bytes written and not yet read (the harness's own
  // count), and the actors in read_some on it.
  std::vector<int> fds;
  std::atomic<bool> shut[2 * max_pipes];
  std::atomic<std::uint32_t> io_writes[2 * max_pipes];
  std::atomic<std::int64_t> io_unread[2 * max_pipes];
  std::atomic<int> io_readers[2 * max_pipes];
  // A read_some waits until something is written or the write side is shut down, and weft
  // reports no deadlock while a fiber waits on a descriptor: while an actor is in read_some,
  // a closer fiber lives (closer_body), which shuts every write side down once the run has
  // been quiet for a while.
  std::mutex io_mutex;     // never held across a weft call
  int io_blocking = 0;     // actors in read_some
  bool closer_alive = false;
  bool io_all_shut = false;  // the closer shut everything down: no read waits any more

  void append(log_entry e) {
    std::lock_guard g(log_mutex);
    e.time_ns = steady_now_ns();  // under the lock: the log's times never decrease
    log.push_back(e);
    log_count.fetch_add(1, std::memory_order_relaxed);
  }
  void fail(std::string what) {
    std::lock_guard g(log_mutex);
    failures.push_back(std::move(what));
  }
};

void barrier_completion::operator()() noexcept {
  log_entry act{ev::act, op::bar_completion, completion_fiber, index, weft::this_fiber::id(),
                false, true};
  ctx->append(act);
}

// fiber_local: the value type of the input's fiber_locals (one process-wide object each, so
// that keys are not used up: weft never reuses one). The run in progress is current_run (one
// at a time). A value is made by a fiber's first get() (fresh: the actor then claims it, see
// actor::local), and destroyed at the fiber's end: on that fiber (its weft id), once, holding
// what the actor last wrote.
std::atomic<run_context*> current_run{nullptr};
struct local_value {
  run_context* ctx = current_run.load();
  std::size_t index;
  std::uint64_t weft_id = weft::this_fiber::id();
  std::uint32_t actor = closer_fiber;  // none yet
  std::uint64_t value = 0;
  bool fresh = true;
  explicit local_value(std::size_t i) : index(i) { ctx->locals_constructed.fetch_add(1); }
  local_value(const local_value&) = delete;
  local_value& operator=(const local_value&) = delete;
  ~local_value();
};
template <std::size_t I>
struct local_value_of : local_value {
  local_value_of() : local_value(I) {}
};
weft::fiber_local<local_value_of<0>> local_0;
weft::fiber_local<local_value_of<1>> local_1;
weft::fiber_local<local_value_of<2>> local_2;
local_value& local_get(std::size_t i) {
  switch (i) {
    case 0: return local_0.get();
    case 1: return local_1.get();
    default: return local_2.get();
  }
}

local_value::~local_value() {
  ctx->locals_destructed.fetch_add(1);
  if (actor == closer_fiber) {
    ctx->fail("fiber_local " + std::to_string(index) + ": a value nobody claimed was destroyed "
              "(made by a get() outside the actors?)");
    return;
  }
  ctx->records[actor].locals_destroyed[index].fetch_add(1);
  if (const std::uint64_t id = weft::this_fiber::id(); id != weft_id)
    ctx->fail("fiber_local " + std::to_string(index) + ": fiber " + std::to_string(actor) +
              "'s value, made on weft fiber " + std::to_string(weft_id) +
              ", was destroyed on weft fiber " + std::to_string(id));
  if (const std::uint64_t last = ctx->records[actor].local_last[index].load(); value != last)
    ctx->fail("fiber_local " + std::to_string(index) + ": fiber " + std::to_string(actor) +
              "'s value holds " + std::to_string(value) + " when destroyed, but it last wrote " +
              std::to_string(last));
}

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

// What select's callbacks saw: exactly one of them must run, the one select returns.
struct select_outcome {
  int calls = 0;
  std::size_t fired = 99;
  std::optional<std::uint64_t> got;
  bool sent = false;
};

auto recv_callback(select_outcome& out, std::size_t k) {
  return [&out, k](std::optional<std::uint64_t> v) {
    ++out.calls;
    out.fired = k;
    out.got = v;
  };
}
auto send_callback(select_outcome& out, std::size_t k) {
  return [&out, k](bool ok) {
    ++out.calls;
    out.fired = k;
    out.sent = ok;
  };
}

// How a select runs its cases: a fiber calls weft::select; a task awaits a nested task
// (select_task) that awaits weft::async_select, so the cases move into that task's frame.
struct plain_select {
  template <class... Cases>
  std::size_t operator()(Cases&&... cases) const {
    return weft::select(cases...);
  }
};
template <class... Cases>  // by value: the frame owns copies of the cases
WEFT_FUZZ_COROUTINE weft::task<std::size_t> select_task(Cases... cases) {
  co_return co_await weft::async_select(std::move(cases)...);
}
struct task_select {
  template <class... Cases>
  weft::task<std::size_t> operator()(const Cases&... cases) const {
    return select_task(cases...);
  }
};

template <class A, class B, class Run>
auto select_with(A& a, B& b, const select_shape& sh, select_outcome& out, const Run& run) {
  switch (sh.extra) {
    case select_shape::with_default:
      return run(a, b, weft::default_case([&out] {
        ++out.calls;
        out.fired = 2;
      }));
    case select_shape::with_timeout:
      return run(a, b, weft::timeout_case(sh.timeout, [&out] {
        ++out.calls;
        out.fired = 2;
      }));
    case select_shape::none:
      break;
  }
  return run(a, b);
}

template <class A, class Run>
auto select_second(A& a, weft::channel<std::uint64_t>& ch, bool sends, std::uint64_t v,
                   const select_shape& sh, select_outcome& out, const Run& run) {
  if (sends) {
    auto b = weft::send_case(ch, v, send_callback(out, 1));
    return select_with(a, b, sh, out, run);
  }
  auto b = weft::recv_case(ch, recv_callback(out, 1));
  return select_with(a, b, sh, out, run);
}

// Builds the select `sh` describes (case k sends base + k) and runs it: `run` is plain_select
// (the position select returned) or task_select (a task to await for it).
template <class Run>
auto run_select(run_context* ctx, const select_shape& sh, std::uint64_t base,
                select_outcome& out, const Run& run) {
  weft::channel<std::uint64_t>& first = *ctx->channels[sh.channel[0]];
  weft::channel<std::uint64_t>& second = *ctx->channels[sh.channel[1]];
  if (sh.sends[0]) {
    auto a = weft::send_case(first, base, send_callback(out, 0));
    return select_second(a, second, sh.sends[1], base + 1, sh, out, run);
  }
  auto a = weft::recv_case(first, recv_callback(out, 0));
  return select_second(a, second, sh.sends[1], base + 1, sh, out, run);
}

// throw_catch: the exception an actor throws is a runtime_error with this text.
std::string own_exception_text(std::uint32_t self) { return "fiber " + std::to_string(self); }

// In the handler of an exception the actor threw with own_exception_text: optionally
// suspends (a plain yield: a task cannot co_await in a handler), then `throw;` must rethrow
// that same exception, the one *this* actor is handling.
void check_handled(run_context* ctx, std::uint32_t self, const std::runtime_error& e,
                   bool yield_in_handler) {
  const std::string mine = own_exception_text(self);
  if (yield_in_handler) weft::this_fiber::yield();
  try {
    throw;  // the exception currently handled by this actor's fiber
  } catch (const std::runtime_error& again) {
    if (mine != again.what() || mine != e.what())
      ctx->fail(mine + ": after a yield in a catch handler, the handled exception is \"" +
                again.what() + "\"");
  }
}

// A fiber's throw_catch: thrown and caught on the fiber's stack.
void throw_and_catch(run_context* ctx, std::uint32_t self, bool yield_in_handler) {
  try {
    struct on_stack {
      int x = 1;
      ~on_stack() { x = 0; }
    } object;
    throw std::runtime_error(own_exception_text(self));
  } catch (const std::runtime_error& e) {
    check_handled(ctx, self, e, yield_in_handler);
  }
}

// A task's throw_catch: thrown in a nested task (after a yield there if `yield_first`), and
// rethrown into the awaiting task by its co_await.
WEFT_FUZZ_COROUTINE weft::task<void> throw_in_task(std::uint32_t self, bool yield_first) {
  struct on_frame {
    int x = 1;
    ~on_frame() { x = 0; }
  } object;
  if (yield_first) co_await weft::async_yield();
  throw std::runtime_error(own_exception_text(self));
}

// ---- IO: the closer ----------------------------------------------------------------------------

// How long the log must stay unchanged, with an actor in read_some, before the closer shuts
// every write side down (longer than any sleep or timed wait of a program, so that those
// usually end first); and for how many of its rounds after that (0.5 ms sleeps, in each of
// which the executor looks at its descriptors: counted in rounds, not time, so that a process
// the system does not run for a while is no lost wakeup) a reader may stay blocked with bytes
// to read before that is a lost wakeup.
constexpr auto closer_quiet = 3ms;
constexpr int lost_wakeup_rounds = 200;

// Shuts down the write side of every end not shut down yet (each reader then sees its
// direction's bytes, then the end of file), logging each.
void shut_down_all(run_context* ctx) {
  for (std::uint32_t x = 0; x < ctx->fds.size(); ++x) {
    if (ctx->shut[x].exchange(true)) continue;
    const int r = ::shutdown(ctx->fds[x], SHUT_WR);
    log_entry act{ev::act, op::io_shutdown, closer_fiber, x, 0, false, r == 0};
    if (r != 0) act.thrown = log_entry::other;
    ctx->append(act);
  }
}

// The closer: a harness fiber (not an actor: not in the model, never counted among the
// program's fibers) alive while some actor is in read_some, so that every input ends. It
// sleeps in steps of 0.5 ms; when no actor is in read_some any more it ends (weft can then
// report a deadlock of the rest: it never does while a fiber waits on a descriptor, nor while
// the closer sleeps); when the log has not changed for closer_quiet it shuts every write side
// down, logged (io_shutdown by closer_fiber), and ends: every read then returns. Before that it
// checks that no reader is blocked on a direction with unread bytes (weft wakes every fiber
// waiting on a descriptor that becomes readable), which after lost_wakeup_rounds is a failure.
void closer_body(run_context* ctx, capture_token) {
  weft::this_fiber::set_name("<fz-closer>");
  std::size_t seen = ctx->log_count.load();
  auto quiet_since = std::chrono::steady_clock::now();
  int stuck_rounds = 0;
  try {
    for (;;) {
      weft::this_fiber::sleep_for(500us);
      {
        std::lock_guard g(ctx->io_mutex);
        if (ctx->io_blocking == 0) {
          ctx->closer_alive = false;
          return;
        }
      }
      const auto now = std::chrono::steady_clock::now();
      if (const std::size_t n = ctx->log_count.load(); n != seen) {
        seen = n;
        quiet_since = now;
        stuck_rounds = 0;
        continue;
      }
      if (now - quiet_since < closer_quiet) continue;
      std::string stuck;
      for (std::uint32_t d = 0; d < ctx->fds.size(); ++d)
        if (ctx->io_readers[d].load() > 0 && ctx->io_unread[d].load() > 0)
          stuck += " " + std::to_string(ctx->io_readers[d].load()) + " in read_some on " +
                   end_text(d ^ 1) + " with " + std::to_string(ctx->io_unread[d].load()) +
                   " bytes to read;";
      if (!stuck.empty() && ++stuck_rounds < lost_wakeup_rounds) continue;
      if (!stuck.empty())
        ctx->fail("lost wakeup: nothing happened for " +
                  std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     now - quiet_since).count()) +
                  " ms, and actors are blocked while there is something to read:" + stuck);
      {
        std::lock_guard g(ctx->io_mutex);
        ctx->io_all_shut = true;
        ctx->closer_alive = false;
      }
      shut_down_all(ctx);
      return;
    }
  } catch (const weft::operation_cancelled&) {
    ctx->fail("the closer's sleep was cancelled (nobody requests a stop for it)");
    {
      std::lock_guard g(ctx->io_mutex);
      ctx->io_all_shut = true;
      ctx->closer_alive = false;
    }
    shut_down_all(ctx);
  }
}

// Around an actor's read_some on direction d (made before its begin is logged): a closer is
// alive while it lasts.
class io_read_guard {
 public:
  io_read_guard(run_context* ctx, std::uint32_t direction) : ctx_(ctx), direction_(direction) {
    bool spawn = false;
    {
      std::lock_guard g(ctx->io_mutex);
      ++ctx->io_blocking;
      if (!ctx->closer_alive && !ctx->io_all_shut) spawn = ctx->closer_alive = true;
    }
    ctx->io_readers[direction].fetch_add(1);
    // Detached: it ends by itself (above). weft::spawn runs it first, up to its sleep.
    if (!spawn) return;
    try {
      weft::spawn(&closer_body, ctx, capture_token(ctx)).detach();
    } catch (...) {
      {
        std::lock_guard g(ctx->io_mutex);
        ctx->closer_alive = false;
        --ctx->io_blocking;
      }
      ctx->io_readers[direction].fetch_sub(1);
      throw;
    }
  }
  io_read_guard(const io_read_guard&) = delete;
  io_read_guard& operator=(const io_read_guard&) = delete;
  ~io_read_guard() {
    ctx_->io_readers[direction_].fetch_sub(1);
    std::lock_guard g(ctx_->io_mutex);
    --ctx_->io_blocking;
  }

 private:
  run_context* ctx_;
  std::uint32_t direction_;
};

// What an IO call threw: broken_pipe (a write after shutdown), or something else.
log_entry::thrown_kind io_thrown(const std::system_error& e) {
  return e.code() == std::errc::broken_pipe ? log_entry::broken_pipe : log_entry::other;
}

// ---- the actors: fibers and tasks -------------------------------------------------------------

// Each actor (a root, or spawned by a `spawn` op) runs one program, as a fiber (fiber_body) or,
// when the input marks its program (program_set::tasks), as a weft::task (task_body). Both
// interpreters share the class `actor` below: the actor's state, every log entry, and every
// instruction except the waits that have an awaitable twin (the `twin` ops), which a fiber
// makes with the plain call and a task with `co_await` of the twin. The model cannot tell
// them apart: a task logs exactly what a fiber would.
std::uint64_t fiber_body(run_context* ctx, std::uint32_t self, std::size_t program,
                         capture_token);
weft::task<std::uint64_t> task_body(run_context* ctx, std::uint32_t self, std::size_t program,
                                    capture_token);

// Spawns actor `self` running `program`, as a task or a fiber, with `spawn` (weft::spawn or
// an executor's spawn).
template <class Spawn>
weft::join_handle<std::uint64_t> spawn_actor(run_context* ctx, std::uint32_t self,
                                             std::size_t program, const Spawn& spawn) {
  ctx->records[self].program = program;
  // Passed as parameters: a task's frame keeps copies (the capture_token too, so the check
  // sees the frame destroyed).
  if (ctx->programs->tasks[program])
    return spawn(task_body(ctx, self, program, capture_token(ctx)));
  return spawn(&fiber_body, ctx, self, program, capture_token(ctx));
}

// The instructions whose wait a task makes through an awaitable twin.
enum class twin : std::uint8_t {
  none, yield, sleep, send, recv, lock, wait, join, select, throw_catch, io_write, io_read,
  io_wait
};

class actor {
 public:
  actor(run_context* ctx, std::uint32_t self, std::size_t program)
      : ctx_(ctx), ps_(*ctx->programs), self_(self), program_(program) {
    weft::this_fiber::set_name("<fz" + std::to_string(self) + ">");
    ctx->append({ev::start, op::count, self, 0, weft::this_fiber::id(), false, false});
    for (auto& m : ctx->mutexes) locks_.emplace_back(*m, std::defer_lock);
  }
  actor(const actor&) = delete;
  actor& operator=(const actor&) = delete;
  // After finish() it holds nothing; when the executor unwinds it (after a deadlock), what it
  // holds of the shared and recursive mutexes is released here, unlogged (weft::mutex's by
  // locks_).
  ~actor() {
    for (std::uint32_t i = 0; i < ps_.vocab.shared_mutexes; ++i) {
      if (sm_exclusive_[i]) ctx_->shared_mutexes[i]->unlock();
      for (; sm_shared_[i] > 0; --sm_shared_[i]) ctx_->shared_mutexes[i]->unlock_shared();
    }
    for (std::uint32_t i = 0; i < ps_.vocab.recursive_mutexes; ++i)
      for (; rm_depth_[i] > 0; --rm_depth_[i]) ctx_->recursive_mutexes[i]->unlock();
  }

  const std::vector<instr>& instructions() const { return ps_.programs[program_]; }

  // Which twin `in` is (twin::none: step() does it, in either kind of actor).
  twin twin_of(const instr& in) const {
    switch (in.code) {
      case op::yield: return twin::yield;
      case op::sleep: return sleeps_ < max_sleeps_per_fiber ? twin::sleep : twin::yield;
      case op::send: return twin::send;
      case op::recv: return twin::recv;
      case op::lock: return twin::lock;
      case op::wait: return twin::wait;
      case op::join: return children_.empty() ? twin::none : twin::join;
      case op::select: return twin::select;
      case op::throw_catch: return twin::throw_catch;
      case op::io_write: return twin::io_write;
      case op::io_read: return twin::io_read;
      case op::io_wait: return twin::io_wait;
      default: return twin::none;
    }
  }

  weft::channel<std::uint64_t>& channel(const instr& in) const {
    return *ctx_->channels[in.arg % ps_.channel_capacity.size()];
  }
  weft::mutex& mutex(const instr& in) const { return *ctx_->mutexes[in.arg % ps_.mutexes]; }
  weft::event& event(const instr& in) const { return *ctx_->events[in.arg % ps_.events]; }

  // The twins' log entries, around the wait each interpreter makes its own way.
  std::chrono::microseconds begin_sleep(const instr& in) {
    ++sleeps_;
    log_begin({ev::begin, op::sleep, self_, 0, 0, false, false,
               static_cast<std::uint32_t>(sleep_duration(in.arg).count())});
    return sleep_duration(in.arg);
  }
  void end_sleep() { ctx_->append({ev::end, op::sleep, self_, 0, 0, false, false}); }

  std::uint64_t begin_send(const instr& in) {
    const std::uint64_t v = make_value(self_, seq_++);
    log_begin({ev::begin, op::send, self_, channel_of(in), v, false, false});
    return v;
  }
  void end_send(const instr& in, std::uint64_t v, bool ok) {
    ctx_->append({ev::end, op::send, self_, channel_of(in), v, false, ok});
  }

  void begin_recv(const instr& in) {
    log_begin({ev::begin, op::recv, self_, channel_of(in), 0, false, false});
  }
  void end_recv(const instr& in, std::optional<std::uint64_t> v) {
    ctx_->append({ev::end, op::recv, self_, channel_of(in), v.value_or(0), v.has_value(), false});
  }

  // lock: mutex(in).lock() (or its twin) between these. Locking one it holds waits forever
  // (weft's mutex is not recursive); should it return, the actor still unlocks it once.
  void begin_lock(const instr& in) {
    log_begin({ev::begin, op::lock, self_, mutex_of(in), 0, false, false});
  }
  void end_lock(const instr& in) {
    const std::uint32_t m = mutex_of(in);
    if (!locks_[m].owns_lock()) locks_[m] = std::unique_lock(*ctx_->mutexes[m], std::adopt_lock);
    ctx_->append({ev::end, op::lock, self_, m, 0, false, false});
  }

  void begin_wait(const instr& in) {
    log_begin({ev::begin, op::wait, self_, event_of(in), 0, false, false});
  }
  void end_wait(const instr& in) {
    ctx_->append({ev::end, op::wait, self_, event_of(in), 0, false, false});
  }

  // join (only when twin_of said so: there is a child): the child's handle, to join.
  struct joining {
    std::uint32_t child;
    weft::join_handle<std::uint64_t> handle;
  };
  joining begin_join(const instr& in) {
    auto it = pick_child(in);
    joining j{it->first, std::move(it->second)};
    children_.erase(it);
    log_begin({ev::begin, op::join, self_, j.child, 0, false, false});
    return j;
  }
  void end_join(const joining& j, std::uint64_t r) {
    // The child's fiber_local values are destroyed before its join returns.
    for (std::size_t i = 0; i < max_locals; ++i) {
      const int made = ctx_->records[j.child].locals_made[i].load();
      const int destroyed = ctx_->records[j.child].locals_destroyed[i].load();
      if (made != destroyed)
        ctx_->fail("fiber " + std::to_string(self_) + ": the join of fiber " +
                   std::to_string(j.child) + " returned with " + std::to_string(made) +
                   " of its fiber_local " + std::to_string(i) + " values made and " +
                   std::to_string(destroyed) + " destroyed");
    }
    ctx_->append({ev::end, op::join, self_, j.child, r, true, false});
  }

  // select: run_select(ctx, s.shape, s.base, s.out, plain_select or task_select) between
  // these; `s` stays where it is while the select runs (its callbacks write s.out).
  struct selecting {
    std::uint8_t arg;
    select_shape shape;
    std::uint64_t base;
    select_outcome out;
  };
  selecting begin_select(const instr& in) {
    selecting s{in.arg, decode_select(in.arg, ps_.channel_capacity.size()),
                make_value(self_, seq_), {}};
    seq_ += 2;
    log_begin({ev::begin, op::select, self_, in.arg, s.base, false, false});
    return s;
  }
  void end_select(const selecting& s, std::size_t index) {
    const std::string who = "fiber " + std::to_string(self_);
    if (s.out.calls != 1 || index != s.out.fired)
      ctx_->fail(who + ": select returned " + std::to_string(index) + " but " +
                 std::to_string(s.out.calls) + " callbacks ran (the last: case " +
                 std::to_string(s.out.fired) + ")");
    if (index == 2 && s.shape.extra == select_shape::none)
      ctx_->fail(who + ": select fired case 2, which it lacks");
    log_entry end{ev::end, op::select, self_, s.arg, 0, false, false, 0};
    end.fired = static_cast<std::uint32_t>(index);
    if (index < 2 && s.shape.sends[index]) {
      end.value = s.base + index;
      end.result = s.out.sent;
    } else if (index < 2) {
      end.value = s.out.got.value_or(0);
      end.has_value = s.out.got.has_value();
    }
    ctx_->append(end);
  }

  // IO. io_write: write_all of the next message of the end's direction (its k-th write: the
  // bytes io_byte_of(k, j)), unless max_io_writes were claimed (skipped: nothing logged); an
  // act, logged after the call (it never waits: see max_io_writes).
  struct io_writing {
    std::uint32_t end;
    int fd;
    bool skipped;
    std::size_t length;
    std::uint64_t packed;  // the bytes, byte j in bits 8j..8j+7
    std::array<std::byte, 4> bytes;
    std::span<const std::byte> data() const { return {bytes.data(), length}; }
  };
  io_writing begin_io_write(const instr& in) {
    io_writing w{};
    w.end = io_end(in.arg, ps_.pipes);
    w.fd = ctx_->fds[w.end];
    w.length = io_write_length(in.arg);
    const std::uint32_t k = ctx_->io_writes[w.end].fetch_add(1);
    w.skipped = k >= max_io_writes;
    for (std::size_t j = 0; j < w.length; ++j) {
      w.bytes[j] = std::byte{io_byte_of(k, j)};
      w.packed |= std::uint64_t{io_byte_of(k, j)} << (8 * j);
    }
    return w;
  }
  void end_io_write(const io_writing& w, log_entry::thrown_kind t) {
    if (t == log_entry::none) ctx_->io_unread[w.end].fetch_add(static_cast<std::int64_t>(w.length));
    log_entry act{ev::act, op::io_write, self_, w.end, w.packed, false, t == log_entry::none,
                  static_cast<std::uint32_t>(w.length)};
    act.thrown = t;
    ctx_->append(act);
  }

  // io_read: read_some into a buffer of 1-8 bytes, inside an io_read_guard for the direction
  // it reads (read_direction).
  struct io_reading {
    std::uint32_t end;
    int fd;
    std::size_t size;
    std::array<std::byte, 8> buffer;
    std::span<std::byte> space() { return {buffer.data(), size}; }
  };
  std::uint32_t read_direction(const instr& in) const { return io_end(in.arg, ps_.pipes) ^ 1; }
  io_reading begin_io_read(const instr& in) {
    io_reading r{};
    r.end = io_end(in.arg, ps_.pipes);
    r.fd = ctx_->fds[r.end];
    r.size = io_read_buffer(in.arg);
    log_begin({ev::begin, op::io_read, self_, r.end, 0, false, false,
               static_cast<std::uint32_t>(r.size)});
    return r;
  }
  void end_io_read(const io_reading& r, std::size_t n) {
    std::uint64_t packed = 0;
    for (std::size_t j = 0; j < n && j < r.size; ++j)
      packed |= std::uint64_t{std::to_integer<std::uint8_t>(r.buffer[j])} << (8 * j);
    ctx_->io_unread[r.end ^ 1].fetch_sub(static_cast<std::int64_t>(n));
    ctx_->append({ev::end, op::io_read, self_, r.end, packed, false, false,
                  static_cast<std::uint32_t>(n)});
  }

  // io_wait: wait_readable(end, limit).
  struct io_waiting {
    std::uint32_t end;
    int fd;
    std::chrono::microseconds limit;
  };
  io_waiting begin_io_wait(const instr& in) {
    io_waiting w{io_end(in.arg, ps_.pipes), 0, io_limit(in.arg)};
    w.fd = ctx_->fds[w.end];
    log_begin({ev::begin, op::io_wait, self_, w.end, 0, false, false,
               static_cast<std::uint32_t>(w.limit.count())});
    return w;
  }
  void end_io_wait(const io_waiting& w, bool ready) {
    ctx_->append({ev::end, op::io_wait, self_, w.end, 0, false, ready});
  }

  // throw_catch: bit 0 of the argument, yield in the handler; bit 1 (tasks only), the nested
  // task that throws yields first.
  bool yield_in_handler(const instr& in) const {
    return (in.arg & 1) && !ctx_->options.no_handler_yield;
  }
  static bool yield_before_throw(const instr& in) { return (in.arg & 2) != 0; }

  // Every other instruction: the ones that do not wait, and the waits without a twin (the
  // timed ones, semaphores, latches), which a task makes with the plain call as well (it runs
  // on a fiber of its own).
  void step(const instr& in);

  // A stop request ended the call in progress (operation_cancelled): its end says so, and the
  // program ends here.
  void cancelled() {
    log_entry end{ev::end, pending_.code, self_, pending_.obj, pending_.value, false, false};
    end.fired = 3;  // select: no case fired
    end.cancelled = true;
    ctx_->append(end);
  }
  void unexpected(const std::exception& e) {
    ctx_->fail("fiber " + std::to_string(self_) + ": unexpected exception: " + e.what());
  }

  // The program's end: unlocks what it holds, logs the finish; returns the actor's result.
  // Unjoined children are detached when the actor is destroyed.
  std::uint64_t finish() {
    for (std::size_t i = 0; i < locks_.size(); ++i) {
      if (!locks_[i].owns_lock()) continue;
      locks_[i].unlock();
      ctx_->append({ev::act, op::unlock, self_, static_cast<std::uint32_t>(i), 0, false, false});
    }
    // The shared and recursive mutexes it holds, as unlock ops would (logged).
    for (std::uint32_t i = 0; i < ps_.vocab.shared_mutexes; ++i) {
      if (sm_exclusive_[i]) step({op::sm_unlock, static_cast<std::uint8_t>(i)});
      while (sm_shared_[i] > 0) step({op::sm_unlock_shared, static_cast<std::uint8_t>(i)});
    }
    for (std::uint32_t i = 0; i < ps_.vocab.recursive_mutexes; ++i)
      while (rm_depth_[i] > 0) step({op::rm_unlock, static_cast<std::uint8_t>(i)});
    const std::uint64_t result = expected_result(self_);
    ctx_->append({ev::finish, op::count, self_, 0, result, false, false});
    return result;
  }

 private:
  using child_list = std::vector<std::pair<std::uint32_t, weft::join_handle<std::uint64_t>>>;

  std::uint32_t channel_of(const instr& in) const {
    return in.arg % static_cast<std::uint32_t>(ps_.channel_capacity.size());
  }
  std::uint32_t mutex_of(const instr& in) const {
    return in.arg % static_cast<std::uint32_t>(ps_.mutexes);
  }
  std::uint32_t event_of(const instr& in) const {
    return in.arg % static_cast<std::uint32_t>(ps_.events);
  }
  // The `arg % n`-th newest unjoined child (join, detach, stop); children_ is not empty.
  child_list::iterator pick_child(const instr& in) {
    return children_.end() - 1 - static_cast<std::ptrdiff_t>(in.arg % children_.size());
  }
  void log_begin(log_entry e) {
    pending_ = e;  // the begin of the blocking call in progress
    ctx_->append(e);
  }

  run_context* ctx_;
  const program_set& ps_;
  std::uint32_t self_;
  std::size_t program_;
  child_list children_;
  std::vector<std::unique_lock<weft::mutex>> locks_;
  std::uint32_t seq_ = 0;
  int sleeps_ = 0;
  log_entry pending_{};
  // The vocabulary: the futures it claimed (an empty one if another actor had), what it holds
  // of each shared mutex (exclusively, how many times shared) and recursive mutex (depth), and
  // per fiber_local whether its value was made and what it last wrote.
  std::array<bool, 4> future_tried_{};
  std::array<weft::future<std::uint64_t>, 4> futures_{};
  std::array<bool, 4> sm_exclusive_{};
  std::array<int, 4> sm_shared_{};
  std::array<int, 4> rm_depth_{};
  std::array<bool, max_locals> local_made_{};
  std::array<std::uint64_t, max_locals> local_written_{};

  weft::future<std::uint64_t>& claim_future(std::uint32_t i) {
    if (!future_tried_[i]) {
      future_tried_[i] = true;
      future_object& f = *ctx_->futures[i];
      std::lock_guard g(f.mutex);
      if (!f.claimed) {
        f.claimed = true;
        futures_[i] = std::move(f.future);
      }
    }
    return futures_[i];
  }
  // The actor's value of fiber_local i: made by this get() (fresh: claimed for this actor, the
  // first time only), or the one it made before, never another actor's.
  local_value& local(std::uint32_t i) {
    local_value& v = local_get(i);
    if (v.fresh) {
      v.fresh = false;
      v.actor = self_;
      if (local_made_[i])
        ctx_->fail("fiber " + std::to_string(self_) + ": fiber_local " + std::to_string(i) +
                   " made a second value for it (the first one is lost)");
      local_made_[i] = true;
      ctx_->records[self_].locals_made[i].fetch_add(1);
    } else if (v.actor != self_) {
      ctx_->fail("fiber " + std::to_string(self_) + ": fiber_local " + std::to_string(i) +
                 " gave it fiber " + std::to_string(v.actor) + "'s value");
    }
    return v;
  }
};

void actor::step(const instr& in) {
  run_context* const ctx = ctx_;
  const program_set& ps = ps_;
  const std::uint32_t self = self_;
  const std::uint32_t c = channel_of(in), m = mutex_of(in), e = event_of(in);
  switch (in.code) {
    case op::spawn: {
      const std::uint32_t child = ctx->next_fiber.fetch_add(1);
      if (child >= max_fibers) break;
      const std::size_t p = in.arg % ps.programs.size();
      ctx->append({ev::spawn, op::spawn, self, child, 0, false, false});
      children_.emplace_back(child, spawn_actor(ctx, child, p, [](auto&&... a) {
                               return weft::spawn(std::forward<decltype(a)>(a)...);
                             }));
      break;
    }
    case op::try_send: {
      std::uint64_t v = make_value(self, seq_++);
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
    case op::unlock:
      if (!locks_[m].owns_lock()) break;
      locks_[m].unlock();
      ctx->append({ev::act, op::unlock, self, m, 0, false, false});
      break;
    case op::set:
      ctx->events[e]->set();
      ctx->append({ev::act, op::set, self, e, 0, false, false});
      break;
    case op::stop: {
      if (children_.empty()) break;
      auto& [child, handle] = *pick_child(in);
      const bool first = handle.request_stop();
      ctx->append({ev::act, op::stop, self, child, 0, false, first});
      break;
    }
    case op::detach: {
      if (children_.empty()) break;
      auto it = pick_child(in);
      it->second.detach();
      ctx->append({ev::act, op::detach, self, it->first, 0, false, false});
      children_.erase(it);
      break;
    }
    case op::recv_for: {
      log_begin({ev::begin, op::recv_for, self, c, 0, false, false, limit_us(in.arg)});
      const std::optional<std::uint64_t> v = ctx->channels[c]->recv_for(timed_duration(in.arg));
      ctx->append({ev::end, op::recv_for, self, c, v.value_or(0), v.has_value(), false});
      break;
    }
    case op::send_for: {
      std::uint64_t v = make_value(self, seq_++);
      const std::uint64_t sent = v;
      log_begin({ev::begin, op::send_for, self, c, sent, false, false, limit_us(in.arg)});
      const bool ok = ctx->channels[c]->send_for(v, timed_duration(in.arg));
      ctx->append({ev::end, op::send_for, self, c, sent, false, ok});
      break;
    }
    case op::wait_for: {
      log_begin({ev::begin, op::wait_for, self, e, 0, false, false, limit_us(in.arg)});
      const bool ok = ctx->events[e]->wait_for(timed_duration(in.arg));
      ctx->append({ev::end, op::wait_for, self, e, 0, false, ok});
      break;
    }
    case op::lock_for: {
      log_begin({ev::begin, op::lock_for, self, m, 0, false, false, limit_us(in.arg)});
      bool ok;
      if (locks_[m].owns_lock()) {
        // Not recursive: it can only time out. Should it return true anyway, the model
        // reports it; the actor then still unlocks once.
        ok = ctx->mutexes[m]->try_lock_for(timed_duration(in.arg));
      } else {
        ok = locks_[m].try_lock_for(timed_duration(in.arg));
      }
      ctx->append({ev::end, op::lock_for, self, m, 0, false, ok});
      break;
    }
    case op::sem_acquire: {
      const std::uint32_t s = sync_object(in.arg, ps.semaphores.size());
      log_begin({ev::begin, op::sem_acquire, self, s, 0, false, false});
      ctx->semaphores[s]->acquire();
      ctx->append({ev::end, op::sem_acquire, self, s, 0, false, true});
      break;
    }
    case op::sem_acquire_for: case op::sem_acquire_until: {
      const std::uint32_t s = sync_object(in.arg, ps.semaphores.size());
      log_begin({ev::begin, in.code, self, s, 0, false, false, limit_us_sync(in.arg)});
      // The time point is taken after the begin was logged: the deadline is at least the
      // begin's time plus the limit, as for the _for form.
      const bool ok = in.code == op::sem_acquire_for
                          ? ctx->semaphores[s]->try_acquire_for(timed_duration_sync(in.arg))
                          : ctx->semaphores[s]->try_acquire_until(
                                std::chrono::steady_clock::now() + timed_duration_sync(in.arg));
      ctx->append({ev::end, in.code, self, s, 0, false, ok});
      break;
    }
    case op::sem_try_acquire: {
      const std::uint32_t s = sync_object(in.arg, ps.semaphores.size());
      const bool ok = ctx->semaphores[s]->try_acquire();
      ctx->append({ev::act, op::sem_try_acquire, self, s, 0, false, ok});
      break;
    }
    case op::sem_release: {
      const std::uint32_t s = sync_object(in.arg, ps.semaphores.size());
      const std::ptrdiff_t n = sync_amount(in.arg);
      log_entry act{ev::act, op::sem_release, self, s, static_cast<std::uint64_t>(n), false,
                    false};
      act.thrown = what_throws([&] { ctx->semaphores[s]->release(n); });
      act.result = act.thrown == log_entry::none;
      ctx->append(act);
      break;
    }
    case op::latch_count_down: {
      const std::uint32_t l = sync_object(in.arg, ps.latches.size());
      const std::ptrdiff_t n = sync_amount(in.arg);
      log_entry act{ev::act, op::latch_count_down, self, l, static_cast<std::uint64_t>(n),
                    false, false};
      act.thrown = what_throws([&] { ctx->latches[l]->count_down(n); });
      act.result = act.thrown == log_entry::none;
      ctx->append(act);
      break;
    }
    case op::latch_try_wait: {
      const std::uint32_t l = sync_object(in.arg, ps.latches.size());
      const bool ok = ctx->latches[l]->try_wait();
      ctx->append({ev::act, op::latch_try_wait, self, l, 0, false, ok});
      break;
    }
    case op::latch_wait: {
      const std::uint32_t l = sync_object(in.arg, ps.latches.size());
      log_begin({ev::begin, op::latch_wait, self, l, 0, false, false});
      ctx->latches[l]->wait();
      ctx->append({ev::end, op::latch_wait, self, l, 0, false, true});
      break;
    }
    case op::latch_wait_for: case op::latch_wait_until: {
      const std::uint32_t l = sync_object(in.arg, ps.latches.size());
      log_begin({ev::begin, in.code, self, l, 0, false, false, limit_us_sync(in.arg)});
      const bool ok = in.code == op::latch_wait_for
                          ? ctx->latches[l]->wait_for(timed_duration_sync(in.arg))
                          : ctx->latches[l]->wait_until(std::chrono::steady_clock::now() +
                                                        timed_duration_sync(in.arg));
      ctx->append({ev::end, in.code, self, l, 0, false, ok});
      break;
    }
    case op::latch_arrive_and_wait: {
      const std::uint32_t l = sync_object(in.arg, ps.latches.size());
      const std::ptrdiff_t n = sync_amount(in.arg);
      log_begin({ev::begin, op::latch_arrive_and_wait, self, l, static_cast<std::uint64_t>(n),
                 false, false});
      log_entry end{ev::end, op::latch_arrive_and_wait, self, l, static_cast<std::uint64_t>(n),
                    false, false};
      end.thrown = what_throws([&] { ctx->latches[l]->arrive_and_wait(n); });
      end.result = end.thrown == log_entry::none;
      ctx->append(end);
      break;
    }
    case op::io_shutdown: {
      const std::uint32_t x = io_end(in.arg, ps.pipes);
      ctx->shut[x].store(true);
      const int r = ::shutdown(ctx->fds[x], SHUT_WR);
      log_entry act{ev::act, op::io_shutdown, self, x, 0, false, r == 0};
      if (r != 0) act.thrown = log_entry::other;
      ctx->append(act);
      break;
    }
    case op::fut_set: case op::fut_drop: {
      const std::uint32_t i = vocab_object(ps, in);
      future_object& f = *ctx->futures[i];
      log_entry act{ev::act, in.code, self, i, 0, false, false};
      std::lock_guard g(f.mutex);  // logged under it: the log has the promise's calls in order
      if (in.code == op::fut_set) {
        act.value = make_value(self, seq_++);
        act.thrown = what_throws([&] { f.promise->set_value(act.value); });
        act.result = act.thrown == log_entry::none;
      } else {
        weft::promise<std::uint64_t> dropped = std::move(*f.promise);  // moved-from: no_state
        act.result = true;
      }  // `dropped` is destroyed here: broken_promise if nothing was set
      ctx->append(act);
      break;
    }
    case op::fut_get: case op::fut_wait: case op::fut_wait_for: {
      const std::uint32_t i = vocab_object(ps, in);
      weft::future<std::uint64_t>& f = claim_future(i);
      log_entry begin{ev::begin, in.code, self, i, f.valid(), false, false};
      if (in.code == op::fut_wait_for)
        begin.fired = static_cast<std::uint32_t>(future_limit(in.arg).count());
      log_begin(begin);
      log_entry end{ev::end, in.code, self, i, 0, false, false};
      end.thrown = what_throws([&] {
        try {
          if (in.code == op::fut_get) {
            end.value = f.get();
            end.has_value = true;
            end.result = true;
          } else if (in.code == op::fut_wait) {
            f.wait();
            end.result = true;
          } else {
            end.result = f.wait_for(future_limit(in.arg)) == std::future_status::ready;
          }
        } catch (const std::future_error&) {
          std::lock_guard g(ctx->kept_mutex);  // see run_context::kept_exceptions
          ctx->kept_exceptions.push_back(std::current_exception());
          throw;
        }
      });
      ctx->append(end);
      break;
    }
    case op::bar_arrive_and_wait: case op::bar_arrive_and_drop: {
      const std::uint32_t i = vocab_object(ps, in);
      log_begin({ev::begin, in.code, self, i, 0, false, false});
      log_entry end{ev::end, in.code, self, i, 0, false, false};
      end.thrown = what_throws([&] {
        if (in.code == op::bar_arrive_and_wait) ctx->barriers[i].arrive_and_wait();
        else ctx->barriers[i].arrive_and_drop();
      });
      end.result = end.thrown == log_entry::none;
      ctx->append(end);
      break;
    }
    case op::bar_completion:  // only logged, by the completion function
      break;
    case op::sm_lock: case op::sm_lock_shared: {
      const std::uint32_t i = vocab_object(ps, in);
      log_begin({ev::begin, in.code, self, i, 0, false, false});
      if (in.code == op::sm_lock) {
        ctx->shared_mutexes[i]->lock();
        sm_exclusive_[i] = true;
      } else {
        ctx->shared_mutexes[i]->lock_shared();
        ++sm_shared_[i];
      }
      ctx->append({ev::end, in.code, self, i, 0, false, true});
      break;
    }
    case op::sm_unlock: case op::sm_unlock_shared: {
      // Only what it holds (unlocking a lock another actor holds would take it from them:
      // weft's shared_mutex has no owner).
      const std::uint32_t i = vocab_object(ps, in);
      const bool exclusive = in.code == op::sm_unlock;
      if (exclusive ? !sm_exclusive_[i] : sm_shared_[i] == 0) break;
      log_entry act{ev::act, in.code, self, i, 0, false, false};
      act.thrown = what_throws([&] {
        if (exclusive) ctx->shared_mutexes[i]->unlock();
        else ctx->shared_mutexes[i]->unlock_shared();
      });
      act.result = act.thrown == log_entry::none;
      if (exclusive) sm_exclusive_[i] = false;
      else --sm_shared_[i];
      ctx->append(act);
      break;
    }
    case op::sm_try_lock: case op::sm_try_lock_shared: {
      const std::uint32_t i = vocab_object(ps, in);
      const bool exclusive = in.code == op::sm_try_lock;
      const bool ok = exclusive ? ctx->shared_mutexes[i]->try_lock()
                                : ctx->shared_mutexes[i]->try_lock_shared();
      if (ok && exclusive) sm_exclusive_[i] = true;
      if (ok && !exclusive) ++sm_shared_[i];
      ctx->append({ev::act, in.code, self, i, 0, false, ok});
      break;
    }
    case op::rm_lock: {
      const std::uint32_t i = vocab_object(ps, in);
      log_begin({ev::begin, op::rm_lock, self, i, 0, false, false});
      ctx->recursive_mutexes[i]->lock();
      ++rm_depth_[i];
      ctx->append({ev::end, op::rm_lock, self, i, 0, false, true});
      break;
    }
    case op::rm_try_lock: {
      const std::uint32_t i = vocab_object(ps, in);
      const bool ok = ctx->recursive_mutexes[i]->try_lock();
      if (ok) ++rm_depth_[i];
      ctx->append({ev::act, op::rm_try_lock, self, i, 0, false, ok});
      break;
    }
    case op::rm_unlock: {
      // Also when it holds none: then another owner's lock (or none) must make it throw
      // std::logic_error, and nothing changes.
      const std::uint32_t i = vocab_object(ps, in);
      log_entry act{ev::act, op::rm_unlock, self, i, 0, false, false};
      act.thrown = what_throws([&] { ctx->recursive_mutexes[i]->unlock(); });
      act.result = act.thrown == log_entry::none;
      if (act.result && rm_depth_[i] > 0) --rm_depth_[i];
      ctx->append(act);
      break;
    }
    case op::fl_write: {
      const std::uint32_t i = vocab_object(ps, in);
      local_value& v = local(i);
      // Never 0 (what a fresh value holds): the top bit set.
      v.value = local_written_[i] = make_value(self, seq_++) | (std::uint64_t{1} << 63);
      ctx->records[self].local_last[i].store(v.value);
      ctx->append({ev::act, op::fl_write, self, i, v.value, false, true});
      break;
    }
    case op::fl_read: {
      const std::uint32_t i = vocab_object(ps, in);
      const std::uint64_t got = local(i).value;
      if (got != local_written_[i])
        ctx->fail("fiber " + std::to_string(self) + ": fiber_local " + std::to_string(i) +
                  " reads " + std::to_string(got) + ", but the fiber last wrote " +
                  std::to_string(local_written_[i]));
      ctx->append({ev::act, op::fl_read, self, i, got, true, got == local_written_[i]});
      break;
    }
    case op::io_write: case op::io_read: case op::io_wait:  // twins
      break;
    case op::join:  // without a child to join (twin_of)
    case op::yield: case op::sleep: case op::send: case op::recv: case op::lock: case op::wait:
    case op::select: case op::throw_catch:  // twins: the interpreters do them
    case op::count:
      break;
  }
}

// The fiber interpreter: the twin ops as plain blocking calls.
std::uint64_t fiber_body(run_context* ctx, std::uint32_t self, std::size_t program,
                         capture_token) {
  life_guard guard{ctx, self};  // first: destroyed last
  actor a(ctx, self, program);
  try {
    for (const instr& in : a.instructions()) {
      switch (a.twin_of(in)) {
        case twin::none: a.step(in); break;
        case twin::yield: weft::this_fiber::yield(); break;
        case twin::sleep:
          weft::this_fiber::sleep_for(a.begin_sleep(in));
          a.end_sleep();
          break;
        case twin::send: {
          const std::uint64_t v = a.begin_send(in);
          a.end_send(in, v, a.channel(in).send(v));
          break;
        }
        case twin::recv:
          a.begin_recv(in);
          a.end_recv(in, a.channel(in).recv());
          break;
        case twin::lock:
          a.begin_lock(in);
          a.mutex(in).lock();
          a.end_lock(in);
          break;
        case twin::wait:
          a.begin_wait(in);
          a.event(in).wait();
          a.end_wait(in);
          break;
        case twin::join: {
          actor::joining j = a.begin_join(in);
          a.end_join(j, j.handle.join());
          break;
        }
        case twin::select: {
          actor::selecting s = a.begin_select(in);
          a.end_select(s, run_select(ctx, s.shape, s.base, s.out, plain_select{}));
          break;
        }
        case twin::throw_catch:
          throw_and_catch(ctx, self, a.yield_in_handler(in));
          break;
        case twin::io_write: {
          const actor::io_writing w = a.begin_io_write(in);
          if (w.skipped) break;
          log_entry::thrown_kind t = log_entry::none;
          try {
            weft::io::write_all(w.fd, w.data());
          } catch (const std::system_error& e) {
            t = io_thrown(e);
          }
          a.end_io_write(w, t);
          break;
        }
        case twin::io_read: {
          io_read_guard guard(ctx, a.read_direction(in));
          actor::io_reading r = a.begin_io_read(in);
          a.end_io_read(r, weft::io::read_some(r.fd, r.space()));
          break;
        }
        case twin::io_wait: {
          const actor::io_waiting w = a.begin_io_wait(in);
          a.end_io_wait(w, weft::io::wait_readable(w.fd, w.limit));
          break;
        }
      }
    }
  } catch (const weft::operation_cancelled&) {
    a.cancelled();
  } catch (const std::exception& e) {  // weft's unwinding is not a std::exception: it passes
    a.unexpected(e);
  }
  return a.finish();
}

// The task interpreter: the twin ops through their awaitable twins. Everything it needs is a
// parameter (copied into the frame), never a lambda capture.
WEFT_FUZZ_COROUTINE weft::task<std::uint64_t> task_body(run_context* ctx, std::uint32_t self,
                                                        std::size_t program, capture_token) {
  life_guard guard{ctx, self};  // in the frame: destroyed as the body ends or unwinds
  actor a(ctx, self, program);
  try {
    for (const instr& in : a.instructions()) {
      switch (a.twin_of(in)) {
        case twin::none: a.step(in); break;
        case twin::yield: co_await weft::async_yield(); break;
        case twin::sleep:
          co_await weft::async_sleep_for(a.begin_sleep(in));
          a.end_sleep();
          break;
        case twin::send: {
          const std::uint64_t v = a.begin_send(in);
          a.end_send(in, v, co_await a.channel(in).async_send(v));
          break;
        }
        case twin::recv:
          a.begin_recv(in);
          a.end_recv(in, co_await a.channel(in).async_recv());
          break;
        case twin::lock:
          a.begin_lock(in);
          co_await a.mutex(in).async_lock();
          a.end_lock(in);
          break;
        case twin::wait:
          a.begin_wait(in);
          co_await a.event(in).async_wait();
          a.end_wait(in);
          break;
        case twin::join: {
          actor::joining j = a.begin_join(in);
          a.end_join(j, co_await j.handle);  // a join wait
          break;
        }
        case twin::select: {
          actor::selecting s = a.begin_select(in);
          a.end_select(s, co_await run_select(ctx, s.shape, s.base, s.out, task_select{}));
          break;
        }
        case twin::throw_catch: {
          const bool yield = a.yield_in_handler(in);
          try {
            co_await throw_in_task(self, actor::yield_before_throw(in));
          } catch (const std::runtime_error& e) {
            check_handled(ctx, self, e, yield);
          }
          break;
        }
        case twin::io_write: {
          const actor::io_writing w = a.begin_io_write(in);
          if (w.skipped) break;
          log_entry::thrown_kind t = log_entry::none;
          try {
            co_await weft::io::async_write_all(w.fd, w.data());
          } catch (const std::system_error& e) {
            t = io_thrown(e);
          }
          a.end_io_write(w, t);
          break;
        }
        case twin::io_read: {
          io_read_guard guard(ctx, a.read_direction(in));
          actor::io_reading r = a.begin_io_read(in);
          const std::size_t n = co_await weft::io::async_read_some(r.fd, r.space());
          a.end_io_read(r, n);
          break;
        }
        case twin::io_wait: {
          const actor::io_waiting w = a.begin_io_wait(in);
          a.end_io_wait(w, co_await weft::io::async_wait_readable(w.fd, w.limit));
          break;
        }
      }
    }
  } catch (const weft::operation_cancelled&) {
    a.cancelled();
  } catch (const std::exception& e) {  // weft's unwinding is not a std::exception: it passes
    a.unexpected(e);
  }
  co_return a.finish();
}

// ---- the reference model ----------------------------------------------------------------------

// Replays the log of a one-worker run, in which entries are in the order things happened,
// applying the documented semantics of each primitive (FIFO channels with the given
// capacities, close waking everybody, FIFO mutex hand-off, events, joins). Every outcome weft
// reported must be the one the model predicts; at the end, the model says whether the
// program is deadlocked (fibers remain, each waiting on something that can no longer
// happen) or finished.
//
// Timed waits and select make the run nondeterministic in ways the log does not show: when a
// timer fires is not logged (only the timed-out call's end, possibly later), and select picks
// among ready cases at random. So one `model` is one possible world, and `model_set` keeps
// every world consistent with the log so far. A world branches (choose()) where the outcome
// is open: whether a timed waiter at the front of a queue had already timed out when
// something reached it, and which ready case a select fired. The end of each call then keeps
// only the worlds that predicted what weft reported. Without timed ops or select there is
// exactly one world, as before.
struct choice_log {
  std::vector<std::pair<int, int>> picks;  // (pick, number of alternatives), in call order
  std::size_t pos = 0;
};

class model {
 public:
  model(const program_set& p) : channels_(p.channel_capacity.size()), mutexes_(p.mutexes),
        events_(p.events), semaphores_(p.semaphores.size()), latches_(p.latches.size()),
        directions_(2 * p.pipes), futures_(p.vocab.futures), barriers_(p.barriers.size()),
        shared_mutexes_(p.vocab.shared_mutexes), recursive_mutexes_(p.vocab.recursive_mutexes) {
    for (std::size_t i = 0; i < barriers_.size(); ++i) {
      barriers_[i].expected = barriers_[i].remaining = p.barriers[i].first;
      barriers_[i].completion = p.barriers[i].second;
    }
    for (std::size_t i = 0; i < channels_.size(); ++i) channels_[i].capacity = p.channel_capacity[i];
    for (std::size_t i = 0; i < semaphores_.size(); ++i) semaphores_[i].count = p.semaphores[i];
    for (std::size_t i = 0; i < latches_.size(); ++i) latches_[i].count = p.latches[i];
  }
  bool operator==(const model&) const = default;

  std::vector<std::string> failures_;  // this world's first discrepancy (then it is dropped)
  choice_log* choices_ = nullptr;      // set by model_set around apply()
  // No later than this (ns), what the entry being applied did has happened: a timer that
  // cannot have fired by then did not end a wait before it.
  std::int64_t now_upper_ns_ = 0;

  void create_root(std::uint32_t f) { fibers_[f].created = true; }

  // Whether applying e may branch (choose()): a select begins, or some fiber is in a timed
  // wait that may already have timed out.
  bool may_branch(const log_entry& e) const {
    if (e.kind == ev::begin && (e.code == op::select || is_until_op(e.code))) return true;
    for (const auto& [i, f] : fibers_)
      if (f.timed && !f.predicted) return true;
    return false;
  }

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
        for (std::size_t m = 0; m < recursive_mutexes_.size(); ++m)
          if (recursive_mutexes_[m].owner == static_cast<int>(e.fiber))
            return fail(e, "finished holding recursive mutex " + std::to_string(m));
        for (std::size_t m = 0; m < shared_mutexes_.size(); ++m)
          if (f.sm_exclusive[m] || f.sm_shared[m] > 0)
            return fail(e, "finished holding shared mutex " + std::to_string(m));
        f.finished = true;
        for (std::uint32_t joiner : joiners_[e.fiber]) complete(joiner, e.value, true, false);
        joiners_.erase(e.fiber);
        return;
      }
      case ev::begin:
        require_running(e.fiber);
        fibers_[e.fiber].pending = e.code;
        fibers_[e.fiber].pending_obj = e.obj;
        fibers_[e.fiber].pending_value = e.value;
        fibers_[e.fiber].deadline_ns = e.time_ns + limit_ns(e);
        if (is_io_wait_op(e.code)) return begin_io(e);
        return begin(e);
      case ev::end: {
        mfiber& f = fibers_[e.fiber];
        if (f.pending != e.code || f.pending_obj != e.obj)
          return fail(e, "end of an operation that was not pending");
        if (is_io_wait_op(e.code)) return end_io(e, f);
        if (!f.predicted) {
          if (!f.timed) return fail(e, "completed, but the model says it must still be waiting");
          time_out(e.fiber);  // nothing reached it: its timer fired
        }
        if (e.cancelled != f.predicted_cancel)
          return fail(e, e.cancelled ? "cancelled, but the model expects " + describe_prediction(f)
                                     : "completed, but the model says a stop request ended it");
        if (!e.cancelled && !outcome_matches(f, e))
          return fail(e, "outcome differs from the model's: expected " + describe_prediction(f));
        if (is_barrier_op(e.code) && barriers_[e.obj].completing == static_cast<int>(e.fiber))
          return fail(e, "its arrival completed the phase, but it returned before the "
                         "completion function ran");
        f.pending = op::count;
        f.predicted = false;
        f.predicted_cancel = false;
        f.timed = false;
        f.predicted_any_ok = false;
        f.predicted_or_timeout = false;
        f.predicted_thrown = log_entry::none;
        return;
      }
      case ev::act:
        if (e.fiber == completion_fiber) return completion(e);
        if (e.fiber != closer_fiber) require_running(e.fiber);
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

  // What is left unread in direction d must be what was drained from it after the run.
  void check_io_drained(std::size_t d, const std::vector<std::uint8_t>& drained) {
    if (!failures_.empty()) return;
    const std::vector<std::uint8_t> expected(directions_[d].bytes.begin(),
                                             directions_[d].bytes.end());
    if (expected != drained)
      failures_.push_back("what " + end_text(static_cast<std::uint32_t>(d)) + " wrote: " +
                          std::to_string(drained.size()) + " bytes left unread after the run, "
                          "the model expects " + std::to_string(expected.size()) +
                          " (or other bytes)");
  }

  // The counters of the semaphores and latches after the run must be the ones measured.
  void check_counters(const std::vector<std::ptrdiff_t>& semaphores,
                      const std::vector<std::ptrdiff_t>& latches) {
    if (!failures_.empty()) return;
    for (std::size_t i = 0; i < semaphores_.size(); ++i)
      if (semaphores_[i].count != semaphores[i])
        failures_.push_back("semaphore " + std::to_string(i) + ": the counter is " +
                            amount_text(semaphores[i]) + " after the run, the model expects " +
                            amount_text(semaphores_[i].count));
    for (std::size_t i = 0; i < latches_.size(); ++i)
      if (latches_[i].count != latches[i])
        failures_.push_back("latch " + std::to_string(i) + ": the counter is " +
                            amount_text(latches[i]) + " after the run, the model expects " +
                            amount_text(latches_[i].count));
  }

  // The operation fiber f is blocked in (op::count: none).
  op pending_of(std::uint32_t f) const {
    auto it = fibers_.find(f);
    return it == fibers_.end() ? op::count : it->second.pending;
  }

  // The fibers that have not finished.
  std::vector<std::uint32_t> unfinished() const {
    std::vector<std::uint32_t> r;
    for (const auto& [i, f] : fibers_)
      if (!f.finished) r.push_back(i);
    return r;
  }

  // Whether the model says the program is deadlocked: fibers remain, each has started, and
  // each waits, without a time limit, on something the model has not granted. Explains the
  // first exception to that.
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
      if (is_io_wait_op(f.pending)) {
        why_not = "fiber " + std::to_string(i) + " waits on a descriptor (" + op_name(f.pending) +
                  "), which is never a deadlock";
        return false;
      }
      if (f.predicted) {
        why_not = "fiber " + std::to_string(i) + "'s " + op_name(f.pending) +
                  " can complete (" + describe_prediction(f) + ")";
        return false;
      }
      if (f.timed) {
        why_not = "fiber " + std::to_string(i) + "'s " + op_name(f.pending) +
                  " has a time limit: its timer will end it";
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
    std::uint64_t pending_value = 0;
    bool timed = false;      // the pending operation ends by itself when its time passes
    bool predicted = false;  // the model says the pending operation completes, with:
    bool predicted_ok = false;
    bool predicted_any_ok = false;  // ok may be either (a timed event wait when set)
    bool predicted_or_timeout = false;  // select: or its timeout fired (woken by a close)
    bool predicted_has_value = false;
    std::uint64_t predicted_value = 0;
    std::uint32_t predicted_fired = 0;  // select: the case
    std::int64_t deadline_ns = 0;  // timed: its timer cannot fire before this
    bool stop = false;              // a stop was requested for it
    bool predicted_cancel = false;  // the pending operation ends by operation_cancelled
    // latch_arrive_and_wait: its count_down throws this (and it does not wait).
    log_entry::thrown_kind predicted_thrown = log_entry::none;
    // io_read, io_wait: whether its direction had bytes or its end of file when it began (it
    // then returns at once), whether it had since (io_wait may return true), the buffer size
    // or limit (us), and its begin's time and position in the log.
    bool io_ready_at_begin = false;
    bool io_seen_ready = false;
    std::uint32_t io_param = 0;
    std::int64_t io_begin_ns = 0;
    std::size_t io_begin_step = 0;
    // What it holds of each shared mutex (the recursive ones' owner is in mrmutex).
    std::array<bool, 4> sm_exclusive{};
    std::array<int, 4> sm_shared{};
    bool operator==(const mfiber&) const = default;
  };
  // A promise/future pair: the promise alive (not dropped), its state (0 unset, 1 a value, 2
  // broken_promise), the actor that claimed the future (the first to get or wait on it) and
  // whether a get consumed it, and who waits.
  struct mfuture {
    bool promise_alive = true;
    int state = 0;
    std::uint64_t value = 0;
    int claimed_by = -1;
    bool consumed = false;
    std::vector<std::uint32_t> waiters;
    bool operator==(const mfuture&) const = default;
  };
  // A barrier: participants of the next phases, arrivals the phase still awaits, waiters, and
  // the fiber whose arrival completed the phase while its completion function has not run yet.
  struct mbarrier {
    std::ptrdiff_t expected = 0, remaining = 0;
    bool completion = false;
    std::vector<std::uint32_t> waiters;
    int completing = -1;
    bool operator==(const mbarrier&) const = default;
  };
  // A shared mutex: held exclusively, by how many readers; FIFO queues of waiting writers and
  // readers (readers queue behind a waiting writer).
  struct msmutex {
    bool writer = false;
    std::size_t readers = 0;
    std::deque<std::uint32_t> writers_waiting, readers_waiting;
    bool operator==(const msmutex&) const = default;
  };
  // A recursive mutex: owner, depth, FIFO hand-off.
  struct mrmutex {
    int owner = -1;
    int depth = 0;
    std::deque<std::uint32_t> waiters;
    bool operator==(const mrmutex&) const = default;
  };
  // A direction of a pipe: the bytes end d wrote that end d ^ 1 has not read, in order, and
  // whether end d's write side was shut down (the reader sees the end of file after them).
  struct mdirection {
    std::deque<std::uint8_t> bytes;
    bool eof = false;
    bool operator==(const mdirection&) const = default;
  };
  struct qsender {
    std::uint32_t fiber;
    std::uint64_t value;
    std::uint32_t which;  // select: the case; 0 otherwise
    bool operator==(const qsender&) const = default;
  };
  struct qreceiver {
    std::uint32_t fiber;
    std::uint32_t which;
    bool operator==(const qreceiver&) const = default;
  };
  struct mchannel {
    std::size_t capacity = 0;
    bool closed = false;
    std::deque<std::uint64_t> buffer;
    std::deque<qsender> senders;      // blocked, with their values
    std::deque<qreceiver> receivers;  // blocked
    bool operator==(const mchannel&) const = default;
  };
  struct mmutex {
    int owner = -1;
    std::deque<std::uint32_t> waiters;
    bool operator==(const mmutex&) const = default;
  };
  struct mevent {
    bool set = false;
    std::vector<std::uint32_t> waiters;
    bool operator==(const mevent&) const = default;
  };
  // A counting semaphore: waiters only while the counter is zero; release hands units to the
  // oldest waiters directly (FIFO), the rest raise the counter.
  struct msemaphore {
    std::ptrdiff_t count = 0;
    std::deque<std::uint32_t> waiters;
    bool operator==(const msemaphore&) const = default;
  };
  // A latch: waiters only while the counter is above zero; reaching zero wakes them all.
  struct mlatch {
    std::ptrdiff_t count = 0;
    std::vector<std::uint32_t> waiters;
    bool operator==(const mlatch&) const = default;
  };

  std::int64_t limit_ns(const log_entry& e) const {
    std::chrono::nanoseconds d{0};
    if (e.code == op::select) d = decode_select(static_cast<std::uint8_t>(e.obj), 4).timeout;
    else if (e.code == op::recv_for || e.code == op::send_for || e.code == op::wait_for ||
             e.code == op::lock_for || e.code == op::sleep || e.code == op::sem_acquire_for ||
             e.code == op::sem_acquire_until || e.code == op::latch_wait_for ||
             e.code == op::latch_wait_until || e.code == op::fut_wait_for)
      d = std::chrono::microseconds(e.fired);  // the limit, logged with the begin
    return d.count();
  }

  static bool is_select_send(const mfiber& f) {
    return f.predicted_fired < 2 &&
           decode_select(static_cast<std::uint8_t>(f.pending_obj), 4).sends[f.predicted_fired];
  }
  static bool outcome_matches(const mfiber& f, const log_entry& e) {
    switch (f.pending) {
      case op::send: case op::send_for: case op::lock_for:
        return f.predicted_ok == e.result;
      case op::wait_for: case op::latch_wait_for: case op::latch_wait_until:
        return f.predicted_any_ok || f.predicted_ok == e.result;
      case op::sem_acquire_for: case op::sem_acquire_until:
        return f.predicted_ok == e.result;
      case op::sem_acquire: case op::latch_wait:
        return e.result;
      case op::latch_arrive_and_wait:
      case op::fut_wait: case op::bar_arrive_and_wait: case op::bar_arrive_and_drop:
        return f.predicted_thrown == e.thrown;
      case op::fut_get:
        return f.predicted_thrown == e.thrown &&
               (e.thrown != log_entry::none || (e.has_value && e.value == f.predicted_value));
      case op::fut_wait_for:
        return f.predicted_thrown == e.thrown &&
               (e.thrown != log_entry::none || f.predicted_any_ok || f.predicted_ok == e.result);
      case op::sm_lock: case op::sm_lock_shared: case op::rm_lock:
        return e.result;
      case op::select:
        if (f.predicted_or_timeout && e.fired == 2) return true;
        if (f.predicted_fired != e.fired) return false;
        if (f.predicted_fired == 2) return true;
        if (is_select_send(f)) return f.predicted_ok == e.result;
        return f.predicted_has_value == e.has_value && (!e.has_value || f.predicted_value == e.value);
      default:
        return f.predicted_has_value == e.has_value && (!e.has_value || f.predicted_value == e.value);
    }
  }

  static std::string describe_prediction(const mfiber& f) {
    switch (f.pending) {
      case op::send: return f.predicted_ok ? "delivered" : "not delivered (closed)";
      case op::send_for: return f.predicted_ok ? "delivered" : "not delivered (closed or timed out)";
      case op::lock_for: return f.predicted_ok ? "locked" : "timed out";
      case op::wait_for:
        return f.predicted_any_ok ? "set or timed out" : f.predicted_ok ? "set" : "timed out";
      case op::sem_acquire_for: case op::sem_acquire_until:
        return f.predicted_ok ? "acquired" : "timed out";
      case op::latch_wait_for: case op::latch_wait_until:
        return f.predicted_any_ok ? "released (counter zero) or timed out"
               : f.predicted_ok   ? "released (counter zero)"
                                  : "timed out";
      case op::latch_arrive_and_wait:
        return f.predicted_thrown == log_entry::none
                   ? std::string("released (counter zero)")
                   : std::string("its count_down throws ") + thrown_name(f.predicted_thrown);
      case op::fut_get: case op::fut_wait: case op::fut_wait_for:
      case op::bar_arrive_and_wait: case op::bar_arrive_and_drop:
        if (f.predicted_thrown != log_entry::none)
          return std::string("throws ") + thrown_name(f.predicted_thrown);
        if (f.pending == op::fut_get) return "value " + std::to_string(f.predicted_value);
        if (f.pending == op::fut_wait_for)
          return f.predicted_any_ok ? "ready or timed out" : f.predicted_ok ? "ready" : "timed out";
        return "returns";
      case op::select: {
        if (f.predicted_fired == 2) return "case 2 (default or timeout)";
        std::string s = "case " + std::to_string(f.predicted_fired) + ", ";
        if (f.predicted_or_timeout) s = "case 2 (timeout) or " + s;
        if (is_select_send(f)) return s + (f.predicted_ok ? "sent" : "not sent (closed)");
        if (f.predicted_has_value) return s + "value " + std::to_string(f.predicted_value);
        return s + "nullopt (closed and drained)";
      }
      default: break;
    }
    if (f.predicted_has_value) return "value " + std::to_string(f.predicted_value);
    if (f.pending == op::recv || f.pending == op::recv_for)
      return "nullopt (closed and drained, or timed out)";
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

  // One of n alternatives; every one is explored (model_set).
  int choose(int n) {
    if (n <= 1 || choices_ == nullptr) return 0;
    choice_log& c = *choices_;
    if (c.pos < c.picks.size()) return c.picks[c.pos++].first;
    c.picks.emplace_back(0, n);
    ++c.pos;
    return 0;
  }

  // Takes fiber f out of every queue (a select waits in two; a timed-out wait leaves).
  void unqueue(std::uint32_t f) {
    for (mchannel& ch : channels_) {
      std::erase_if(ch.senders, [f](const qsender& s) { return s.fiber == f; });
      std::erase_if(ch.receivers, [f](const qreceiver& r) { return r.fiber == f; });
    }
    for (mmutex& m : mutexes_) std::erase(m.waiters, f);
    for (mevent& ev : events_) std::erase(ev.waiters, f);
    for (msemaphore& s : semaphores_) std::erase(s.waiters, f);
    for (mlatch& l : latches_) std::erase(l.waiters, f);
    for (mfuture& x : futures_) std::erase(x.waiters, f);
    for (mbarrier& b : barriers_) std::erase(b.waiters, f);
    for (msmutex& m : shared_mutexes_) {
      std::erase(m.writers_waiting, f);
      std::erase(m.readers_waiting, f);
    }
    for (mrmutex& m : recursive_mutexes_) std::erase(m.waiters, f);
  }

  void complete(std::uint32_t f, std::uint64_t value, bool has_value, bool ok,
                std::uint32_t fired = 0) {
    mfiber& r = fibers_[f];
    r.predicted = true;
    r.predicted_value = value;
    r.predicted_has_value = has_value;
    r.predicted_ok = ok;
    r.predicted_fired = fired;
    if (r.pending == op::select || r.timed) unqueue(f);
  }

  // The timed wait of f ends by its timer: it took and delivered nothing.
  void time_out(std::uint32_t f) {
    unqueue(f);
    complete(f, 0, false, false, 2);  // select: case 2 is the timeout
  }

  // The pending call of f ends by a stop request: it took and delivered nothing.
  void cancel(std::uint32_t f) {
    unqueue(f);
    for (auto& [target, joiners] : joiners_) std::erase(joiners, f);
    mfiber& r = fibers_[f];
    r.predicted = true;
    r.predicted_cancel = true;
  }

  // Whether waiter f, reached at the front of a queue, had already timed out (a world each).
  bool timed_out_front(std::uint32_t f) {
    const mfiber& r = fibers_[f];
    if (!r.timed || r.predicted) return false;
    if (now_upper_ns_ < r.deadline_ns) return false;  // its timer could not have fired yet
    if (choose(2) == 0) return false;
    time_out(f);
    return true;
  }

  // A value leaves channel c for a receiver (blocked or not): the buffer's oldest value,
  // refilled from the oldest blocked sender, or straight from that sender. False if none.
  bool take(mchannel& ch, std::uint64_t& v) {
    const bool sender = settle_senders(ch);
    if (!ch.buffer.empty()) {
      v = ch.buffer.front();
      ch.buffer.pop_front();
      if (sender) {
        const qsender s = ch.senders.front();
        ch.senders.pop_front();
        ch.buffer.push_back(s.value);
        complete(s.fiber, s.value, false, true, s.which);
      }
      return true;
    }
    if (sender) {
      const qsender s = ch.senders.front();
      ch.senders.pop_front();
      v = s.value;
      complete(s.fiber, s.value, false, true, s.which);
      return true;
    }
    return false;
  }
  // Drops timed-out senders from the front: whether a sender is left there.
  bool settle_senders(mchannel& ch) {
    while (!ch.senders.empty())
      if (!timed_out_front(ch.senders.front().fiber)) return true;
    return false;
  }
  bool settle_receivers(mchannel& ch) {
    while (!ch.receivers.empty())
      if (!timed_out_front(ch.receivers.front().fiber)) return true;
    return false;
  }
  // Offers v to channel c without waiting; false if it would have to wait.
  bool offer(mchannel& ch, std::uint64_t v) {
    if (settle_receivers(ch)) {
      const qreceiver r = ch.receivers.front();
      ch.receivers.pop_front();
      complete(r.fiber, v, true, false, r.which);
      return true;
    }
    if (ch.buffer.size() < ch.capacity) {
      ch.buffer.push_back(v);
      return true;
    }
    return false;
  }

  // A call begins; a fiber whose stop was requested throws operation_cancelled instead of
  // blocking in an interruption point (a timed call whose time is up already returns timed
  // out without looking; a sleep looks first).
  void begin(const log_entry& e) {
    begin_call(e);
    const mfiber& r = fibers_[e.fiber];
    if (!r.stop || !interruption_point(e.code) || r.predicted) return;
    if (e.code == op::sleep || !r.timed || limit_ns(e) > 0) {
      // A deadline given as a time point may have passed before the call looked at it: then
      // it returns timed out without looking at the stop (a world each).
      if (is_until_op(e.code) && now_upper_ns_ >= r.deadline_ns && choose(2) == 1)
        return time_out(e.fiber);
      cancel(e.fiber);
    } else {
      time_out(e.fiber);
    }
  }

  // The call's effect if no stop was requested.
  void begin_call(const log_entry& e) {
    const std::uint32_t f = e.fiber;
    switch (e.code) {
      case op::sleep:
        fibers_[f].timed = true;  // ends by its timer (or a stop request)
        return;
      case op::send: case op::send_for: {
        mchannel& ch = channels_[e.obj];
        if (ch.closed) return complete(f, 0, false, false);
        if (offer(ch, e.value)) return complete(f, 0, false, true);
        ch.senders.push_back({f, e.value, 0});
        fibers_[f].timed = e.code == op::send_for;
        return;
      }
      case op::recv: case op::recv_for: {
        mchannel& ch = channels_[e.obj];
        std::uint64_t v;
        if (take(ch, v)) return complete(f, v, true, false);
        if (ch.closed) return complete(f, 0, false, false);
        ch.receivers.push_back({f, 0});
        fibers_[f].timed = e.code == op::recv_for;
        return;
      }
      case op::lock: case op::lock_for: {
        mmutex& m = mutexes_[e.obj];
        if (m.owner < 0) {
          m.owner = static_cast<int>(f);
          return complete(f, 0, false, true);
        }
        m.waiters.push_back(f);  // also when f owns it: weft::mutex is not recursive
        fibers_[f].timed = e.code == op::lock_for;
        return;
      }
      case op::wait: case op::wait_for: {
        mevent& ev = events_[e.obj];
        if (ev.set) return complete(f, 0, false, true);
        ev.waiters.push_back(f);
        fibers_[f].timed = e.code == op::wait_for;
        return;
      }
      case op::join: {
        auto it = fibers_.find(e.obj);
        if (it == fibers_.end() || !it->second.created) return fail(e, "join of an unknown fiber");
        if (it->second.finished) return complete(f, expected_result(e.obj), true, false);
        joiners_[e.obj].push_back(f);
        return;
      }
      case op::select:
        return begin_select(e);
      case op::sem_acquire: case op::sem_acquire_for: case op::sem_acquire_until: {
        msemaphore& s = semaphores_[e.obj];
        if (s.count > 0) {
          --s.count;
          return complete(f, 0, false, true);
        }
        s.waiters.push_back(f);
        fibers_[f].timed = e.code != op::sem_acquire;
        return;
      }
      case op::latch_arrive_and_wait: {
        const log_entry::thrown_kind t =
            count_down(latches_[e.obj], static_cast<std::ptrdiff_t>(e.value));
        if (t != log_entry::none) {  // the count_down threw: no wait
          complete(f, 0, false, false);
          fibers_[f].predicted_thrown = t;
          return;
        }
        [[fallthrough]];
      }
      case op::latch_wait: case op::latch_wait_for: case op::latch_wait_until: {
        mlatch& l = latches_[e.obj];
        if (l.count == 0) return complete(f, 0, false, true);
        l.waiters.push_back(f);
        fibers_[f].timed = e.code == op::latch_wait_for || e.code == op::latch_wait_until;
        return;
      }
      case op::fut_get: case op::fut_wait: case op::fut_wait_for: {
        mfuture& x = futures_[e.obj];
        if (x.claimed_by < 0) x.claimed_by = static_cast<int>(f);
        const bool valid = x.claimed_by == static_cast<int>(f) && !x.consumed;
        if (e.value != valid)
          return fail(e, std::string("the actor's future is ") + (e.value ? "valid" : "empty") +
                             ", the model expects the opposite");
        if (!valid) {  // std::future_error(no_state) at once
          complete(f, 0, false, false);
          fibers_[f].predicted_thrown = log_entry::no_state;
          return;
        }
        if (e.code == op::fut_get) x.consumed = true;  // get() empties it first, whatever then
        if (x.state != 0) return future_complete(f, x);
        x.waiters.push_back(f);
        fibers_[f].timed = e.code == op::fut_wait_for;
        return;
      }
      case op::bar_arrive_and_wait: case op::bar_arrive_and_drop: {
        mbarrier& b = barriers_[e.obj];
        if (b.remaining < 1) {  // std::logic_error, nothing counted, no wait
          complete(f, 0, false, false);
          fibers_[f].predicted_thrown = log_entry::logic_error;
          return;
        }
        --b.remaining;
        if (e.code == op::bar_arrive_and_drop) --b.expected;
        if (b.remaining == 0) {
          complete(f, 0, false, true);
          if (b.completion) b.completing = static_cast<int>(f);  // then the phase completes
          else complete_phase(b);
          return;
        }
        if (e.code == op::bar_arrive_and_drop) return complete(f, 0, false, true);
        b.waiters.push_back(f);
        return;
      }
      case op::sm_lock: {
        msmutex& m = shared_mutexes_[e.obj];
        if (!m.writer && m.readers == 0) {
          m.writer = true;
          fibers_[f].sm_exclusive[e.obj] = true;
          return complete(f, 0, false, true);
        }
        m.writers_waiting.push_back(f);  // also when f holds it: it waits forever
        return;
      }
      case op::sm_lock_shared: {
        msmutex& m = shared_mutexes_[e.obj];
        if (!m.writer && m.writers_waiting.empty()) {
          ++m.readers;
          ++fibers_[f].sm_shared[e.obj];
          return complete(f, 0, false, true);
        }
        m.readers_waiting.push_back(f);
        return;
      }
      case op::rm_lock: {
        mrmutex& m = recursive_mutexes_[e.obj];
        if (m.owner == static_cast<int>(f) || m.owner < 0) {
          m.owner = static_cast<int>(f);
          ++m.depth;
          return complete(f, 0, false, true);
        }
        m.waiters.push_back(f);
        return;
      }
      default:
        return fail(e, "not a blocking operation");
    }
  }

  // Future x is ready: what waiter f's call returns (get: the value or broken_promise; wait:
  // returns; wait_for: ready, or, for one whose time may be up, either).
  void future_complete(std::uint32_t f, const mfuture& x) {
    mfiber& r = fibers_[f];
    const bool timed_out_maybe = r.timed && now_upper_ns_ >= r.deadline_ns;
    if (r.pending == op::fut_get) complete(f, x.value, x.state == 1, true);
    else complete(f, 0, false, true);
    r.predicted_thrown =
        r.pending == op::fut_get && x.state == 2 ? log_entry::broken_promise : log_entry::none;
    r.predicted_any_ok = timed_out_maybe;
  }
  void future_ready(mfuture& x) {
    const std::vector<std::uint32_t> waiters = std::move(x.waiters);
    x.waiters.clear();
    for (std::uint32_t w : waiters)
      if (!fibers_[w].predicted) future_complete(w, x);
  }

  // A barrier's phase completes: the next awaits `expected` arrivals, every waiter returns.
  void complete_phase(mbarrier& b) {
    b.remaining = b.expected;
    const std::vector<std::uint32_t> waiters = std::move(b.waiters);
    b.waiters.clear();
    for (std::uint32_t w : waiters)
      if (!fibers_[w].predicted) complete(w, 0, false, true);
  }

  // The completion function ran (on weft fiber e.value): the completing arrival's fiber's, once.
  void completion(const log_entry& e) {
    mbarrier& b = barriers_[e.obj];
    if (b.completing < 0)
      return fail(e, "barrier " + std::to_string(e.obj) + "'s completion function ran, but no "
                     "arrival completed a phase (or it ran twice)");
    const auto completer = static_cast<std::uint32_t>(b.completing);
    if (weft_id(completer) != e.value)
      return fail(e, "barrier " + std::to_string(e.obj) + "'s completion function ran on weft "
                     "fiber " + std::to_string(e.value) + ", not on fiber " +
                     std::to_string(completer) + "'s (weft " +
                     std::to_string(weft_id(completer)) + "), whose arrival completed the phase");
    b.completing = -1;
    complete_phase(b);
  }

  // The shared mutex is free: to the oldest waiting writer, or else to every waiting reader.
  void hand_over(msmutex& m, std::uint32_t i) {
    if (!m.writers_waiting.empty()) {
      const std::uint32_t w = m.writers_waiting.front();
      m.writers_waiting.pop_front();
      m.writer = true;
      fibers_[w].sm_exclusive[i] = true;
      return complete(w, 0, false, true);
    }
    const std::deque<std::uint32_t> readers = std::move(m.readers_waiting);
    m.readers_waiting.clear();
    for (std::uint32_t r : readers) {
      ++m.readers;
      ++fibers_[r].sm_shared[i];
      complete(r, 0, false, true);
    }
  }

  // latch::count_down(n): what it throws (the counter unchanged then); reaching zero wakes
  // every waiter. A timed one whose time may be up by then may have timed out instead: either
  // result is accepted, which changes nothing else.
  log_entry::thrown_kind count_down(mlatch& l, std::ptrdiff_t n) {
    if (n < 0) return log_entry::invalid_argument;
    if (n > l.count) return log_entry::logic_error;
    l.count -= n;
    if (l.count != 0) return log_entry::none;
    const std::vector<std::uint32_t> waiters = std::move(l.waiters);
    l.waiters.clear();
    for (std::uint32_t w : waiters) {
      mfiber& r = fibers_[w];
      if (r.predicted) continue;
      complete(w, 0, false, true);
      r.predicted_any_ok = r.timed && now_upper_ns_ >= r.deadline_ns;
    }
    return log_entry::none;
  }

  // Drops timed-out waiters from the front of a semaphore's queue: whether one is left there.
  bool settle_semaphore(msemaphore& s) {
    while (!s.waiters.empty())
      if (!timed_out_front(s.waiters.front())) return true;
    return false;
  }

  // select: the ready cases (one is picked at random); none ready: the default, or a waiter
  // in both cases' queues, timed if it has a timeout.
  void begin_select(const log_entry& e) {
    const std::uint32_t f = e.fiber;
    const select_shape sh = decode_select(static_cast<std::uint8_t>(e.obj), channels_.size());
    std::uint32_t ready[2];
    int nready = 0;
    for (std::uint32_t k = 0; k < 2; ++k) {
      mchannel& ch = channels_[sh.channel[k]];
      const bool r = sh.sends[k]
                         ? ch.closed || settle_receivers(ch) || ch.buffer.size() < ch.capacity
                         : ch.closed || !ch.buffer.empty() || settle_senders(ch);
      if (r) ready[nready++] = k;
    }
    if (nready > 0) {
      const std::uint32_t k = ready[choose(nready)];
      mchannel& ch = channels_[sh.channel[k]];
      const std::uint64_t v = e.value + k;
      if (sh.sends[k]) {
        if (ch.closed) return complete(f, v, false, false, k);
        if (!offer(ch, v)) return fail(e, "model: a ready send case cannot send");
        return complete(f, v, false, true, k);
      }
      std::uint64_t got = 0;
      if (take(ch, got)) return complete(f, got, true, false, k);
      return complete(f, 0, false, false, k);  // closed and drained
    }
    if (sh.extra == select_shape::with_default) return complete(f, 0, false, false, 2);
    for (std::uint32_t k = 0; k < 2; ++k) {
      mchannel& ch = channels_[sh.channel[k]];
      if (sh.sends[k]) ch.senders.push_back({f, e.value + k, k});
      else ch.receivers.push_back({f, k});
    }
    fibers_[f].timed = sh.extra == select_shape::with_timeout;
  }

  // io_read, io_wait begin: what they return depends only on their direction when they end
  // (io_read: its bytes, in order, at most the buffer's size, or 0 at the end of file;
  // io_wait: true if it became readable meanwhile), checked by end_io. They are interruption
  // points that look for data first: read_some throws operation_cancelled only when it would
  // wait (after a stop requested before it began: it must), wait_readable the same unless its
  // limit is 0 (then it returns false).
  void begin_io(const log_entry& e) {
    mfiber& f = fibers_[e.fiber];
    const mdirection& d = directions_[e.obj ^ 1];
    f.io_ready_at_begin = f.io_seen_ready = !d.bytes.empty() || d.eof;
    f.io_param = e.fired;
    f.io_begin_ns = e.time_ns;
    f.io_begin_step = step_;
    f.predicted_cancel =
        f.stop && !f.io_ready_at_begin && (e.code == op::io_read || f.io_param > 0);
  }

  void end_io(const log_entry& e, mfiber& f) {
    const std::string what = std::string(e.code == op::io_read ? "read_some" : "wait_readable") +
                             " on " + end_text(e.obj);
    mdirection& d = directions_[e.obj ^ 1];
    if (f.io_ready_at_begin && step_ != f.io_begin_step + 1)
      return fail(e, what + " could return at once (something to read when it began), but "
                            "other entries came before its end");
    if (e.cancelled) {
      if (!f.stop) return fail(e, what + " was cancelled, but no stop was requested");
      if (f.io_ready_at_begin)
        return fail(e, what + " was cancelled, but it had something to read when it began");
      if (e.code == op::io_wait && f.io_param == 0)
        return fail(e, what + " with a limit of 0 was cancelled (it must return false)");
    } else if (f.predicted_cancel) {
      return fail(e, what + " returned, but a stop was requested before it began with "
                            "nothing to read: it must throw operation_cancelled");
    } else if (e.code == op::io_read) {
      const std::size_t n = e.fired;
      if (d.bytes.empty() && !d.eof)
        return fail(e, what + " returned " + std::to_string(n) +
                           " bytes, but the model has nothing to read there (it must wait)");
      const std::size_t expected = std::min<std::size_t>(d.bytes.size(), f.io_param);
      bool same = n == expected;
      for (std::size_t j = 0; same && j < n; ++j)
        same = static_cast<std::uint8_t>(e.value >> (8 * j)) == d.bytes[j];
      if (!same) {
        std::string want;
        for (std::size_t j = 0; j < expected; ++j) want += " " + std::to_string(d.bytes[j]);
        return fail(e, what + " returned " + std::to_string(n) + " bytes (" +
                           io_bytes_text(e.value, n) + "), the model expects " +
                           std::to_string(expected) + (expected ? " (" + want.substr(1) + ")"
                                                                : std::string(" (end of file)")));
      }
      d.bytes.erase(d.bytes.begin(), d.bytes.begin() + static_cast<std::ptrdiff_t>(n));
    } else {
      if (e.result && !f.io_seen_ready)
        return fail(e, what + " returned true, but nothing was written there and its write "
                              "side was not shut down since it began (nothing to read)");
      if (!e.result && f.io_ready_at_begin)
        return fail(e, what + " returned false, but there was something to read when it began");
      const std::int64_t limit = std::int64_t{f.io_param} * 1000;
      if (!e.result && e.time_ns - f.io_begin_ns < limit)
        return fail(e, what + " returned false after " +
                           std::to_string(e.time_ns - f.io_begin_ns) + " ns, before its limit");
    }
    f.pending = op::count;
    f.predicted_cancel = false;
    f.io_ready_at_begin = f.io_seen_ready = false;
    f.io_param = 0;
    f.io_begin_ns = 0;
    f.io_begin_step = 0;
  }

  // Direction d got bytes or its end of file: the wait_readable calls on it may return true.
  void readable(std::uint32_t d) {
    for (auto& [i, f] : fibers_)
      if (f.pending == op::io_wait && (f.pending_obj ^ 1) == d) f.io_seen_ready = true;
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
        // Senders first, then receivers (weft wakes them in that order; a select waiting on
        // both ends of this channel fires the first of its waiters reached).
        const std::deque<qsender> senders = std::move(ch.senders);
        const std::deque<qreceiver> receivers = std::move(ch.receivers);
        ch.senders.clear();
        ch.receivers.clear();
        if (!receivers.empty() && !ch.buffer.empty())
          return fail(e, "receivers were waiting on a channel with buffered values");
        for (const qsender& s : senders) wake_closed(s.fiber, s.value, s.which);
        for (const qreceiver& r : receivers) wake_closed(r.fiber, 0, r.which);
        return;
      }
      case op::unlock: {
        mmutex& m = mutexes_[e.obj];
        if (m.owner != static_cast<int>(e.fiber)) return fail(e, "unlock by a non-owner");
        if (!settle_mutex(m)) {
          m.owner = -1;
          return;
        }
        const std::uint32_t next = m.waiters.front();
        m.waiters.pop_front();
        if (next == e.fiber) return fail(e, "a fiber both holds and waits for a mutex");
        m.owner = static_cast<int>(next);
        return complete(next, 0, false, true);
      }
      case op::set: {
        mevent& ev = events_[e.obj];
        ev.set = true;
        const std::vector<std::uint32_t> waiters = std::move(ev.waiters);
        ev.waiters.clear();
        for (std::uint32_t w : waiters) {
          mfiber& r = fibers_[w];
          if (r.predicted) continue;
          complete(w, 0, false, true);
          r.predicted_any_ok = r.timed;  // it may have timed out before the set
        }
        return;
      }
      case op::detach:
        return;
      case op::fut_set: {
        mfuture& x = futures_[e.obj];
        const log_entry::thrown_kind expected = !x.promise_alive ? log_entry::no_state
                                                : x.state != 0   ? log_entry::already_satisfied
                                                                 : log_entry::none;
        if (e.thrown != expected)
          return fail(e, std::string("set_value threw ") + thrown_name(e.thrown) +
                             ", the model expects " + thrown_name(expected));
        if (expected != log_entry::none) return;
        x.state = 1;
        x.value = e.value;
        return future_ready(x);
      }
      case op::fut_drop: {
        mfuture& x = futures_[e.obj];
        if (!x.promise_alive) return;
        x.promise_alive = false;
        if (x.state != 0) return;
        x.state = 2;  // broken_promise
        return future_ready(x);
      }
      case op::sm_try_lock: case op::sm_try_lock_shared: {
        msmutex& m = shared_mutexes_[e.obj];
        mfiber& f = fibers_[e.fiber];
        const bool exclusive = e.code == op::sm_try_lock;
        const bool ok = exclusive ? !m.writer && m.readers == 0
                                  : !m.writer && m.writers_waiting.empty();
        if (ok != e.result)
          return fail(e, std::string(op_name(e.code)) + " returned " +
                             (e.result ? "true" : "false") + ", the model expects the opposite");
        if (ok && exclusive) m.writer = f.sm_exclusive[e.obj] = true;
        if (ok && !exclusive) ++m.readers, ++f.sm_shared[e.obj];
        return;
      }
      case op::sm_unlock: case op::sm_unlock_shared: {
        msmutex& m = shared_mutexes_[e.obj];
        mfiber& f = fibers_[e.fiber];
        const bool exclusive = e.code == op::sm_unlock;
        if (exclusive ? !f.sm_exclusive[e.obj] : f.sm_shared[e.obj] == 0)
          return fail(e, "the actor unlocks a shared mutex it does not hold that way");
        if (e.thrown != log_entry::none)
          return fail(e, std::string(op_name(e.code)) + " threw " + thrown_name(e.thrown));
        if (exclusive) {
          m.writer = f.sm_exclusive[e.obj] = false;
          return hand_over(m, e.obj);
        }
        --f.sm_shared[e.obj];
        if (--m.readers == 0) hand_over(m, e.obj);
        return;
      }
      case op::rm_try_lock: {
        mrmutex& m = recursive_mutexes_[e.obj];
        const bool ok = m.owner < 0 || m.owner == static_cast<int>(e.fiber);
        if (ok != e.result)
          return fail(e, std::string("recursive try_lock returned ") +
                             (e.result ? "true" : "false") + ", the model expects the opposite");
        if (ok) m.owner = static_cast<int>(e.fiber), ++m.depth;
        return;
      }
      case op::rm_unlock: {
        mrmutex& m = recursive_mutexes_[e.obj];
        const bool owner = m.owner == static_cast<int>(e.fiber);
        const log_entry::thrown_kind expected = owner ? log_entry::none : log_entry::logic_error;
        if (e.thrown != expected)
          return fail(e, std::string("recursive unlock threw ") + thrown_name(e.thrown) +
                             ", the model expects " + thrown_name(expected) + " (owner: " +
                             (m.owner < 0 ? std::string("none") : std::to_string(m.owner)) + ")");
        if (!owner || --m.depth > 0) return;
        m.owner = -1;
        if (m.waiters.empty()) return;
        m.owner = static_cast<int>(m.waiters.front());
        m.depth = 1;
        m.waiters.pop_front();
        return complete(static_cast<std::uint32_t>(m.owner), 0, false, true);
      }
      case op::fl_write: case op::fl_read:
        return;  // checked by the actor itself (actor::local), whatever the schedule
      case op::sem_try_acquire: {
        msemaphore& s = semaphores_[e.obj];
        const bool ok = s.count > 0;
        if (ok) --s.count;
        if (ok != e.result)
          fail(e, std::string("try_acquire returned ") + (e.result ? "true" : "false") +
                      ", the model expects the opposite (counter " + amount_text(s.count) + ")");
        return;
      }
      case op::sem_release: {
        msemaphore& s = semaphores_[e.obj];
        std::ptrdiff_t n = static_cast<std::ptrdiff_t>(e.value);
        const bool fits = n >= 0 && n <= ptrdiff_max - s.count;
        const log_entry::thrown_kind expected =
            fits ? log_entry::none : log_entry::invalid_argument;
        if (e.thrown != expected)
          return fail(e, "release(" + amount_text(n) + ") on counter " + amount_text(s.count) +
                             " threw " + thrown_name(e.thrown) + ", the model expects " +
                             thrown_name(expected));
        if (!fits) return;
        for (; n > 0 && settle_semaphore(s); --n) {  // the oldest waiters take a unit each
          const std::uint32_t w = s.waiters.front();
          s.waiters.pop_front();
          complete(w, 0, false, true);
        }
        s.count += n;
        return;
      }
      case op::latch_count_down: {
        mlatch& l = latches_[e.obj];
        const std::ptrdiff_t before = l.count;
        const log_entry::thrown_kind expected = count_down(l, static_cast<std::ptrdiff_t>(e.value));
        if (e.thrown != expected)
          fail(e, "count_down(" + amount_text(static_cast<std::ptrdiff_t>(e.value)) +
                      ") on counter " + amount_text(before) + " threw " + thrown_name(e.thrown) +
                      ", the model expects " + thrown_name(expected));
        return;
      }
      case op::latch_try_wait: {
        const mlatch& l = latches_[e.obj];
        if ((l.count == 0) != e.result)
          fail(e, std::string("try_wait returned ") + (e.result ? "true" : "false") +
                      " with the counter at " + amount_text(l.count));
        return;
      }
      case op::io_write: {
        mdirection& d = directions_[e.obj];
        const log_entry::thrown_kind expected = d.eof ? log_entry::broken_pipe : log_entry::none;
        if (e.thrown != expected || e.result != (expected == log_entry::none))
          return fail(e, "write_all on " + end_text(e.obj) + " threw " + thrown_name(e.thrown) +
                             ", the model expects " + thrown_name(expected) +
                             (d.eof ? " (its write side was shut down)" : ""));
        if (e.thrown != log_entry::none) return;
        for (std::uint32_t j = 0; j < e.fired; ++j)
          d.bytes.push_back(static_cast<std::uint8_t>(e.value >> (8 * j)));
        return readable(e.obj);
      }
      case op::io_shutdown:
        if (!e.result) return fail(e, "shutdown(" + end_text(e.obj) + ", SHUT_WR) failed");
        directions_[e.obj].eof = true;
        return readable(e.obj);
      case op::stop: {
        mfiber& child = fibers_[e.obj];
        if (e.result == child.stop)
          return fail(e, std::string("request_stop returned ") + (e.result ? "true" : "false") +
                             ", the model expects the opposite");
        child.stop = true;
        if (child.pending == op::count || !interruption_point(child.pending) || child.predicted)
          return;  // it sees the stop at its next interruption point
        // Its timer may have fired already, its wake then on its way: a world each.
        if (child.timed && now_upper_ns_ >= child.deadline_ns && choose(2) == 1)
          return time_out(e.obj);
        return cancel(e.obj);
      }
      default:
        return fail(e, "not a non-blocking operation");
    }
  }

  // A waiter of a channel being closed: a send fails, a receive gets nullopt (a timed one the
  // same had it timed out first; a timed select may have fired its timeout instead: either is
  // accepted, which changes nothing else, so no world of its own).
  void wake_closed(std::uint32_t f, std::uint64_t value, std::uint32_t which) {
    mfiber& r = fibers_[f];
    if (r.predicted) return;  // a select already woken through its other waiter
    complete(f, value, false, false, which);
    r.predicted_or_timeout = r.pending == op::select && r.timed;
  }

  bool settle_mutex(mmutex& m) {
    while (!m.waiters.empty())
      if (!timed_out_front(m.waiters.front())) return true;
    return false;
  }

  std::map<std::uint32_t, mfiber> fibers_;
  std::vector<mchannel> channels_;
  std::vector<mmutex> mutexes_;
  std::vector<mevent> events_;
  std::vector<msemaphore> semaphores_;
  std::vector<mlatch> latches_;
  std::vector<mdirection> directions_;
  std::vector<mfuture> futures_;
  std::vector<mbarrier> barriers_;
  std::vector<msmutex> shared_mutexes_;
  std::vector<mrmutex> recursive_mutexes_;
  std::map<std::uint32_t, std::vector<std::uint32_t>> joiners_;
  std::size_t step_ = 0;
};

// Every world consistent with the log so far. More than max_worlds, or more than max_tries
// worlds tried for one log entry: the model gives up (the run is then checked as a
// multi-worker one is: values, joins, lost fibers, deadlock iff fibers remain), which keeps it
// sound at the cost of precision.
class model_set {
 public:
  static constexpr std::size_t max_worlds = 64;
  static constexpr std::size_t max_tries = 2048;

  explicit model_set(const program_set& p) { worlds_.emplace_back(p); }

  void create_root(std::uint32_t f) { worlds_.front().create_root(f); }

  // upper_ns: no later than this, what e did has happened (the next entry's time: the entry
  // of a call is logged before it acts, an act's after; the last one: no bound).
  void apply(const log_entry& e, std::int64_t upper_ns) {
    if (gave_up_ || worlds_.empty()) return;
    for (model& w : worlds_) w.now_upper_ns_ = upper_ns;
    if (worlds_.size() == 1 && !worlds_.front().may_branch(e)) {  // no copy needed
      model& world = worlds_.front();
      world.apply(e);
      if (!world.failures_.empty()) {
        failure_ = world.failures_.front();
        worlds_.clear();
      }
      return;
    }
    std::vector<model> next;
    std::size_t tries = 0;
    for (const model& w : worlds_) {
      choice_log choices;
      for (;;) {
        if (++tries > max_tries) {
          gave_up_ = true;
          return;
        }
        model world = w;
        choices.pos = 0;
        world.choices_ = &choices;
        world.apply(e);
        world.choices_ = nullptr;
        if (!world.failures_.empty()) failure_ = world.failures_.front();
        else if (std::find(next.begin(), next.end(), world) == next.end())
          next.push_back(std::move(world));
        // The next combination of choices, depth first.
        while (!choices.picks.empty() &&
               choices.picks.back().first + 1 >= choices.picks.back().second)
          choices.picks.pop_back();
        if (choices.picks.empty()) break;
        ++choices.picks.back().first;
      }
      if (next.size() > max_worlds) {
        gave_up_ = true;
        return;
      }
    }
    worlds_ = std::move(next);
  }

  // Keeps the worlds whose buffers hold what was drained after the run.
  void check_drained(const std::vector<std::vector<std::uint64_t>>& drained) {
    if (gave_up_ || worlds_.empty()) return;
    std::vector<model> kept;
    for (model& w : worlds_) {
      for (std::size_t c = 0; c < drained.size(); ++c) w.check_drained(c, drained[c]);
      if (w.failures_.empty()) kept.push_back(std::move(w));
      else failure_ = w.failures_.front();
    }
    worlds_ = std::move(kept);
  }

  // Keeps the worlds whose directions hold what was drained from the pipes after the run.
  void check_io_drained(const std::vector<std::vector<std::uint8_t>>& drained) {
    if (gave_up_ || worlds_.empty()) return;
    std::vector<model> kept;
    for (model& w : worlds_) {
      for (std::size_t d = 0; d < drained.size(); ++d) w.check_io_drained(d, drained[d]);
      if (w.failures_.empty()) kept.push_back(std::move(w));
      else failure_ = w.failures_.front();
    }
    worlds_ = std::move(kept);
  }

  // Keeps the worlds whose semaphore and latch counters are the ones measured after the run.
  void check_counters(const std::vector<std::ptrdiff_t>& semaphores,
                      const std::vector<std::ptrdiff_t>& latches) {
    if (gave_up_ || worlds_.empty()) return;
    std::vector<model> kept;
    for (model& w : worlds_) {
      w.check_counters(semaphores, latches);
      if (w.failures_.empty()) kept.push_back(std::move(w));
      else failure_ = w.failures_.front();
    }
    worlds_ = std::move(kept);
  }

  bool gave_up() const { return gave_up_; }
  const std::vector<model>& worlds() const { return worlds_; }
  // Why the last world was dropped.
  const std::string& failure() const { return failure_; }

 private:
  std::vector<model> worlds_;
  bool gave_up_ = false;
  std::string failure_;
};

std::string format_log(const std::vector<log_entry>& log) {
  static const char* const kinds[] = {"spawn", "start", "begin", "end", "act", "finish"};
  std::string s;
  for (std::size_t i = 0; i < log.size(); ++i) {
    const log_entry& e = log[i];
    char line[200];
    if (e.code == op::io_write || e.code == op::io_read || e.code == op::io_wait ||
        e.code == op::io_shutdown) {
      std::string what = end_text(e.obj);
      if (e.code == op::io_write || (e.code == op::io_read && e.kind == ev::end && !e.cancelled))
        what += " bytes [" + io_bytes_text(e.value, e.fired) + "]";
      if (e.kind == ev::begin) what += " param=" + std::to_string(e.fired);
      if (e.result) what += " ok";
      if (e.kind == ev::end && e.cancelled) what += " cancelled";
      if (e.thrown != log_entry::none) what += std::string(" threw ") + thrown_name(e.thrown);
      const std::string who = e.fiber == closer_fiber ? std::string("closer")
                                                      : "f" + std::to_string(e.fiber);
      std::snprintf(line, sizeof line, "  %4zu %-4s %-6s %-11s %s\n", i, who.c_str(),
                    kinds[static_cast<int>(e.kind)], op_name(e.code), what.c_str());
      s += line;
      continue;
    }
    std::snprintf(line, sizeof line, "  %4zu f%-3u %-6s %-11s obj=%u value=%llu%s%s", i,
                  e.fiber, kinds[static_cast<int>(e.kind)],
                  e.kind == ev::start || e.kind == ev::finish ? "" : op_name(e.code), e.obj,
                  static_cast<unsigned long long>(e.value), e.has_value ? " has_value" : "",
                  e.result ? " ok" : "");
    s += line;
    if (e.kind == ev::end && e.code == op::select) s += " fired=" + std::to_string(e.fired);
    if (e.kind == ev::end && e.cancelled) s += " cancelled";
    if (e.code == op::sem_release || e.code == op::latch_count_down ||
        e.code == op::latch_arrive_and_wait)
      s += " amount=" + amount_text(static_cast<std::ptrdiff_t>(e.value));
    if (e.thrown != log_entry::none) s += std::string(" threw ") + thrown_name(e.thrown);
    s += "\n";
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
  const std::size_t channels = ctx.programs->channel_capacity.size();
  // A send that completed reporting delivery: (channel, value). Its value must have been
  // received or drained exactly once.
  std::vector<std::pair<std::uint32_t, std::uint64_t>> delivered;
  // Per fiber, the select it is in (a fiber's own entries are in order, whatever the workers).
  std::map<std::uint32_t, log_entry> open_select;
  for (const log_entry& e : ctx.log) {
    const bool sends = e.code == op::send || e.code == op::send_for;
    if ((e.kind == ev::end && sends) || (e.kind == ev::act && e.code == op::try_send)) {
      sent[e.value] = {e.obj, e.result};
      if (e.result) delivered.emplace_back(e.obj, e.value);
    } else if (e.kind == ev::begin && sends) {
      sent[e.value] = {e.obj, true};  // provisional: a send that never ended may have delivered
    } else if (e.kind == ev::begin && e.code == op::select) {
      open_select[e.fiber] = e;
      const select_shape sh = decode_select(static_cast<std::uint8_t>(e.obj), channels);
      for (std::uint32_t k = 0; k < 2; ++k)
        if (sh.sends[k]) sent[e.value + k] = {sh.channel[k], true};  // provisional, as above
    } else if (e.kind == ev::end && e.code == op::select) {
      const log_entry b = open_select[e.fiber];
      const select_shape sh = decode_select(static_cast<std::uint8_t>(e.obj), channels);
      // Only the case that fired may have sent, and only if it says so.
      for (std::uint32_t k = 0; k < 2; ++k)
        if (sh.sends[k]) sent[b.value + k] = {sh.channel[k], k == e.fired && e.result};
      if (e.fired < 2 && sh.sends[e.fired]) {
        if (e.value != b.value + e.fired)
          failures.push_back("select's send case " + std::to_string(e.fired) +
                             " reported value " + std::to_string(e.value) + ", not its own");
        if (e.result) delivered.emplace_back(sh.channel[e.fired], e.value);
      }
    }
  }
  for (const log_entry& e : ctx.log) {
    if (!e.has_value) continue;
    if ((e.kind == ev::end && (e.code == op::recv || e.code == op::recv_for)) ||
        (e.kind == ev::act && e.code == op::try_recv))
      receive(e.obj, e.value);
    else if (e.kind == ev::end && e.code == op::select && e.fired < 2) {
      const select_shape sh = decode_select(static_cast<std::uint8_t>(e.obj), channels);
      if (sh.sends[e.fired])
        failures.push_back("select's send case reported a received value");
      else
        receive(sh.channel[e.fired], e.value);
    }
  }
  for (std::size_t c = 0; c < drained.size(); ++c)
    for (std::uint64_t v : drained[c]) receive(static_cast<std::uint32_t>(c), v);
  for (auto [c, v] : delivered)
    if (received[v] != 1)
      failures.push_back("value " + std::to_string(v) + " was delivered to channel " +
                         std::to_string(c) + " but received " + std::to_string(received[v]) +
                         " times");
}

// IO checks that hold whatever the schedule: every byte read or drained from a direction was
// written on it by a write_all that returned, exactly once (written bytes are unique per
// direction); the bytes one read returns that come from one write are in that write's order;
// a read returns 0 (end of file), or a write_all throws broken_pipe, only if that direction's
// write side was shut down (somewhere in the log); no IO call threw anything else.
void check_io(const run_context& ctx, const std::vector<std::vector<std::uint8_t>>& drained,
              std::vector<std::string>& failures) {
  const std::size_t directions = ctx.fds.size();
  std::vector<std::vector<int>> written(directions, std::vector<int>(256, 0));
  std::vector<std::vector<int>> got(directions, std::vector<int>(256, 0));
  std::vector<bool> shut(directions, false);
  for (const log_entry& e : ctx.log) {
    if (e.code == op::io_shutdown && e.kind == ev::act && e.result) shut[e.obj] = true;
    if (e.code == op::io_write && e.kind == ev::act && e.thrown == log_entry::none)
      for (std::uint32_t j = 0; j < e.fired; ++j)
        ++written[e.obj][static_cast<std::uint8_t>(e.value >> (8 * j))];
  }
  const auto take = [&](std::uint32_t d, std::uint8_t b, const char* where) {
    if (written[d][b] != 1)
      failures.push_back(std::string(where) + " byte " + std::to_string(b) + " from what " +
                         end_text(d) + " wrote, which it never wrote");
    else if (++got[d][b] > 1)
      failures.push_back(std::string(where) + " byte " + std::to_string(b) + " from what " +
                         end_text(d) + " wrote a second time");
  };
  for (const log_entry& e : ctx.log) {
    if (e.fiber != closer_fiber && (e.code == op::io_write || e.code == op::io_read ||
                                    e.code == op::io_wait || e.code == op::io_shutdown) &&
        e.thrown == log_entry::other)
      failures.push_back("fiber " + std::to_string(e.fiber) + ": " + op_name(e.code) + " on " +
                         end_text(e.obj) + " threw an unexpected exception");
    if (e.code == op::io_shutdown && !e.result)
      failures.push_back(std::string("shutdown(") + end_text(e.obj) + ", SHUT_WR) failed");
    if (e.code == op::io_write && e.thrown == log_entry::broken_pipe && !shut[e.obj])
      failures.push_back("fiber " + std::to_string(e.fiber) + ": write_all on " +
                         end_text(e.obj) + " threw broken_pipe, but its write side was never "
                         "shut down");
    if (e.code != op::io_read || e.kind != ev::end || e.cancelled) continue;
    const std::uint32_t d = e.obj ^ 1;
    if (e.fired == 0 && !shut[d])
      failures.push_back("fiber " + std::to_string(e.fiber) + ": read_some on " +
                         end_text(e.obj) + " returned 0 (end of file), but " + end_text(d) +
                         " was never shut down");
    for (std::uint32_t j = 0; j < e.fired && j < 8; ++j) {
      const auto b = static_cast<std::uint8_t>(e.value >> (8 * j));
      take(d, b, "read_some read");
      if (j > 0) {
        const auto before = static_cast<std::uint8_t>(e.value >> (8 * (j - 1)));
        if (before / 4 == b / 4 && before + 1 != b)
          failures.push_back("read_some on " + end_text(e.obj) + " returned the bytes of one "
                             "write out of order: " + io_bytes_text(e.value, e.fired));
      }
    }
  }
  for (std::uint32_t d = 0; d < directions; ++d)
    for (std::uint8_t b : drained[d]) take(d, b, "the drain after the run read");
  for (std::uint32_t d = 0; d < directions; ++d)
    for (int b = 0; b < 256; ++b)
      if (written[d][b] == 1 && got[d][b] != 1)
        failures.push_back("byte " + std::to_string(b) + " written by " + end_text(d) +
                           " was read " + std::to_string(got[d][b]) + " times");
}

// The vocabulary's checks that hold whatever the schedule (any number of workers):
// - futures: at most one set_value per future succeeds; a get returns that value; a get
//   throws broken_promise only if no set_value succeeded and the promise was dropped; a wait
//   (or a wait_for that says ready) returns only if one of them happened;
// - barriers: every completion function ran on the fiber of an arrival on that barrier then in
//   progress (between its begin and its end), at most once per arrival that did not throw;
// - fiber_local: every value made was destroyed, once (the actors check what they read, and
//   the joins that the values were destroyed by then; local_value's destructor, where);
// - after the run every shared and recursive mutex is free (the actors release what they
//   hold when they finish, or when the executor unwinds them).
void check_vocabulary(const run_context& ctx, std::vector<std::string>& failures) {
  const program_set& p = *ctx.programs;
  struct fstate {
    int sets = 0;
    std::uint64_t value = 0;
    bool dropped = false;
  };
  std::vector<fstate> fs(p.vocab.futures);
  std::vector<int> arrivals(p.barriers.size(), 0), completions(p.barriers.size(), 0);
  std::map<std::uint32_t, log_entry> open;  // per fiber, the call in progress
  std::map<std::uint32_t, std::uint64_t> weft_ids;
  for (const log_entry& e : ctx.log) {
    if (e.kind == ev::start) weft_ids[e.fiber] = e.value;
    if (e.kind == ev::begin) open[e.fiber] = e;
    if (e.kind == ev::end) open.erase(e.fiber);
    if (e.kind == ev::act && e.code == op::fut_set && e.thrown == log_entry::none) {
      ++fs[e.obj].sets;
      fs[e.obj].value = e.value;
    }
    if (e.kind == ev::act && e.code == op::fut_drop) fs[e.obj].dropped = true;
    if (e.kind == ev::end && (e.code == op::bar_arrive_and_wait ||
                              e.code == op::bar_arrive_and_drop) &&
        e.thrown == log_entry::none)
      ++arrivals[e.obj];
    if (e.kind == ev::act && e.code == op::bar_completion) {
      ++completions[e.obj];
      bool found = false;
      for (const auto& [f, b] : open)
        found |= is_barrier_op(b.code) && b.obj == e.obj && weft_ids[f] == e.value;
      if (!found)
        failures.push_back("barrier " + std::to_string(e.obj) + "'s completion function ran on "
                           "weft fiber " + std::to_string(e.value) + ", which was not arriving "
                           "on it");
    }
  }
  for (std::size_t i = 0; i < p.barriers.size(); ++i)
    if (completions[i] > arrivals[i])  // the completing arrival never waits: its end is logged
      failures.push_back("barrier " + std::to_string(i) + "'s completion function ran " +
                         std::to_string(completions[i]) + " times for " +
                         std::to_string(arrivals[i]) + " arrivals");
  for (std::size_t i = 0; i < fs.size(); ++i)
    if (fs[i].sets > 1)
      failures.push_back("future " + std::to_string(i) + ": set_value succeeded " +
                         std::to_string(fs[i].sets) + " times");
  for (const log_entry& e : ctx.log) {
    if (e.kind != ev::end || !is_future_op(e.code) || e.cancelled) continue;
    const fstate& f = fs[e.obj];
    const std::string who = "fiber " + std::to_string(e.fiber) + ": " + op_name(e.code) +
                            " on future " + std::to_string(e.obj);
    if (e.thrown == log_entry::no_state) continue;  // the model checks when (one worker)
    if (e.thrown == log_entry::broken_promise && (f.sets > 0 || !f.dropped))
      failures.push_back(who + " threw broken_promise, but " +
                         (f.sets > 0 ? "a value was set" : "the promise was never dropped"));
    else if (e.thrown != log_entry::none && e.thrown != log_entry::broken_promise)
      failures.push_back(who + " threw " + thrown_name(e.thrown));
    else if (e.code == op::fut_get && e.thrown == log_entry::none &&
             (f.sets == 0 || e.value != f.value))
      failures.push_back(who + " returned " + std::to_string(e.value) + ", not the value set");
    else if (e.code != op::fut_get && e.result && f.sets == 0 && !f.dropped)
      failures.push_back(who + " returned ready, but nothing was set and the promise lives");
  }
  const int made = ctx.locals_constructed.load(), destroyed = ctx.locals_destructed.load();
  if (made != destroyed)
    failures.push_back(std::to_string(made) + " fiber_local values were made and " +
                       std::to_string(destroyed) + " destroyed");
  for (std::size_t f = 0; f < max_fibers; ++f)
    for (std::size_t i = 0; i < max_locals; ++i) {
      const int m = ctx.records[f].locals_made[i].load();
      const int d = ctx.records[f].locals_destroyed[i].load();
      if (m > 1 || m != d)
        failures.push_back("fiber " + std::to_string(f) + ": " + std::to_string(m) +
                           " of its fiber_local " + std::to_string(i) + " values made, " +
                           std::to_string(d) + " destroyed");
    }
  for (std::size_t i = 0; i < ctx.shared_mutexes.size(); ++i) {
    if (!ctx.shared_mutexes[i]->try_lock()) {
      failures.push_back("shared mutex " + std::to_string(i) + " is still held after the run");
      continue;
    }
    ctx.shared_mutexes[i]->unlock();
  }
  for (std::size_t i = 0; i < ctx.recursive_mutexes.size(); ++i) {
    if (!ctx.recursive_mutexes[i]->try_lock()) {
      failures.push_back("recursive mutex " + std::to_string(i) + " is still held after the run");
      continue;
    }
    ctx.recursive_mutexes[i]->unlock();
  }
}

// The semaphore and latch counters after the run, from the log (whatever the schedule): a
// semaphore's is its initial count plus what the releases that did not throw returned, less a
// unit per acquire, try_acquire_for/until returning true and try_acquire returning true; a
// latch's is its expected count less the count_downs that did not throw (arrive_and_wait's
// among them, also when its wait was cancelled or never ended). Also lists the fibers still
// blocked, untimed, in a semaphore or latch wait (no end logged), and whether a latch wait
// returned true.
// Wide enough that the sums of the log's amounts (PTRDIFF_MAX at most 48 x 16 times) never
// overflow, whatever the library does.
__extension__ using wide_count = __int128;

struct sync_expectations {
  std::vector<wide_count> semaphore;
  std::vector<wide_count> latch;
  std::vector<std::pair<std::uint32_t, log_entry>> blocked;  // fiber, its begin
  std::vector<bool> latch_opened;  // some wait on it returned true
};

sync_expectations expected_counters(const run_context& ctx) {
  const program_set& p = *ctx.programs;
  sync_expectations x;
  x.semaphore.assign(p.semaphores.begin(), p.semaphores.end());
  x.latch.assign(p.latches.begin(), p.latches.end());
  x.latch_opened.assign(p.latches.size(), false);
  std::map<std::uint32_t, log_entry> open;  // per fiber, the begin of its call in progress
  for (const log_entry& e : ctx.log) {
    const auto amount = static_cast<std::ptrdiff_t>(e.value);
    if (e.kind == ev::begin) {
      open[e.fiber] = e;
      // arrive_and_wait counts down before it waits: undone below if its count_down threw.
      if (e.code == op::latch_arrive_and_wait) x.latch[e.obj] -= amount;
      continue;
    }
    if (e.kind == ev::end) open.erase(e.fiber);
    if (e.kind == ev::act && e.code == op::sem_release && e.thrown == log_entry::none)
      x.semaphore[e.obj] += amount;
    if (e.kind == ev::act && e.code == op::latch_count_down && e.thrown == log_entry::none)
      x.latch[e.obj] -= amount;
    if (e.kind == ev::end && e.code == op::latch_arrive_and_wait && e.thrown != log_entry::none)
      x.latch[e.obj] += amount;
    const bool took = e.kind == ev::end ? !e.cancelled && e.result && is_semaphore_op(e.code)
                      : e.kind == ev::act && e.code == op::sem_try_acquire && e.result;
    if (took) x.semaphore[e.obj] -= 1;
    const bool opened =
        (e.kind == ev::end && !e.cancelled && e.result && is_latch_op(e.code)) ||
        (e.kind == ev::act && e.code == op::latch_try_wait && e.result);
    if (opened) x.latch_opened[e.obj] = true;
  }
  for (const auto& [f, b] : open)
    if (b.code == op::sem_acquire || b.code == op::latch_wait ||
        b.code == op::latch_arrive_and_wait)
      x.blocked.emplace_back(f, b);
  return x;
}

std::string counter_text(wide_count v) {
  if (v >= 0 && v <= ptrdiff_max) return amount_text(static_cast<std::ptrdiff_t>(v));
  return v < 0 ? "a negative number" : "more than PTRDIFF_MAX";
}

// Measures a semaphore's counter after the run, given the expected one: returns it (exact)
// when it is the expected one, else what is known about it (and changes it). Counters up to
// 64 are drained by try_acquire; larger ones are probed at the top: release(n) throws exactly
// when the counter would pass max().
std::ptrdiff_t measure_semaphore(weft::counting_semaphore<>& sem, wide_count expected,
                                 std::string& seen) {
  std::ptrdiff_t k = 0;
  while (k < 64 && sem.try_acquire()) ++k;
  if (k < 64 || expected < 64 || expected > ptrdiff_max) {
    seen = k < 64 ? std::to_string(k) : "64 or more";
    return k < 64 ? k : -1;
  }
  const auto rest = static_cast<std::ptrdiff_t>(expected - 64);
  if (rest == 0) {
    if (!sem.try_acquire()) {
      seen = "64";
      return 64;
    }
    seen = "more than 64";
    return -1;
  }
  // The counter is `rest` iff release(max - rest + 1) throws and release(max - rest) does not.
  if (what_throws([&] { sem.release(ptrdiff_max - rest + 1); }) != log_entry::invalid_argument) {
    seen = "less than " + amount_text(static_cast<std::ptrdiff_t>(expected));
    return -1;
  }
  if (what_throws([&] { sem.release(ptrdiff_max - rest); }) != log_entry::none) {
    seen = "more than " + amount_text(static_cast<std::ptrdiff_t>(expected));
    return -1;
  }
  seen = amount_text(static_cast<std::ptrdiff_t>(expected));
  return static_cast<std::ptrdiff_t>(expected);
}

// The same for a latch: the counter is `expected` iff try_wait says whether it is zero,
// count_down(expected + 1) throws std::logic_error and count_down(expected) does not.
std::ptrdiff_t measure_latch(weft::latch& l, wide_count expected, std::string& seen) {
  if (expected < 0 || expected > ptrdiff_max) {
    seen = l.try_wait() ? "0" : "not 0";
    return l.try_wait() ? 0 : -1;
  }
  const auto e = static_cast<std::ptrdiff_t>(expected);
  if (l.try_wait() != (e == 0)) {
    seen = l.try_wait() ? "0" : "not 0";
    return l.try_wait() ? 0 : -1;
  }
  if (e == 0) {
    seen = "0";
    return 0;
  }
  if (e < ptrdiff_max &&
      what_throws([&] { l.count_down(e + 1); }) != log_entry::logic_error) {
    seen = "less than " + amount_text(e) + " (count_down(" + amount_text(e + 1) +
           ") did not throw std::logic_error)";
    return -1;
  }
  const log_entry::thrown_kind t = what_throws([&] { l.count_down(e); });
  if (t != log_entry::none || !l.try_wait()) {
    seen = "more than " + amount_text(e) + " (count_down(" + amount_text(e) + ") threw " +
           thrown_name(t) + ")";
    return -1;
  }
  seen = amount_text(e);
  return e;
}

// The wait kind a deadlock_error message names for a fiber blocked in `o`.
const char* wait_kind_text(op o) {
  switch (o) {
    case op::send: return "channel send";
    case op::recv: return "channel recv";
    case op::lock: return "mutex";
    case op::wait: return "event";
    case op::join: return "join";
    case op::select: return "select";
    case op::sem_acquire: return "semaphore";
    case op::latch_wait: case op::latch_arrive_and_wait: return "latch";
    case op::fut_get: case op::fut_wait: return "future";
    case op::bar_arrive_and_wait: return "barrier";
    case op::sm_lock: case op::sm_lock_shared: return "shared_mutex";
    case op::rm_lock: return "mutex";  // a recursive_mutex is a weft::mutex inside
    default: return nullptr;
  }
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
  // Every run leaves as many descriptors open as it found (the pipes, the executor's epoll set
  // and eventfd are closed).
  const std::size_t descriptors_before = weft_test::open_fd_count();

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
  for (std::ptrdiff_t n : programs.semaphores)
    ctx->semaphores.push_back(std::make_unique<weft::counting_semaphore<>>(n));
  for (std::ptrdiff_t n : programs.latches) ctx->latches.push_back(std::make_unique<weft::latch>(n));
  for (std::size_t i = 0; i < programs.vocab.futures; ++i) {
    auto f = std::make_unique<future_object>();
    f->promise.emplace();
    f->future = f->promise->get_future();
    ctx->futures.push_back(std::move(f));
  }
  for (std::size_t i = 0; i < programs.barriers.size(); ++i) {
    barrier_object b;
    const auto [expected, completion] = programs.barriers[i];
    if (completion)
      b.with = std::make_unique<weft::barrier<barrier_completion>>(
          expected, barrier_completion{ctx.get(), static_cast<std::uint32_t>(i)});
    else
      b.plain = std::make_unique<weft::barrier<>>(expected);
    ctx->barriers.push_back(std::move(b));
  }
  for (std::size_t i = 0; i < programs.vocab.shared_mutexes; ++i)
    ctx->shared_mutexes.push_back(std::make_unique<weft::shared_mutex>());
  for (std::size_t i = 0; i < programs.vocab.recursive_mutexes; ++i)
    ctx->recursive_mutexes.push_back(std::make_unique<weft::recursive_mutex>());
  current_run.store(ctx.get());
  for (std::size_t i = 0; i < programs.pipes; ++i) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
      std::fprintf(stderr, "schedule fuzzer: socketpair: %s\n", std::strerror(errno));
      std::abort();
    }
    ctx->fds.push_back(sv[0]);
    ctx->fds.push_back(sv[1]);
  }

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
      roots.emplace_back(f, spawn_actor(ctx.get(), f, p, [&ex](auto&&... a) {
                           return ex.spawn(std::forward<decltype(a)>(a)...);
                         }));
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

  // The pipes: every write side shut down, what is left read (up to the end of file), each
  // descriptor closed with io::close.
  std::vector<std::vector<std::uint8_t>> io_drained(ctx->fds.size());
  for (std::uint32_t x = 0; x < ctx->fds.size(); ++x)
    if (!ctx->shut[x].exchange(true) && ::shutdown(ctx->fds[x], SHUT_WR) != 0)
      failures.push_back("shutdown(" + end_text(x) + ", SHUT_WR) after the run failed: " +
                         std::strerror(errno));
  for (std::uint32_t x = 0; x < ctx->fds.size(); ++x) {
    for (;;) {
      std::uint8_t buf[64];
      const ssize_t n = ::read(ctx->fds[x ^ 1], buf, sizeof buf);
      if (n > 0) {
        io_drained[x].insert(io_drained[x].end(), buf, buf + n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0)
        failures.push_back("draining what " + end_text(x) + " wrote after the run: " +
                           std::strerror(errno));
      break;
    }
  }
  for (std::uint32_t x = 0; x < ctx->fds.size(); ++x) {
    try {
      weft::io::close(ctx->fds[x]);
    } catch (const std::system_error& e) {
      failures.push_back("io::close(" + end_text(x) + ") after the run threw: " + e.what());
    }
  }
  if (const std::size_t after = weft_test::open_fd_count(); after != descriptors_before)
    failures.push_back("the run leaves " + std::to_string(after) + " descriptors open, it found " +
                       std::to_string(descriptors_before) + " (a leak, or one closed twice)");

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
  check_io(*ctx, io_drained, failures);
  check_vocabulary(*ctx, failures);
  current_run.store(nullptr);

  // Semaphore and latch counters: what the log says they must be (any schedule), measured.
  const sync_expectations sync = expected_counters(*ctx);
  std::vector<std::ptrdiff_t> semaphore_counters, latch_counters;
  for (std::size_t i = 0; i < ctx->semaphores.size(); ++i) {
    std::string seen;
    semaphore_counters.push_back(measure_semaphore(*ctx->semaphores[i], sync.semaphore[i], seen));
    if (semaphore_counters.back() < 0 || semaphore_counters.back() != sync.semaphore[i])
      failures.push_back("semaphore " + std::to_string(i) + ": the counter after the run is " +
                         seen + ", but the log's releases and acquisitions leave " +
                         counter_text(sync.semaphore[i]));
  }
  for (std::size_t i = 0; i < ctx->latches.size(); ++i) {
    std::string seen;
    latch_counters.push_back(measure_latch(*ctx->latches[i], sync.latch[i], seen));
    if (latch_counters.back() < 0 || latch_counters.back() != sync.latch[i])
      failures.push_back("latch " + std::to_string(i) + ": the counter after the run is " + seen +
                         ", but the log's count_downs leave " + counter_text(sync.latch[i]));
    if (sync.latch_opened[i] && sync.latch[i] != 0)
      failures.push_back("latch " + std::to_string(i) + ": a wait returned true, but the "
                         "counter never reached zero (" + counter_text(sync.latch[i]) + " left)");
  }
  // A fiber left waiting, untimed, on a semaphore with units or a latch at zero lost a wakeup.
  for (const auto& [f, b] : sync.blocked) {
    if (b.code == op::sem_acquire && sync.semaphore[b.obj] > 0)
      failures.push_back("fiber " + std::to_string(f) + " never returned from acquire() on "
                         "semaphore " + std::to_string(b.obj) + ", whose counter is " +
                         counter_text(sync.semaphore[b.obj]));
    if (b.code != op::sem_acquire && sync.latch[b.obj] == 0)
      failures.push_back("fiber " + std::to_string(f) + " never returned from " +
                         op_name(b.code) + " on latch " + std::to_string(b.obj) +
                         ", whose counter is 0");
  }

  // Without a linearised log (or a model that gave up): a deadlock exactly when some fiber
  // did not finish.
  // A deadlock_error message lists each blocked actor as `fiber 7 "<fz3>" waits on ...`, or
  // for a task `task 7 "<fz3>" waits on ...` (its weft id, then its name).
  const auto listed_as = [&](std::uint32_t f, std::uint64_t weft_id) {
    const bool is_task = programs.tasks[ctx->records[f].program];
    return (is_task ? "task " : "fiber ") + std::to_string(weft_id) + " \"<fz" +
           std::to_string(f) + ">\"";
  };
  const auto check_deadlock_coarsely = [&] {
    std::size_t finished = 0;
    std::map<std::uint32_t, std::uint64_t> unfinished;  // started and not finished: weft ids
    for (const log_entry& e : ctx->log) {
      finished += e.kind == ev::finish;
      if (e.kind == ev::start) unfinished[e.fiber] = e.value;
      if (e.kind == ev::finish) unfinished.erase(e.fiber);
    }
    const bool all_finished = finished == std::min<std::size_t>(spawned.size(), created);
    if (deadlocked == all_finished)
      failures.push_back(deadlocked ? "deadlock_error although every fiber finished"
                                    : "run() ended normally but fibers did not finish");
    // Every actor left is blocked (one spawned and not started would be ready): listed.
    if (deadlocked)
      for (const auto& [f, id] : unfinished)
        if (deadlock_message.find(listed_as(f, id) + " waits on ") == std::string::npos)
          failures.push_back("the deadlock_error message does not list blocked actor <fz" +
                             std::to_string(f) + "> as `" + listed_as(f, id) +
                             " waits on ...`:\n" + deadlock_message);
  };
  std::size_t worlds = 0;
  bool model_gave_up = false;
  if (o.workers == 1) {
    model_set ms(programs);
    for (std::uint32_t i = 0; i < programs.roots.size(); ++i) ms.create_root(i);
    for (std::size_t i = 0; i < ctx->log.size(); ++i)
      ms.apply(ctx->log[i], i + 1 < ctx->log.size() ? ctx->log[i + 1].time_ns
                                                    : std::numeric_limits<std::int64_t>::max());
    ms.check_drained(drained);
    ms.check_io_drained(io_drained);
    if (failures.empty()) ms.check_counters(semaphore_counters, latch_counters);
    worlds = ms.worlds().size();
    model_gave_up = ms.gave_up();
    if (model_gave_up) {
      check_deadlock_coarsely();
    } else if (ms.worlds().empty()) {
      failures.push_back(ms.failure());
    } else if (failures.empty()) {
      // Some world must agree with weft on whether the program is deadlocked.
      const model* agreeing = nullptr;
      std::string why_not;
      for (const model& m : ms.worlds()) {
        std::string why;
        if (m.deadlocked(why) == deadlocked) {
          agreeing = &m;
          break;
        }
        if (why_not.empty()) why_not = why;
      }
      if (agreeing == nullptr && deadlocked)
        failures.push_back("weft reported a deadlock the model does not see: " + why_not +
                           "\n  weft said: " + deadlock_message);
      if (agreeing == nullptr && !deadlocked)
        failures.push_back("run() ended normally but the model sees fibers deadlocked");
      if (agreeing != nullptr && deadlocked)
        for (std::uint32_t f : agreeing->unfinished()) {
          // Each blocked actor is listed (listed_as) ...
          const std::string name = "<fz" + std::to_string(f) + ">";
          const std::string listed = listed_as(f, agreeing->weft_id(f));
          if (deadlock_message.find(listed + " waits on ") == std::string::npos) {
            failures.push_back("the deadlock_error message does not list blocked actor " + name +
                               " as `" + listed + " waits on ...`:\n" + deadlock_message);
            continue;
          }
          // ... and what it waits on ("fiber 7 "<fz3>" waits on semaphore 0x...").
          const char* kind = wait_kind_text(agreeing->pending_of(f));
          if (kind != nullptr &&
              deadlock_message.find(listed + " waits on " + kind) == std::string::npos)
            failures.push_back("the deadlock_error message does not say that " + name +
                               " waits on " + kind + " (in " + op_name(agreeing->pending_of(f)) +
                               "):\n" + deadlock_message);
        }
    }
  } else {
    check_deadlock_coarsely();
  }

  if (o.verbose && failures.empty()) std::fprintf(stderr, "log:\n%s", format_log(ctx->log).c_str());
  if (o.verbose)
    std::fprintf(stderr, "  -> %s, %zu fibers, %zu log entries, %s\n",
                 deadlocked ? "deadlock_error" : "finished", spawned.size(), ctx->log.size(),
                 o.workers != 1 ? "no model (several workers)"
                 : model_gave_up ? "the model gave up (too many possible worlds)"
                                 : (std::to_string(worlds) + " model world(s) left").c_str());
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
