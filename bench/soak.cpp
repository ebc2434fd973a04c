// weft_soak: a long mixed load with memory sampled every second. Not part of CI.
//
//   weft_soak [--seconds N] [--fibers N] [--workers N] [--warmup N] [--stack-kib N]
//             [--tcp-clients N]
//
// Keeps --fibers "cells" alive (default 100,000), replacing each one that ends. A cell runs a
// few dozen random rounds: sleeps of 50-1000 ms (the timer heap holds tens of thousands of
// sleepers), a request to one of 64 server fibers over a channel with the reply on a channel
// on its own stack, a child spawned and joined (at most 1024 children at once, so the live
// fibers stay bounded), a critical section under one of 256
// weft::mutexes (with a yield inside), a wait for a ticker's event, or a yield. Beside them,
// --tcp-clients fibers (default 64) connect over TCP to an echo server on 127.0.0.1 (a fiber
// per connection), send a few messages of random sizes, check the echo, end their side and
// close, again and again. Every result is checked; a wrong one counts as an error.
//
// A sampler thread prints RSS, open descriptors, live fibers and counters once a second. The
// verdict: after the warm-up (default: a tenth of the run, at least 10 s), RSS may not grow
// more than 5% above the warm-up's peak, nor the open descriptors by more than 5% (at least
// 8); there may be no error, every fiber must have finished at the end, and every descriptor
// the run opened must be closed. Exit status 0 on PASS, 1 on FAIL.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <weft/weft.hpp>

#include "support/descriptors.hpp"  // tests/support: open_fd_count

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

struct settings {
  double seconds = 1800;
  std::size_t fibers = 100000;
  std::size_t workers = 1;
  double warmup = -1;  // default: max(10, seconds / 10)
  std::size_t stack_kib = 64;
  std::size_t tcp_clients = 64;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "weft_soak: %s\nusage: weft_soak [--seconds N (1800)] [--fibers N (100000)] "
               "[--workers N (1)] [--warmup SECONDS (max(10, seconds/10))] [--stack-kib N (64)] "
               "[--tcp-clients N (64)]\n",
               why);
  std::exit(2);
}

settings parse(int argc, char** argv) {
  settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage(("missing value for " + arg).c_str());
      return argv[++i];
    };
    if (arg == "--seconds") s.seconds = std::atof(value());
    else if (arg == "--fibers") s.fibers = std::strtoull(value(), nullptr, 10);
    else if (arg == "--workers") s.workers = std::strtoull(value(), nullptr, 10);
    else if (arg == "--warmup") s.warmup = std::atof(value());
    else if (arg == "--stack-kib") s.stack_kib = std::strtoull(value(), nullptr, 10);
    else if (arg == "--tcp-clients") s.tcp_clients = std::strtoull(value(), nullptr, 10);
    else usage(("unknown argument " + arg).c_str());
  }
  if (s.seconds <= 0 || s.fibers == 0 || s.workers == 0 || s.stack_kib == 0)
    usage("values must be positive");
  if (s.warmup < 0) s.warmup = std::max(10.0, s.seconds / 10);
  return s;
}

double rss_mib() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)) /
         (1024.0 * 1024.0);
}

struct xorshift {
  std::uint64_t s;
  explicit xorshift(std::uint64_t seed) : s(seed * 0x9e3779b97f4a7c15ull + 1) {}
  std::uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  std::uint64_t below(std::uint64_t n) { return next() % n; }
};

struct request {
  std::uint64_t value;
  weft::channel<std::uint64_t>* reply;
};

constexpr std::size_t servers = 64;
constexpr std::size_t mutexes = 256;
// Children alive at once, at most: with the cells and servers, this bounds the live fibers
// (and so the executor's pooled stack regions) at --fibers + 1024 + 65.
constexpr int max_children = 1024;

