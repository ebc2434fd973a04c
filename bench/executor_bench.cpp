// weft_executor_bench: the executor's operations against Boost.Fiber (pooled stacks), measured
// interleaved in one process, plus skynet and a million blocked fibers, each in a child process
// so that its peak RSS is its own.
//
//   yield round trip   two fibers yielding to each other; ns per A->B->A
//   spawn+join         a fiber spawns an empty fiber and joins it; ns per pair
//   skynet N           a 10-ary tree of fibers with N leaves, join-based sum; ms and peak RSS
//   event 1M           1M fibers blocked on one event (16 KiB stacks, no guard); RSS per fiber
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/fiber/all.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <weft/weft.hpp>

#include "bench_common.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
using weft::bench::do_not_optimize;

double ns_since(clock_type::time_point start) {
  return std::chrono::duration<double, std::nano>(clock_type::now() - start).count();
}

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

// ---- spawn + join ------------------------------------------------------------------------

double weft_spawn_join(std::uint64_t pairs) {
  double ns = 0;
  weft::run([&] {
    weft::spawn([] {}).join();  // warm the stack pool
    auto start = clock_type::now();
    for (std::uint64_t i = 0; i < pairs; ++i) weft::spawn([] {}).join();
    ns = ns_since(start);
  });
  return ns / static_cast<double>(pairs);
}

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

// ---- skynet ------------------------------------------------------------------------------

std::uint64_t weft_skynet_node(std::uint64_t num, std::uint64_t size) {
  if (size == 1) return num;
  std::array<weft::join_handle<std::uint64_t>, 10> children;
  for (std::uint64_t i = 0; i < 10; ++i)
    children[i] = weft::spawn(&weft_skynet_node, num + i * (size / 10), size / 10);
  std::uint64_t sum = 0;
  for (auto& c : children) sum += c.join();
  return sum;
}

std::uint64_t boost_skynet_node(std::uint64_t num, std::uint64_t size) {
  if (size == 1) return num;
  std::array<boost::fibers::fiber, 10> children;
  std::array<std::uint64_t, 10> sums{};
  for (std::uint64_t i = 0; i < 10; ++i)
    children[i] = boost::fibers::fiber(std::allocator_arg, boost_stacks(), [&sums, i, num, size] {
      sums[i] = boost_skynet_node(num + i * (size / 10), size / 10);
    });
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < 10; ++i) {
    children[i].join();
    sum += sums[i];
  }
  return sum;
}

std::uint64_t skynet_expected(std::uint64_t leaves) { return leaves * (leaves - 1) / 2; }

// ---- a million blocked fibers ------------------------------------------------------------

void weft_event_fibers(std::uint64_t count) {
  weft::executor_options o;
  o.stack_size = 16 * 1024;
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
  if (finished != count) {
    std::fprintf(stderr, "event fibers: %llu of %llu finished\n",
                 static_cast<unsigned long long>(finished), static_cast<unsigned long long>(count));
    std::exit(1);
  }
}

// ---- child-process measurements ----------------------------------------------------------

struct child_result {
  double ms = 0;
  double peak_rss_kib = 0;
  bool ok = false;
};

// Runs f() in a forked child; returns its wall time and peak RSS.
child_result in_child(const std::function<void()>& f) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    auto start = clock_type::now();
    f();
    double ms = ns_since(start) / 1e6;
    if (write(fds[1], &ms, sizeof ms) != sizeof ms) _exit(3);
    _exit(0);
  }
  close(fds[1]);
  child_result r;
  double ms = 0;
  bool got = read(fds[0], &ms, sizeof ms) == sizeof ms;
  close(fds[0]);
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  r.ok = got && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  r.ms = ms;
  r.peak_rss_kib = static_cast<double>(usage.ru_maxrss);
  return r;
}

// The baseline RSS of a child that does nothing, subtracted from per-fiber figures.
double idle_child_rss_kib() { return in_child([] {}).peak_rss_kib; }

struct series {
  std::string tier, name;
  std::vector<double> samples;
  std::function<double()> measure;
};

void interleave(std::vector<series>& all, int reps) {
  for (auto& s : all) s.measure();  // warm-up
  for (int rep = 0; rep < reps; ++rep)
    for (std::size_t k = 0; k < all.size(); ++k) {
      auto& s = all[(static_cast<std::size_t>(rep) + k) % all.size()];
      s.samples.push_back(s.measure());
    }
}

void add_rows(std::vector<weft::bench::result_row>& rows, std::vector<series>& all,
              const std::string& baseline) {
  std::vector<weft::bench::result_row> tier_rows;
  for (auto& s : all)
    tier_rows.push_back({s.tier, s.name, weft::bench::summarize(s.samples), NAN});
  weft::bench::set_ratios(tier_rows, baseline);
  rows.insert(rows.end(), tier_rows.begin(), tier_rows.end());
}

}  // namespace

