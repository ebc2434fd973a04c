// weft_executor_bench: the executor's operations against Boost.Fiber (pooled stacks) and
// std::thread, measured interleaved in one process; skynet and live-fiber memory, each run in
// a child process so that its peak RSS is its own; and the cost of trace points.
//
//   yield        two fibers yielding to each other; ns per A->B->A round trip
//                (std::thread: two threads handing a turn over with a condition variable)
//   spawn+join   a fiber spawns an empty fiber and joins it; ns per pair (also on 2 workers,
//                the second idle)
//                (std::thread: create an empty thread and join it)
//   skynet       a 10-ary tree of fibers with N leaves, join-based sum; ms per run, peak RSS.
//                weft on 1 and 2 workers at 10k, 100k and 1M leaves; Boost.Fiber round_robin
//                (one thread, pooled stacks) and work_stealing (two threads, malloc'd stacks:
//                the pool is not thread-safe) and std::thread (a thread per node) at 10k and
//                100k (at 1M Boost.Fiber needs ~17 GB and std::thread hits EAGAIN)
//                At 1M also two 1-worker skynets at once on separate executors (ms per
//                skynet: half the wall time), the bound of a 2-worker run on this machine
//   memory       N fibers blocked at once (16 KiB stacks, no guard pages, weft and Boost.Fiber
//                alike); KiB of peak RSS per live fiber, less an idle child's peak RSS
//   tasks        C++20 weft::task candidates in the tiers above (bench/task_candidates.hpp):
//                yield and spawn+join of spawned tasks; skynet at 100k and 1M as spawned tasks,
//                as one chain of awaited tasks, as a hand-written coroutine with no scheduler
//                (the floor) and as Boost.Asio awaitables co_spawned on one io_context;
//                100k spawned tasks blocked on one event (memory)
//   trace        yield and spawn+join with trace points compiled in: tracing off, on into a
//                no-op user sink, and on into the Chrome ring buffer. In a WEFT_TRACE=OFF build
//                only the "trace off" candidates run (that is the compiled-out figure)
//
// Every tier's ratio is to its weft candidate (trace: to "trace off"). Candidates of one tier
// are measured interleaved: each repetition visits every candidate once, starting one further
// along each time. --filter selects candidates by "tier/name" (see bench_common.hpp).
//
// CSV rows beyond the tiers above, for bench/compare: "skynet-rss" (peak RSS in MiB, in the
// median/min/max columns), "skynet-threads" (how many OS threads ran skynet leaves, for the
// multi-worker candidates) and "skynet-os-limit" (runs the OS refused, std::thread's EAGAIN:
// median = min = failed runs, max = runs tried; such runs are no samples and no failure).
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/fiber/all.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <weft/trace.hpp>
#include <weft/weft.hpp>

#include "bench_common.hpp"
#include "support/skynet.hpp"
#include "task_candidates.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
using weft::bench::do_not_optimize;
using weft::bench::ns_since;

// ---- yield round trip --------------------------------------------------------------------

double weft_yield(std::uint64_t round_trips) {
  weft::executor ex;
  clock_type::time_point start;
  auto yielder = [&] {
    for (std::uint64_t i = 0; i < round_trips; ++i) weft::this_fiber::yield();
  };
  ex.spawn([&] {
    start = clock_type::now();
    auto a = weft::spawn(yielder);
    auto b = weft::spawn(yielder);
    a.join();
    b.join();
  });
  ex.run();
  return ns_since(start) / static_cast<double>(round_trips);
}

boost::fibers::pooled_fixedsize_stack& boost_stacks() {
  static boost::fibers::pooled_fixedsize_stack pool(64 * 1024);
  return pool;
}

double boost_yield(std::uint64_t round_trips) {
  auto yielder = [&] {
    for (std::uint64_t i = 0; i < round_trips; ++i) boost::this_fiber::yield();
  };
  auto start = clock_type::now();
  boost::fibers::fiber a(std::allocator_arg, boost_stacks(), yielder);
  boost::fibers::fiber b(std::allocator_arg, boost_stacks(), yielder);
  a.join();
  b.join();
  return ns_since(start) / static_cast<double>(round_trips);
}

