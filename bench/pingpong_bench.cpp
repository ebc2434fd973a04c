// weft_pingpong_bench: a channel ping-pong between two fibers, on the same worker and across
// two workers (each fiber pinned to its own worker), ns per round trip; and skynet on 1 and 2
// workers measured interleaved in this process.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <weft/weft.hpp>

#include "bench_common.hpp"
#include "support/skynet.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

// Round trips between two fibers over two rendezvous channels. With `across`, the two fibers
// are pinned to different workers of a 2-worker executor.
double pingpong(std::uint64_t round_trips, bool across) {
  weft::executor_options o;
  o.workers = across ? 2 : 1;
  weft::executor ex(o);
  weft::channel<int> ping, pong;
  std::atomic<std::thread::id> ping_thread{}, pong_thread{};
  double ns = 0;
  // With `across`, each fiber yields until the two run on different threads (an idle worker
  // steals one of them), then pins itself there. It gives up after a second: a parked
  // worker's wake-up can take milliseconds on a busy VM (100k yields once were not enough).
  auto settle = [&](std::atomic<std::thread::id>& mine, std::atomic<std::thread::id>& theirs) {
    const auto give_up = clock_type::now() + std::chrono::seconds(1);
    while (clock_type::now() < give_up) {
      mine = weft::this_fiber::thread_now();
      if (!across || (theirs.load() != std::thread::id{} && theirs.load() != mine.load())) break;
      weft::this_fiber::yield();
    }
    weft::this_fiber::pin();
    mine = weft::this_fiber::thread_now();
  };
  auto server = ex.spawn([&] {
    settle(pong_thread, ping_thread);
    while (auto v = ping.recv()) pong.send(*v);
  });
  auto client = ex.spawn([&] {
    settle(ping_thread, pong_thread);
    auto start = clock_type::now();
    for (std::uint64_t i = 0; i < round_trips; ++i) {
      ping.send(1);
      pong.recv();
    }
    ns = std::chrono::duration<double, std::nano>(clock_type::now() - start).count();
    ping.close();
  });
  ex.run();
  if (across && ping_thread.load() == pong_thread.load())
    std::fprintf(stderr, "warning: both fibers ran on one thread\n");
  return ns / static_cast<double>(round_trips);
}

double skynet_ms(std::uint64_t leaves, std::size_t workers) {
  weft::executor_options o;
  o.workers = workers;
  auto start = clock_type::now();
  std::uint64_t sum = weft::run([leaves] { return weft_test::skynet(0, leaves); }, o);
  if (sum != leaves * (leaves - 1) / 2) std::fprintf(stderr, "skynet: wrong sum\n");
  return std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  weft::bench::options defaults;
  defaults.reps = 5;
  defaults.iters = 100'000;
  const weft::bench::options opt = weft::bench::parse_options(argc, argv, defaults);
  const unsigned cores = std::thread::hardware_concurrency();
  std::printf("weft_pingpong_bench: %u hardware threads, %d reps interleaved\n", cores, opt.reps);

  std::vector<double> same, across;
  pingpong(opt.iters / 10, false);
  pingpong(opt.iters / 10, true);
  for (int r = 0; r < opt.reps; ++r) {
    same.push_back(pingpong(opt.iters, false));
    across.push_back(pingpong(opt.iters / 4, true));
  }
  std::vector<weft::bench::result_row> rows{
      {"pingpong", "same worker", weft::bench::summarize(same), NAN},
      {"pingpong", "across 2 workers", weft::bench::summarize(across), NAN}};
  weft::bench::set_ratios(rows, "same worker");

  const std::uint64_t leaves = opt.iters >= 100'000 ? 1'000'000 : 100'000;
  std::vector<std::size_t> counts{1, 2};
  for (std::size_t w = 4; w <= cores && w <= 16; w *= 2) counts.push_back(w);
  std::vector<std::vector<double>> sky(counts.size());
  for (int r = 0; r < opt.reps; ++r)
    for (std::size_t k = 0; k < counts.size(); ++k) sky[k].push_back(skynet_ms(leaves, counts[k]) * 1e6);
  std::vector<weft::bench::result_row> sky_rows;
  for (std::size_t k = 0; k < counts.size(); ++k)
    sky_rows.push_back({"skynet " + std::to_string(leaves / 1000) + "k",
                        std::to_string(counts[k]) + (counts[k] == 1 ? " worker" : " workers"),
                        weft::bench::summarize(sky[k]), NAN});
  weft::bench::set_ratios(sky_rows, "1 worker");
  rows.insert(rows.end(), sky_rows.begin(), sky_rows.end());
  weft::bench::print_table(rows, "ns", "x first row");
  if (!opt.csv.empty() && !weft::bench::write_csv(opt.csv, rows)) return 1;
  return 0;
}