int main(int argc, char** argv) {
  weft::bench::options defaults;
  defaults.reps = 7;
  defaults.iters = 200'000;
  const weft::bench::options opt = weft::bench::parse_options(argc, argv, defaults);
  const std::uint64_t n = opt.iters;
  const bool quick = n < 100'000;
  const std::uint64_t skynet_big = quick ? 100'000 : 1'000'000;
  const std::uint64_t event_count = quick ? 100'000 : 1'000'000;

  std::printf("weft_executor_bench: backend %.*s, %d reps interleaved, %llu ops per rep\n",
              static_cast<int>(weft::context_backend().size()), weft::context_backend().data(),
              opt.reps, static_cast<unsigned long long>(n));
  std::vector<weft::bench::result_row> rows;

  std::vector<series> yield{{"yield", "weft", {}, [&] { return weft_yield(n); }},
                            {"yield", "boost.fiber", {}, [&] { return boost_yield(n); }}};
  interleave(yield, opt.reps);
  add_rows(rows, yield, "boost.fiber");

  std::vector<series> spawn{{"spawn+join", "weft", {}, [&] { return weft_spawn_join(n); }},
                            {"spawn+join", "boost.fiber", {}, [&] { return boost_spawn_join(n); }}};
  interleave(spawn, opt.reps);
  add_rows(rows, spawn, "boost.fiber");
  std::printf("\nns per operation (ratio: to Boost.Fiber with pooled stacks, same run)\n");
  weft::bench::print_table(rows, "ns", "vs boost");

  // Whole-program tiers: each run in its own child process.
  const double idle_rss = idle_child_rss_kib();
  std::printf("\nskynet and memory (each run in a child process; RSS is the child's peak)\n");
  std::printf("%-34s %10s %12s %14s\n", "candidate", "median ms", "peak RSS MiB", "check");
  auto skynet_row = [&](const char* name, std::uint64_t leaves, bool boost, int reps) {
    std::vector<double> ms, rss;
    bool ok = true;
    for (int i = 0; i < reps; ++i) {
      child_result r = in_child([&] {
        std::uint64_t sum = 0;
        if (boost) {
          boost::fibers::fiber root(std::allocator_arg, boost_stacks(),
                                    [&] { sum = boost_skynet_node(0, leaves); });
          root.join();
        } else {
          sum = weft::run([&] { return weft_skynet_node(0, leaves); });
        }
        if (sum != skynet_expected(leaves)) std::_Exit(2);
      });
      ok = ok && r.ok;
      ms.push_back(r.ms);
      rss.push_back(r.peak_rss_kib / 1024.0);
    }
    auto t = weft::bench::summarize(ms);
    auto m = weft::bench::summarize(rss);
    std::printf("%-34s %10.1f %12.1f %14s\n", name, t.median, m.median, ok ? "sum ok" : "FAILED");
    rows.push_back({"skynet", name, {t.median * 1e6, t.min * 1e6, t.max * 1e6}, NAN});
    return t.median;
  };
  const int whole_reps = std::max(1, std::min(opt.reps, 5));
  double weft_100k = skynet_row("weft skynet 100k", 100'000, false, whole_reps);
  double boost_100k = skynet_row("boost.fiber skynet 100k", 100'000, true, whole_reps);
  std::string big = "weft skynet " + std::to_string(skynet_big / 1000) + "k";
  skynet_row(big.c_str(), skynet_big, false, whole_reps);
  std::printf("  (Boost.Fiber at 1M leaves needs ~17 GB here: not run)\n");
  std::printf("  weft/boost at 100k: %.2fx\n", weft_100k / boost_100k);

  child_result ev = in_child([&] { weft_event_fibers(event_count); });
  double per_fiber_kib = (ev.peak_rss_kib - idle_rss) / static_cast<double>(event_count);
  std::printf("%-34s %10.1f %12.1f %14s\n",
              (std::to_string(event_count / 1000) + "k fibers on one event").c_str(), ev.ms,
              ev.peak_rss_kib / 1024.0, ev.ok ? "all finished" : "FAILED");
  std::printf("  peak RSS per blocked fiber: %.2f KiB (16 KiB stacks, no guard pages)\n",
              per_fiber_kib);
  rows.push_back({"memory", "weft KiB per blocked fiber", {per_fiber_kib, per_fiber_kib, per_fiber_kib}, NAN});

  if (!opt.csv.empty() && !weft::bench::write_csv(opt.csv, rows)) return 1;
  return ev.ok ? 0 : 1;
}