// Two threads hand a turn back and forth through a mutex and two condition variables; one
// round trip is main -> other -> main.
double thread_ping_pong(std::uint64_t round_trips) {
  std::mutex m;
  std::condition_variable to_other, to_main;
  bool others_turn = false;
  std::thread other([&] {
    std::unique_lock lock(m);
    for (std::uint64_t i = 0; i < round_trips; ++i) {
      to_other.wait(lock, [&] { return others_turn; });
      others_turn = false;
      to_main.notify_one();
    }
  });
  auto start = clock_type::now();
  {
    std::unique_lock lock(m);
    for (std::uint64_t i = 0; i < round_trips; ++i) {
      others_turn = true;
      to_other.notify_one();
      to_main.wait(lock, [&] { return !others_turn; });
    }
  }
  double ns = ns_since(start);
  other.join();
  return ns / static_cast<double>(round_trips);
}

// ---- spawn + join ------------------------------------------------------------------------

// On `workers` workers: with more than one, the others are idle and must not keep stealing
// the loop's fiber (or waking up for it) while each child runs for a few nanoseconds.
double weft_spawn_join_on(std::uint64_t pairs, std::size_t workers) {
  double ns = 0;
  weft::executor_options options;
  options.workers = workers;
  weft::run(
      [&] {
        weft::spawn([] {}).join();  // warm the stack pool
        auto start = clock_type::now();
        for (std::uint64_t i = 0; i < pairs; ++i) weft::spawn([] {}).join();
        ns = ns_since(start);
      },
      options);
  return ns / static_cast<double>(pairs);
}

double weft_spawn_join(std::uint64_t pairs) { return weft_spawn_join_on(pairs, 1); }

double boost_spawn_join(std::uint64_t pairs) {
  double ns = 0;
  boost::fibers::fiber outer(std::allocator_arg, boost_stacks(), [&] {
    boost::fibers::fiber(std::allocator_arg, boost_stacks(), [] {}).join();
    auto start = clock_type::now();
    for (std::uint64_t i = 0; i < pairs; ++i)
      boost::fibers::fiber(std::allocator_arg, boost_stacks(), [] {}).join();
    ns = ns_since(start);
  });
  outer.join();
  return ns / static_cast<double>(pairs);
}

double thread_create_join(std::uint64_t pairs) {
  auto start = clock_type::now();
  for (std::uint64_t i = 0; i < pairs; ++i) std::thread([] {}).join();
  return ns_since(start) / static_cast<double>(pairs);
}

// ---- one-byte echo over a socketpair --------------------------------------------------------

// Two fibers of one worker bounce a byte over an AF_UNIX socketpair: each read that finds
// nothing waits in the executor's reactor. ns per round trip.
double weft_socket_echo(std::uint64_t round_trips) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return -1;
  double ns = 0;
  weft::run([&] {
    auto echo = weft::spawn([&] {
      std::byte b[1];
      while (weft::io::read_some(sv[1], b) == 1) weft::io::write_all(sv[1], b);
    });
    std::byte b[1]{};
    const auto start = clock_type::now();
    for (std::uint64_t i = 0; i < round_trips; ++i) {
      weft::io::write_all(sv[0], b);
      weft::io::read_some(sv[0], b);
    }
    ns = ns_since(start);
    ::shutdown(sv[0], SHUT_WR);
    echo.join();
  });
  ::close(sv[0]);
  ::close(sv[1]);
  return ns / static_cast<double>(round_trips);
}

// The same with two threads and plain blocking read and write.
double thread_socket_echo(std::uint64_t round_trips) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return -1;
  std::thread echo([&] {
    char c;
    while (::read(sv[1], &c, 1) == 1)
      if (::write(sv[1], &c, 1) != 1) break;
  });
  char c = 0;
  const auto start = clock_type::now();
  for (std::uint64_t i = 0; i < round_trips; ++i)
    if (::write(sv[0], &c, 1) != 1 || ::read(sv[0], &c, 1) != 1) break;
  const double ns = ns_since(start);
  ::shutdown(sv[0], SHUT_WR);
  echo.join();
  ::close(sv[0]);
  ::close(sv[1]);
  return ns / static_cast<double>(round_trips);
}

// ---- trace overhead ----------------------------------------------------------------------

enum class trace_mode { off, noop_sink, chrome };