struct shared_state {
  std::atomic<bool> stop{false};
  std::atomic<std::size_t> live_cells{0};
  std::atomic<std::uint64_t> cells_spawned{0}, cells_finished{0}, ops{0}, errors{0};
  std::atomic<std::uint64_t> connections{0};
  std::atomic<int> children{0};
  std::vector<std::unique_ptr<weft::channel<request>>> requests;
  weft::mutex locks[mutexes];
  bool in_critical[mutexes] = {};
  std::uint64_t counters[mutexes] = {};
  weft::event ticks[2];
  std::atomic<int> tick_index{0};
  std::mutex error_mutex;
  std::string first_error;

  void error(const std::string& what) {
    if (errors.fetch_add(1) == 0) {
      std::lock_guard g(error_mutex);
      first_error = what;
    }
  }
};

// A child's work: a few rounds of an LCG, with a yield first.
std::uint64_t child_work_expected(std::uint64_t x) {
  std::uint64_t h = x;
  for (int i = 0; i < 16; ++i) h = h * 6364136223846793005ull + 1442695040888963407ull;
  return h;
}

std::uint64_t child_work(std::uint64_t x) {
  weft::this_fiber::yield();
  return child_work_expected(x);
}

void cell(shared_state& st, std::uint64_t seed) {
  xorshift rng(seed);
  const int rounds = 5 + static_cast<int>(rng.below(50));
  for (int r = 0; r < rounds && !st.stop.load(std::memory_order_relaxed); ++r) {
    const std::uint64_t pick = rng.below(100);
    if (pick < 50) {
      weft::this_fiber::sleep_for(std::chrono::microseconds(50000 + rng.below(950000)));
    } else if (pick < 65) {
      weft::channel<std::uint64_t> reply(1);
      const std::uint64_t v = rng.next() >> 1;
      if (!st.requests[rng.below(servers)]->send(request{v, &reply})) {
        st.error("a server's request channel closed early");
        return;
      }
      const auto answer = reply.recv();
      if (!answer || *answer != v + 1) st.error("a server answered wrongly");
    } else if (pick < 75) {
      if (st.children.fetch_add(1) < max_children) {
        const std::uint64_t x = rng.next();
        if (weft::spawn(&child_work, x).join() != child_work_expected(x))
          st.error("a child returned a wrong result");
      } else {
        weft::this_fiber::yield();
      }
      st.children.fetch_sub(1);
    } else if (pick < 85) {
      const std::size_t m = rng.below(mutexes);
      std::lock_guard g(st.locks[m]);
      if (st.in_critical[m]) st.error("two fibers inside one mutex");
      st.in_critical[m] = true;
      const std::uint64_t before = st.counters[m];
      if (rng.below(2)) weft::this_fiber::yield();
      st.counters[m] = before + 1;
      st.in_critical[m] = false;
    } else if (pick < 92) {
      st.ticks[st.tick_index.load() & 1].wait();
    } else {
      weft::this_fiber::yield();
    }
    st.ops.fetch_add(1, std::memory_order_relaxed);
  }
}

// Echoes one connection until the client ends its side.
void echo_connection(shared_state& st, weft::net::tcp_stream s) {
  try {
    std::byte buf[8192];
    while (const std::size_t n = s.read_some(buf)) s.write_all(std::span(buf, n));
  } catch (const std::exception& e) {
    st.error(std::string("the echo server failed: ") + e.what());
  }
}

