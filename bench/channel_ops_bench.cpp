// weft_channel_ops_bench: what timed waits and select cost next to the plain calls, on one
// worker, measured interleaved in this process: a receive that finds a value, a ping-pong round
// trip whose receives suspend and are woken, and the same round trip through a 2-case select;
// and Boost.Fiber's unbuffered_channel round trip with pop() and pop_wait_for() beside them.
// Then the time to cancel 100k fibers blocked in recv, by one scope::request_stop and by a
// join_handle::request_stop each.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <initializer_list>
#include <optional>
#include <vector>

#include <boost/fiber/all.hpp>

#include <weft/weft.hpp>

#include "bench_common.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

enum class receive { plain, timed, select2 };

// ns per receive of a value already buffered (send, then receive, on one fiber).
double ready_receive(std::uint64_t n, receive how) {
  double ns = 0;
  weft::run([&] {
    weft::channel<int> ch(1), other(1);
    long sum = 0;
    const auto start = clock_type::now();
    for (std::uint64_t i = 0; i < n; ++i) {
      int v = 1;
      ch.try_send(v);
      if (how == receive::plain) sum += *ch.recv();
      else if (how == receive::timed) sum += *ch.recv_for(1s);
      else
        weft::select(weft::recv_case(ch, [&](std::optional<int> x) { sum += *x; }),
                     weft::recv_case(other, [&](std::optional<int> x) { sum -= *x; }));
    }
    ns = std::chrono::duration<double, std::nano>(clock_type::now() - start).count();
    if (sum != static_cast<long>(n)) std::fprintf(stderr, "ready_receive: wrong sum\n");
  });
  return ns / static_cast<double>(n);
}

// ns per round trip between two fibers over two rendezvous channels; the client's receive of
// the answer suspends every time and is woken before any deadline.
double round_trip(std::uint64_t n, receive how) {
  double ns = 0;
  weft::run([&] {
    weft::channel<int> ping, pong, idle;
    auto server = weft::spawn([&] {
      while (auto v = ping.recv()) pong.send(*v);
    });
    long sum = 0;
    const auto start = clock_type::now();
    for (std::uint64_t i = 0; i < n; ++i) {
      ping.send(1);
      if (how == receive::plain) sum += *pong.recv();
      else if (how == receive::timed) sum += *pong.recv_for(1s);
      else
        weft::select(weft::recv_case(pong, [&](std::optional<int> x) { sum += *x; }),
                     weft::recv_case(idle, [&](std::optional<int>) { sum = -1; }));
    }
    ns = std::chrono::duration<double, std::nano>(clock_type::now() - start).count();
    ping.close();
    server.join();
    if (sum != static_cast<long>(n)) std::fprintf(stderr, "round_trip: wrong sum\n");
  });
  return ns / static_cast<double>(n);
}

// The round trip above with Boost.Fiber (one thread, its default scheduler): pop() or
// pop_wait_for(1s) for the answer.
double boost_round_trip(std::uint64_t n, bool timed) {
  boost::fibers::unbuffered_channel<int> ping, pong;
  double ns = 0;
  boost::fibers::fiber server([&] {
    int v;
    while (ping.pop(v) == boost::fibers::channel_op_status::success) pong.push(v);
  });
  boost::fibers::fiber client([&] {
    long sum = 0;
    const auto start = clock_type::now();
    for (std::uint64_t i = 0; i < n; ++i) {
      ping.push(1);
      int v = 0;
      if (timed) pong.pop_wait_for(v, 1s);
      else pong.pop(v);
      sum += v;
    }
    ns = std::chrono::duration<double, std::nano>(clock_type::now() - start).count();
    ping.close();
    if (sum != static_cast<long>(n)) std::fprintf(stderr, "boost_round_trip: wrong sum\n");
  });
  client.join();
  server.join();
  return ns / static_cast<double>(n);
}

// ms from the stop request until `n` fibers blocked in recv have all ended, on one worker: one
// scope::request_stop, or each fiber's join_handle::request_stop.
double cancel_blocked(std::size_t n, bool by_scope) {
  double ms = 0;
  weft::executor_options small_stacks;
  small_stacks.stack_size = 16 * 1024;
  weft::run(
      [&] {
        weft::channel<int> ch(0);
        std::size_t cancelled = 0;
        weft::scope s;
        std::vector<weft::join_handle<void>> handles;
        handles.reserve(n);
        for (std::size_t i = 0; i < n; ++i) handles.push_back(s.spawn([&] { (void)ch.recv(); }));
        const auto start = clock_type::now();
        if (by_scope) {
          s.request_stop();
        } else {
          for (auto& h : handles) h.request_stop();
        }
        for (auto& h : handles) {
          try {
            h.join();
          } catch (const weft::operation_cancelled&) {
            ++cancelled;
          }
        }
        ms = std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
        try {
          s.join();  // stops by handle are failures to the scope: not measured
        } catch (const weft::operation_cancelled&) {
        }
        if (cancelled != n) std::fprintf(stderr, "cancel_blocked: %zu of %zu cancelled\n", cancelled, n);
      },
      small_stacks);
  return ms;
}

}  // namespace