// Whether this build has trace points (trace::enable throws std::logic_error if not).
bool trace_compiled_in() {
  try {
    weft::trace::enable(weft::trace::sink([](const weft::trace::event&) {}));
  } catch (const std::logic_error&) {
    return false;
  }
  weft::trace::disable();
  return true;
}

// Runs measure() with tracing as `mode` says; turning tracing on and off (and writing the
// Chrome trace to /dev/null) happens outside the timed region.
double with_tracing(trace_mode mode, const std::function<double()>& measure) {
  if (mode == trace_mode::noop_sink)
    weft::trace::enable(weft::trace::sink([](const weft::trace::event& e) {
      std::uint64_t id = e.fiber_id;
      do_not_optimize(id);
    }));
  else if (mode == trace_mode::chrome)
    weft::trace::enable("chrome:/dev/null");
  double ns = measure();
  weft::trace::disable();
  return ns;
}

// ---- skynet ------------------------------------------------------------------------------

// Multi-worker candidates count the OS threads that ran a leaf (one thread_local flag each).
thread_local bool leaf_thread_counted = false;
std::atomic<int> leaf_threads{0};

// weft's skynet (tests/support/skynet.hpp) takes this as its leaf hook.
struct count_leaf_thread {
  void operator()() const noexcept {
    if (!leaf_thread_counted) {
      leaf_thread_counted = true;
      leaf_threads.fetch_add(1, std::memory_order_relaxed);
    }
  }
};

// skynet on a new executor with default options (one worker).
std::uint64_t weft_skynet(std::uint64_t leaves) {
  return weft::run([leaves] { return weft_test::skynet(0, leaves); });
}

// Boost.Fiber: `stacks()` gives the stack allocator (the pooled one is not thread-safe, so the
// work-stealing candidate uses malloc'd fixed-size stacks).
template <class Stacks>
std::uint64_t boost_skynet_node(Stacks stacks, std::uint64_t num, std::uint64_t size) {
  if (size == 1) {
    if (!leaf_thread_counted) {
      leaf_thread_counted = true;
      leaf_threads.fetch_add(1, std::memory_order_relaxed);
    }
    return num;
  }
  std::array<boost::fibers::fiber, 10> children;
  std::array<std::uint64_t, 10> sums{};
  for (std::uint64_t i = 0; i < 10; ++i)
    children[i] = boost::fibers::fiber(std::allocator_arg, stacks(), [&sums, stacks, i, num, size] {
      sums[i] = boost_skynet_node(stacks, num + i * (size / 10), size / 10);
    });
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < 10; ++i) {
    children[i].join();
    sum += sums[i];
  }
  return sum;
}

struct pooled_stacks {
  boost::fibers::pooled_fixedsize_stack& operator()() const { return boost_stacks(); }
};
struct malloc_stacks {
  boost::fibers::fixedsize_stack operator()() const {
    return boost::fibers::fixedsize_stack(64 * 1024);
  }
};

std::uint64_t boost_round_robin_skynet(std::uint64_t leaves) {
  std::uint64_t sum = 0;
  boost::fibers::fiber root(std::allocator_arg, boost_stacks(),
                            [&] { sum = boost_skynet_node(pooled_stacks{}, 0, leaves); });
  root.join();
  return sum;
}

// Two threads, each with Boost.Fiber's work_stealing scheduler for 2 threads; the helper
// thread's main fiber sleeps on a fiber condition variable until the tree is done.
std::uint64_t boost_work_stealing_skynet(std::uint64_t leaves) {
  using ws = boost::fibers::algo::work_stealing;
  boost::fibers::mutex m;
  boost::fibers::condition_variable_any cv;
  bool done = false;
  std::thread helper([&] {
    boost::fibers::use_scheduling_algorithm<ws>(2);
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return done; });
  });
  boost::fibers::use_scheduling_algorithm<ws>(2);
  std::uint64_t sum = 0;
  boost::fibers::fiber root(std::allocator_arg, malloc_stacks{}(),
                            [&] { sum = boost_skynet_node(malloc_stacks{}, 0, leaves); });
  root.join();
  {
    std::unique_lock lock(m);
    done = true;
  }
  cv.notify_all();
  helper.join();
  return sum;
}