// Connects, echoes a few messages of random sizes, ends its side and closes, until stopped.
void tcp_client(shared_state& st, std::uint16_t port, std::uint64_t seed) {
  xorshift rng(seed);
  std::vector<std::byte> out, in;
  while (!st.stop.load(std::memory_order_relaxed)) {
    try {
      weft::net::tcp_stream s = weft::net::tcp_stream::connect("127.0.0.1", port);
      const int messages = 1 + static_cast<int>(rng.below(8));
      for (int m = 0; m < messages; ++m) {
        out.resize(1 + rng.below(16384));
        for (auto& b : out) b = static_cast<std::byte>(rng.next());
        in.resize(out.size());
        s.write_all(out);
        s.read_exact(in);
        if (in != out) st.error("an echo came back different");
      }
      s.shutdown_write();
      std::byte end[1];
      if (s.read_some(end) != 0) st.error("bytes after the end of an echo");
      st.connections.fetch_add(1, std::memory_order_relaxed);
    } catch (const std::exception& e) {
      st.error(std::string("a TCP client failed: ") + e.what());
      return;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const settings cfg = parse(argc, argv);
  std::printf("weft_soak: %.0f s, %zu live fibers, %zu worker%s, %zu KiB stacks, warm-up %.0f s\n",
              cfg.seconds, cfg.fibers, cfg.workers, cfg.workers == 1 ? "" : "s", cfg.stack_kib,
              cfg.warmup);
  std::fflush(stdout);

  {  // the clients and their server connections, with room to spare
    rlimit r{};
    ::getrlimit(RLIMIT_NOFILE, &r);
    const rlim_t wanted = 4 * cfg.tcp_clients + 256;
    if (r.rlim_cur < wanted && (r.rlim_max == RLIM_INFINITY || r.rlim_max >= wanted)) {
      r.rlim_cur = wanted;
      ::setrlimit(RLIMIT_NOFILE, &r);
    }
  }
  const std::size_t descriptors_before = weft_test::open_fd_count();
  auto st = std::make_unique<shared_state>();
  for (std::size_t i = 0; i < servers; ++i)
    st->requests.push_back(std::make_unique<weft::channel<request>>(1024));

  weft::executor_options options;
  options.workers = cfg.workers;
  options.stack_size = cfg.stack_kib * 1024;
  std::optional<weft::executor> executor_holder;  // destroyed before the descriptors' count
  executor_holder.emplace(options);
  weft::executor& ex = *executor_holder;

  struct sample {
    double t, rss;
    std::size_t live, descriptors;
  };
  std::vector<sample> samples;
  std::atomic<bool> sampling{true};
  const auto start = steady::now();
  std::thread sampler([&] {
    auto next = start + 1s;
    while (sampling.load()) {
      std::this_thread::sleep_until(next);
      next += 1s;
      const double t = std::chrono::duration<double>(steady::now() - start).count();
      const double rss = rss_mib();
      const std::size_t fds = weft_test::open_fd_count();
      samples.push_back({t, rss, ex.live_fibers(), fds});
      std::printf(
          "t=%5.0fs rss=%8.1f MiB fds=%5zu live=%7zu cells=%9llu ops=%11llu tcp=%9llu "
          "errors=%llu\n",
          t, rss, fds, ex.live_fibers(), static_cast<unsigned long long>(st->cells_spawned.load()),
          static_cast<unsigned long long>(st->ops.load()),
          static_cast<unsigned long long>(st->connections.load()),
          static_cast<unsigned long long>(st->errors.load()));
      std::fflush(stdout);
    }
  });

  std::vector<weft::join_handle<void>> infrastructure;
  for (std::size_t i = 0; i < servers; ++i)
    infrastructure.push_back(ex.spawn([&st = *st, i] {
      while (auto r = st.requests[i]->recv())
        if (!r->reply->send(r->value + 1)) st.error("a reply channel was closed");
    }));
  infrastructure.push_back(ex.spawn([&st = *st] {  // the ticker
    while (!st.stop.load()) {
      weft::this_fiber::sleep_for(5ms);
      const int i = st.tick_index.load();
      st.ticks[(i + 1) & 1].reset();
      st.tick_index.store(i + 1);
      st.ticks[i & 1].set();
    }
    st.ticks[0].set();
    st.ticks[1].set();
  }));
  infrastructure.push_back(ex.spawn([&st = *st, &cfg] {  // the TCP load
    auto listener = weft::net::tcp_listener::bind("127.0.0.1", 0);
    const std::uint16_t port = listener.local_port();
    std::vector<weft::join_handle<void>> clients;
    for (std::size_t c = 0; c < cfg.tcp_clients; ++c)
      clients.push_back(weft::spawn(tcp_client, std::ref(st), port, 7919 + c));
    auto acceptor = weft::spawn([&] {
      try {
        for (;;) weft::spawn(echo_connection, std::ref(st), listener.accept()).detach();
      } catch (const std::system_error& e) {
        if (e.code() != std::errc::operation_canceled) st.error(std::string("accept: ") + e.what());
      }
    });
    for (auto& c : clients) c.join();
    listener.close();  // wakes the acceptor
    acceptor.join();
  }));
  auto controller = ex.spawn([&st = *st, &cfg, start] {
    const auto end = start + std::chrono::duration_cast<steady::duration>(
                                 std::chrono::duration<double>(cfg.seconds));
    std::uint64_t seed = 1;
    while (steady::now() < end) {
      while (st.live_cells.load() < cfg.fibers) {
        st.live_cells.fetch_add(1);
        st.cells_spawned.fetch_add(1);
        weft::spawn([&st, s = seed++] {
          try {
            cell(st, s);
          } catch (const std::exception& e) {
            st.error(std::string("a cell threw: ") + e.what());
          }
          st.cells_finished.fetch_add(1);
          st.live_cells.fetch_sub(1);
        }).detach();
      }
      weft::this_fiber::sleep_for(1ms);
    }
    st.stop.store(true);
    while (st.live_cells.load() > 0) weft::this_fiber::sleep_for(10ms);
    for (auto& ch : st.requests) ch->close();
  });

  bool run_ok = true;
  try {
    ex.run();
    controller.join();
    for (auto& h : infrastructure) h.join();
  } catch (const std::exception& e) {
    run_ok = false;
    st->error(std::string("run failed: ") + e.what());
  }
  sampling.store(false);
  sampler.join();

  // The verdict.
  double warm_peak = 0, after_peak = 0, warm_end = 0, last = 0;
  std::size_t after_samples = 0, peak_live = 0, warm_fds = 0, after_fds = 0;
  for (const sample& s : samples) {
    if (s.t <= cfg.seconds) peak_live = std::max(peak_live, s.live);
    if (s.t <= cfg.warmup) {
      warm_peak = std::max(warm_peak, s.rss);
      warm_end = s.rss;
      warm_fds = std::max(warm_fds, s.descriptors);
    } else if (s.t <= cfg.seconds) {
      after_peak = std::max(after_peak, s.rss);
      last = s.rss;
      after_fds = std::max(after_fds, s.descriptors);
      ++after_samples;
    }
  }
  const double growth = warm_peak > 0 ? after_peak / warm_peak - 1 : 0;
  const std::size_t live_at_end = ex.live_fibers();
  const std::size_t fd_slack = std::max<std::size_t>(8, warm_fds / 20);
  const bool plateau = after_samples > 0 && growth <= 0.05 && after_fds <= warm_fds + fd_slack;
  infrastructure.clear();
  executor_holder.reset();  // its own descriptors (epoll, eventfd) go with it
  const std::size_t descriptors_after = weft_test::open_fd_count();
  const bool pass = plateau && st->errors.load() == 0 && live_at_end == 0 && run_ok &&
                    st->cells_spawned.load() == st->cells_finished.load() &&
                    descriptors_after == descriptors_before;
  std::printf(
      "summary: %.0f s, %llu cells, %llu operations, %llu errors, %zu fibers left, at most "
      "%zu live in a sample; RSS peak %.1f MiB in warm-up (%.1f at its end), %.1f MiB after it "
      "(last %.1f): growth %+.2f%% (limit +5%%)\n",
      samples.empty() ? 0.0 : samples.back().t,
      static_cast<unsigned long long>(st->cells_spawned.load()),
      static_cast<unsigned long long>(st->ops.load()),
      static_cast<unsigned long long>(st->errors.load()), live_at_end, peak_live, warm_peak,
      warm_end, after_peak, last, growth * 100);
  std::printf(
      "descriptors: %zu before the run, at most %zu in the warm-up and %zu after it (limit +%zu), "
      "%zu after the run; %llu TCP connections echoed\n",
      descriptors_before, warm_fds, after_fds, fd_slack, descriptors_after,
      static_cast<unsigned long long>(st->connections.load()));
  if (st->errors.load() != 0) std::printf("first error: %s\n", st->first_error.c_str());
  if (after_samples == 0) std::printf("no samples after the warm-up: run longer\n");
  std::printf("verdict: %s\n", pass ? "PASS" : "FAIL");
  return pass ? 0 : 1;
}