int main(int argc, char** argv) {
  weft::bench::options defaults;
  defaults.reps = 7;
  defaults.iters = 200'000;
  const weft::bench::options opt = weft::bench::parse_options(argc, argv, defaults);
  std::printf("weft_channel_ops_bench: 1 worker, %d reps interleaved\n", opt.reps);
  const receive kinds[] = {receive::plain, receive::timed, receive::select2};
  // --filter picks whole tiers: weft's rows run together (their ratios are to plain recv).
  auto tier_selected = [&](const char* tier, std::initializer_list<const char*> names) {
    return std::any_of(names.begin(), names.end(),
                       [&](const char* name) { return opt.selected(tier, name); });
  };
  const bool run_weft =
      tier_selected("ready value", {"recv", "recv_for", "select of 2"}) ||
      tier_selected("round trip", {"recv round trip", "recv_for round trip", "select-of-2 round trip"});
  const bool run_boost =
      tier_selected("Boost.Fiber", {"boost pop round trip", "boost pop_wait_for round trip"});
  const bool run_cancel =
      tier_selected("cancel 100k in recv", {"scope request_stop", "handle request_stop each"});
  std::vector<double> ready[3], trip[3], boost_trip[2];
  if (run_weft)
    for (receive k : kinds) {  // warm-up
      ready_receive(opt.iters / 10, k);
      round_trip(opt.iters / 10, k);
    }
  if (run_boost) {
    boost_round_trip(opt.iters / 10, false);
    boost_round_trip(opt.iters / 10, true);
  }
  for (int r = 0; r < opt.reps; ++r) {
    for (int k = 0; k < 3 && run_weft; ++k) {
      ready[k].push_back(ready_receive(opt.iters, kinds[k]));
      trip[k].push_back(round_trip(opt.iters, kinds[k]));
    }
    if (run_boost) {
      boost_trip[0].push_back(boost_round_trip(opt.iters, false));
      boost_trip[1].push_back(boost_round_trip(opt.iters, true));
    }
  }
  using weft::bench::summarize;
  std::vector<weft::bench::result_row> rows, trip_rows;
  if (run_weft) {
    rows = {{"ready value", "recv", summarize(ready[0]), NAN},
            {"ready value", "recv_for", summarize(ready[1]), NAN},
            {"ready value", "select of 2", summarize(ready[2]), NAN}};
    weft::bench::set_ratios(rows, "recv");
    trip_rows = {{"round trip", "recv round trip", summarize(trip[0]), NAN},
                 {"round trip", "recv_for round trip", summarize(trip[1]), NAN},
                 {"round trip", "select-of-2 round trip", summarize(trip[2]), NAN}};
  }
  if (run_boost) {
    trip_rows.push_back({"Boost.Fiber", "boost pop round trip", summarize(boost_trip[0]), NAN});
    trip_rows.push_back(
        {"Boost.Fiber", "boost pop_wait_for round trip", summarize(boost_trip[1]), NAN});
  }
  if (run_weft) weft::bench::set_ratios(trip_rows, "recv round trip");
  rows.insert(rows.end(), trip_rows.begin(), trip_rows.end());
  if (!rows.empty()) weft::bench::print_table(rows, "ns", "x plain");

  if (run_cancel) {
    constexpr std::size_t blocked = 100'000;
    std::vector<double> by_scope, by_handle;
    for (int r = 0; r < std::min(opt.reps, 3); ++r) {
      by_scope.push_back(cancel_blocked(blocked, true));
      by_handle.push_back(cancel_blocked(blocked, false));
    }
    std::vector<weft::bench::result_row> cancel_rows{
        {"cancel 100k in recv", "scope request_stop", summarize(by_scope), NAN},
        {"cancel 100k in recv", "handle request_stop each", summarize(by_handle), NAN}};
    weft::bench::set_ratios(cancel_rows, "scope request_stop");
    weft::bench::print_table(cancel_rows, "ms", "x scope");
    rows.insert(rows.end(), cancel_rows.begin(), cancel_rows.end());
  }
  if (!opt.csv.empty() && !weft::bench::write_csv(opt.csv, rows)) return 1;
  return 0;
}