// Set when creating a thread fails (EAGAIN: too many live threads for the OS limits); the
// tree then finishes with a wrong sum and the run reports the failure.
std::atomic<bool> thread_create_failed{false};

std::uint64_t thread_skynet_node(std::uint64_t num, std::uint64_t size) {
  if (size == 1) return num;
  std::array<std::thread, 10> children;
  std::array<std::uint64_t, 10> sums{};
  for (std::uint64_t i = 0; i < 10; ++i) {
    try {
      children[i] = std::thread([&sums, i, num, size] {
        sums[i] = thread_skynet_node(num + i * (size / 10), size / 10);
      });
    } catch (const std::system_error&) {
      thread_create_failed.store(true);
    }
  }
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < 10; ++i) {
    if (children[i].joinable()) children[i].join();
    sum += sums[i];
  }
  return sum;
}

std::uint64_t skynet_expected(std::uint64_t leaves) { return leaves * (leaves - 1) / 2; }

// ---- the bound of a 2-worker skynet ---------------------------------------------------
// Two 1-worker skynets at once, each on its own executor and thread: both cores busy with no
// coordination between them at all. Half their wall time is what a perfect 2-worker run of
// one skynet could take on this machine (which slows each core down when both are busy).

std::uint64_t weft_skynet_pair(std::uint64_t leaves) {
  std::uint64_t second = 0;
  std::thread helper([&] { second = weft_skynet(leaves); });
  const std::uint64_t first = weft_skynet(leaves);
  helper.join();
  return first + second;
}

// ---- many blocked fibers -----------------------------------------------------------------

constexpr std::size_t memory_stack_size = 16 * 1024;

bool weft_blocked_fibers(std::uint64_t count) {
  weft::executor_options o;
  o.stack_size = memory_stack_size;
  o.guard_pages = false;
  weft::executor ex(o);
  weft::event ev;
  std::uint64_t finished = 0;
  ex.spawn([&] {
    for (std::uint64_t i = 0; i < count; ++i) weft::spawn([&] {
      ev.wait();
      ++finished;
    });
    ev.set();
  });
  ex.run();
  return finished == count;
}

bool weft_blocked_tasks(std::uint64_t count) {
  return weft::bench::weft_blocked_tasks(count, memory_stack_size);
}

bool boost_blocked_fibers(std::uint64_t count) {
  boost::fibers::pooled_fixedsize_stack stacks(memory_stack_size);
  boost::fibers::mutex m;
  boost::fibers::condition_variable cv;
  bool go = false;
  std::uint64_t finished = 0;
  std::vector<boost::fibers::fiber> fibers;
  fibers.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i)
    fibers.emplace_back(std::allocator_arg, stacks, [&] {
      std::unique_lock lock(m);
      cv.wait(lock, [&] { return go; });
      ++finished;
    });
  boost::this_fiber::yield();  // every fiber runs and blocks
  {
    std::unique_lock lock(m);
    go = true;
  }
  cv.notify_all();
  for (auto& f : fibers) f.join();
  return finished == count;
}

// ---- child-process measurements ----------------------------------------------------------

struct child_result {
  double ms = 0;
  double peak_rss_kib = 0;
  double value = 0;  // what f returned
  bool ok = false;
  bool os_limit = false;  // f returned os_limit_hit
};

constexpr double os_limit_hit = -2;  // f's result when the OS refused to create a thread

// Runs f() in a forked child; returns its wall time, peak RSS and f's result. f returns a
// negative number to report failure (os_limit_hit: an OS limit, not a wrong result).
child_result in_child(const std::function<double()>& f) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    auto start = clock_type::now();
    double value = -1;
    try {
      value = f();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: %s\n", e.what());
      _exit(4);
    }
    double out[2] = {ns_since(start) / 1e6, value};
    if (value == os_limit_hit) _exit(5);
    if (value < 0) _exit(2);
    if (write(fds[1], out, sizeof out) != sizeof out) _exit(3);
    _exit(0);
  }
  close(fds[1]);
  child_result r;
  double in[2] = {0, 0};
  bool got = read(fds[0], in, sizeof in) == sizeof in;
  close(fds[0]);
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  r.ok = got && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  r.os_limit = WIFEXITED(status) && WEXITSTATUS(status) == 5;
  r.ms = in[0];
  r.value = in[1];
  r.peak_rss_kib = static_cast<double>(usage.ru_maxrss);
  return r;
}

// ---- interleaving ------------------------------------------------------------------------

struct series {
  series(std::string tier, std::string name, std::function<double()> measure = {}, int reps = 0)
      : tier(std::move(tier)), name(std::move(name)), measure(std::move(measure)), reps(reps) {}

  std::string tier, name;
  std::function<double()> measure;  // one sample
  int reps = 0;                     // 0: all repetitions
  std::vector<double> samples;
  bool ok = true;
};

// Measures every series `reps` times (fewer where a series says so), round-robin, starting one
// series further along each repetition; `warm_up` runs each once first, unrecorded.
void interleave(std::vector<series>& all, int reps, bool warm_up) {
  if (all.empty()) return;
  if (warm_up)
    for (auto& s : all) s.measure();
  for (int rep = 0; rep < reps; ++rep)
    for (std::size_t k = 0; k < all.size(); ++k) {
      auto& s = all[(static_cast<std::size_t>(rep) + k) % all.size()];
      if (s.reps > 0 && rep >= s.reps) continue;
      s.samples.push_back(s.measure());
    }
}

std::vector<series> selected(std::vector<series> all, const weft::bench::options& opt) {
  std::erase_if(all, [&](const series& s) { return !opt.selected(s.tier, s.name); });
  return all;
}

// Appends the series' rows (failed ones are left out), ratios to the row named `baseline`.
void add_rows(std::vector<weft::bench::result_row>& rows, const std::vector<series>& all,
              const std::string& baseline, double scale = 1) {
  std::vector<weft::bench::result_row> tier_rows;
  for (const auto& s : all) {
    if (!s.ok) continue;
    auto sum = weft::bench::summarize(s.samples);
    tier_rows.push_back(
        {s.tier, s.name, {sum.median * scale, sum.min * scale, sum.max * scale}, NAN});
  }
  weft::bench::set_ratios(tier_rows, baseline);
  rows.insert(rows.end(), tier_rows.begin(), tier_rows.end());
}

void print_tier(const std::vector<weft::bench::result_row>& rows, std::size_t from,
                const char* title, const char* unit, const char* ratio_title) {
  std::vector<weft::bench::result_row> part(rows.begin() + static_cast<std::ptrdiff_t>(from),
                                            rows.end());
  if (part.empty()) return;
  std::printf("\n%s\n", title);
  weft::bench::print_table(part, unit, ratio_title);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  weft::bench::options defaults;
  defaults.reps = 7;
  defaults.iters = 200'000;
  weft::bench::options opt = weft::bench::parse_options(argc, argv, defaults);
  // Without --full or --filter: the headline rows beside Boost.Fiber (yield, spawn+join,
  // skynet 1M, memory per fiber), in well under a minute. --full adds the rest: skynet at every
  // size and on 2 workers, std::thread, the socket echo and the trace cost.
  const bool quick = !opt.full && opt.filter.empty();
  if (quick)
    opt.filter = "yield/weft|yield/boost|spawn+join/weft|spawn+join/boost|"
                 "skynet/weft 1 worker 1M|skynet/weft 1 worker 100k|"
                 "skynet/boost.fiber round_robin 100k|memory/weft 100k|memory/boost";
  const std::uint64_t n = opt.iters;
  // std::thread candidates are ~100x slower: they run n / this many operations per rep.
  constexpr std::uint64_t thread_divisor = 50;
  const std::uint64_t thread_n = std::max<std::uint64_t>(n / thread_divisor, 10);
  // Whole-program candidates (child processes) run at most this many repetitions.
  const int whole_reps = quick ? 3 : std::max(1, std::min(opt.reps, 9));
  const int thread_skynet_reps = std::max(1, std::min(opt.reps, 5));  // ~5 s a run

  std::printf("weft_executor_bench: %s, backend %.*s, %d reps interleaved, %llu ops per rep "
              "(std::thread: %llu)\n",
              quick ? "the quick set (--full: every tier)" : "every tier",
              static_cast<int>(weft::context_backend().size()), weft::context_backend().data(),
              opt.reps, static_cast<unsigned long long>(n),
              static_cast<unsigned long long>(thread_n));
#ifndef __OPTIMIZE__
  std::printf("  WARNING: built without optimisation; use a Release build for real numbers\n");
#endif
  std::vector<weft::bench::result_row> rows;
  bool all_ok = true;

  // ---- whole-program tiers, first, while this process is small: each run is a child process,
  // and a child's peak RSS includes what it shares with this process ----
  struct whole {
    std::string name;
    std::uint64_t leaves;
    std::function<std::uint64_t()> run;
    bool count_threads = false;
    int reps = 0;      // 0: whole_reps
    int copies = 1;    // skynets per run: the sum and the time are of all of them
  };
  std::vector<whole> skynets;
  for (std::uint64_t leaves : {10'000ull, 100'000ull, 1'000'000ull}) {
    std::string size = leaves == 10'000 ? "10k" : leaves == 100'000 ? "100k" : "1M";
    skynets.push_back({"weft 1 worker " + size, leaves, [leaves] { return weft_skynet(leaves); }});
    skynets.push_back({"weft 2 workers " + size, leaves,
                       [leaves] {
                         weft::executor_options o;
                         o.workers = 2;
                         auto root = [leaves] {
                           return weft_test::skynet<count_leaf_thread>(0, leaves);
                         };
                         return weft::run(root, o);
                       },
                       true});
    if (leaves != 10'000) {  // C++20 tasks (task_candidates.hpp): ratio to weft's fibers
      skynets.push_back({"weft tasks 1 worker " + size, leaves,
                         [leaves] { return weft::bench::weft_task_skynet(leaves); }});
      skynets.push_back({"weft awaited tasks " + size, leaves,
                         [leaves] { return weft::bench::weft_awaited_task_skynet(leaves); }});
      skynets.push_back({"coroutine floor " + size, leaves,
                         [leaves] { return weft::bench::coroutine_floor_skynet(leaves); }});
      skynets.push_back({"boost.asio awaitable " + size, leaves,
                         [leaves] { return weft::bench::asio_skynet(leaves); }});
    }
    if (leaves == 1'000'000) {
      // Interleaved with the skynets it bounds (see weft_skynet_pair); ms per skynet.
      skynets.push_back({"weft 1 worker x2 at once " + size, leaves,
                         [leaves] { return weft_skynet_pair(leaves); }, false, 0, 2});
      break;
    }
    // Boost.Fiber at 1M leaves needs ~17 GB here (the whole tree is live at once), and
    // std::thread at 1M fails to create threads (EAGAIN): both run at 10k and 100k only.
    skynets.push_back({"boost.fiber round_robin " + size, leaves,
                       [leaves] { return boost_round_robin_skynet(leaves); }});
    skynets.push_back({"boost.fiber work_stealing " + size, leaves,
                       [leaves] { return boost_work_stealing_skynet(leaves); }, true});
    skynets.push_back({"std::thread " + size, leaves,
                       [leaves] { return thread_skynet_node(0, leaves); }, false,
                       leaves == 100'000 ? thread_skynet_reps : 0});
  }

  std::vector<series> sky;
  std::vector<std::vector<double>> sky_rss, sky_threads;
  std::vector<int> sky_os_limit;  // runs that hit an OS limit (std::thread: EAGAIN)
  sky_rss.reserve(skynets.size());
  sky_threads.reserve(skynets.size());
  sky_os_limit.reserve(skynets.size());
  for (auto& w : skynets) {
    if (!opt.selected("skynet", w.name)) continue;
    auto& rss = sky_rss.emplace_back();
    auto& threads = sky_threads.emplace_back();
    auto& os_limit = sky_os_limit.emplace_back(0);
    std::size_t index = sky.size();
    sky.push_back({"skynet", w.name, {}, std::min(w.reps ? w.reps : whole_reps, whole_reps)});
    sky.back().measure = [&w, &rss, &threads, &os_limit, &sky, index] {
      child_result r = in_child([&w] {
        std::uint64_t sum = w.run();
        if (thread_create_failed.load()) return os_limit_hit;
        if (sum != skynet_expected(w.leaves) * static_cast<std::uint64_t>(w.copies)) {
          std::fprintf(stderr, "%s: wrong sum %llu\n", w.name.c_str(),
                       static_cast<unsigned long long>(sum));
          return -1.0;
        }
        return static_cast<double>(leaf_threads.load());
      });
      if (r.os_limit) {  // not a sample: this run could not be made
        ++os_limit;
        return std::numeric_limits<double>::quiet_NaN();
      }
      if (!r.ok) sky[index].ok = false;
      rss.push_back(r.peak_rss_kib / 1024.0);
      threads.push_back(r.value);
      return r.ms / w.copies;
    };
  }
  interleave(sky, whole_reps, false);
  for (auto& s : sky) {
    std::erase_if(s.samples, [](double v) { return std::isnan(v); });
    if (s.samples.empty()) s.ok = false;
  }
  std::size_t mark = rows.size();
  add_rows(rows, sky, "weft 1 worker 100k", 1e6);  // ms -> ns
  for (auto& r : rows)  // each size's ratio is to weft 1 worker at that size
    if (r.tier == "skynet") {
      std::string size = r.name.substr(r.name.rfind(' ') + 1);
      const auto* base = weft::bench::find_row(rows, "weft 1 worker " + size);
      r.ratio = base ? r.ns.median / base->ns.median : NAN;
    }
  print_tier(rows, mark, "skynet: ns per run (child processes; ratio: to weft 1 worker, same size)",
             "ns", "x weft");
  if (!sky.empty())
    std::printf("%-34s %14s %14s  %s\n", "candidate", "peak RSS MiB", "leaf threads", "check");
  for (std::size_t i = 0; i < sky.size(); ++i) {
    auto rss = weft::bench::summarize(sky_rss[i]);
    auto thr = weft::bench::summarize(sky_threads[i]);
    const auto& w = *std::find_if(skynets.begin(), skynets.end(),
                                  [&](const whole& x) { return x.name == sky[i].name; });
    std::string check = sky[i].ok ? "sum ok" : sky_os_limit[i] ? "no run completed" : "FAILED";
    if (sky_os_limit[i])
      check += ", " + std::to_string(sky_os_limit[i]) + " run(s) failed with EAGAIN (OS limits)";
    std::printf("%-34s %14.1f %14s  %s\n", sky[i].name.c_str(), rss.median,
                w.count_threads ? std::to_string(static_cast<int>(thr.max)).c_str() : "-",
                check.c_str());
    // Runs refused by the OS are reported (skynet-os-limit: failed runs, min = max = runs
    // tried), not counted as a failure of the benchmark.
    if (sky_os_limit[i]) {
      double failed = sky_os_limit[i];
      double tried = failed + static_cast<double>(sky[i].samples.size());
      rows.push_back({"skynet-os-limit", sky[i].name, {failed, failed, tried}, NAN});
    }
    all_ok = all_ok && (sky[i].ok || sky_os_limit[i] > 0);
    if (!sky[i].ok) continue;
    rows.push_back({"skynet-rss", sky[i].name, rss, NAN});
    if (w.count_threads) rows.push_back({"skynet-threads", sky[i].name, thr, NAN});
  }

  // ---- memory per live fiber ----
  const double idle_rss_kib = in_child([] { return 0.0; }).peak_rss_kib;
  std::vector<series> mem;
  for (auto [name, count, fn] :
       {std::tuple<const char*, std::uint64_t, bool (*)(std::uint64_t)>{
            "weft 100k live fibers", 100'000, &weft_blocked_fibers},
        {"boost.fiber 100k live fibers", 100'000, &boost_blocked_fibers},
        {"weft 1M live fibers", 1'000'000, &weft_blocked_fibers},
        {"weft tasks 100k live", 100'000, &weft_blocked_tasks}}) {
    if (!opt.selected("memory", name)) continue;
    std::size_t index = mem.size();
    mem.push_back({"memory", name, {}, whole_reps});
    mem.back().measure = [&mem, index, count, fn, idle_rss_kib] {
      child_result r = in_child([count, fn] { return fn(count) ? 0.0 : -1.0; });
      if (!r.ok) mem[index].ok = false;
      return (r.peak_rss_kib - idle_rss_kib) / static_cast<double>(count);
    };
  }
  // (Boost.Fiber at 1M live fibers would need ~1M x its 100k figure: left out.)
  interleave(mem, whole_reps, false);
  mark = rows.size();
  add_rows(rows, mem, "weft 100k live fibers");
  print_tier(rows, mark,
             "memory: KiB of peak RSS per live fiber (16 KiB stacks, no guard pages; less an "
             "idle child's RSS; ratio: to weft 100k)",
             "KiB", "x weft");
  for (auto& s : mem) {
    if (!s.ok) std::printf("%s: FAILED\n", s.name.c_str());
    all_ok = all_ok && s.ok;
  }

  // ---- in-process tiers ----
  mark = rows.size();
  auto yield = selected({{"yield", "weft", [&] { return weft_yield(n); }},
                         {"yield", "weft tasks", [&] { return weft::bench::weft_task_yield(n); }},
                         {"yield", "boost.fiber", [&] { return boost_yield(n); }},
                         {"yield", "std::thread cv ping-pong",
                          [&] { return thread_ping_pong(thread_n); }}},
                        opt);
  interleave(yield, opt.reps, true);
  add_rows(rows, yield, "weft");

  auto spawn = selected({{"spawn+join", "weft", [&] { return weft_spawn_join(n); }},
                         {"spawn+join", "weft 2 workers", [&] { return weft_spawn_join_on(n, 2); }},
                         {"spawn+join", "weft task",
                          [&] { return weft::bench::weft_task_spawn_join(n); }},
                         {"spawn+join", "boost.fiber", [&] { return boost_spawn_join(n); }},
                         {"spawn+join", "std::thread create+join",
                          [&] { return thread_create_join(thread_n); }}},
                        opt);
  interleave(spawn, opt.reps, true);
  add_rows(rows, spawn, "weft");
  print_tier(rows, mark,
             "ns per operation (Boost.Fiber: pooled 64 KiB stacks; ratio: to weft, same run)", "ns",
             "x weft");

  mark = rows.size();
  auto echo = selected({{"socket echo", "weft", [&] { return weft_socket_echo(thread_n); }},
                        {"socket echo", "std::thread blocking read/write",
                         [&] { return thread_socket_echo(thread_n); }}},
                       opt);
  interleave(echo, opt.reps, true);
  add_rows(rows, echo, "weft");
  print_tier(rows, mark,
             "one-byte echo round trip over an AF_UNIX socketpair, ns (weft: two fibers of one "
             "worker; threads: two, blocking calls; ratio: to weft, same run)",
             "ns", "x weft");
  for (auto& s : echo) all_ok = all_ok && s.ok;

  // ---- trace overhead ----
  const bool traced = trace_compiled_in();
  mark = rows.size();
  {
    std::vector<series> all;
    auto add = [&](const char* op, trace_mode mode, const char* label,
                   std::function<double()> measure) {
      all.push_back({"trace", std::string("weft ") + op + " trace " + label,
                     [mode, measure] { return with_tracing(mode, measure); }});
    };
    for (auto [op, fn] : {std::pair<const char*, double (*)(std::uint64_t)>{"yield", &weft_yield},
                          {"spawn+join", &weft_spawn_join}}) {
      auto measure = [fn, n] { return fn(n); };
      add(op, trace_mode::off, "off", measure);
      if (traced) {
        add(op, trace_mode::noop_sink, "on no-op sink", measure);
        add(op, trace_mode::chrome, "on chrome ring", measure);
      }
    }
    all = selected(std::move(all), opt);
    if (traced) weft::trace::set_chrome_capacity(1 << 16);
    interleave(all, opt.reps, true);
    std::vector<series> yields, spawns;
    for (auto& s : all) (s.name.find("yield") != std::string::npos ? yields : spawns).push_back(s);
    add_rows(rows, yields, "weft yield trace off");
    add_rows(rows, spawns, "weft spawn+join trace off");
  }
  print_tier(rows, mark,
             traced ? "trace points compiled in (WEFT_TRACE=ON): ns per operation, tracing off "
                      "vs on (ratio: to tracing off, same run)"
                    : "trace points compiled out (WEFT_TRACE=OFF): ns per operation",
             "ns", "x off");

  for (auto& s : yield) all_ok = all_ok && s.ok;

  if (!opt.csv.empty() && !weft::bench::write_csv(opt.csv, rows)) return 1;
  return all_ok ? 0 : 1;
}
