// Shared helpers for weft's benchmark executables: command line, statistics, optimiser
// barriers, the aligned result table and the CSV file that compare scripts read.
//
// Every benchmark accepts the same options:
//   --reps N      measured repetitions of each candidate (interleaved round-robin)
//   --iters N     operations per repetition
//   --csv FILE    also write the results as CSV: tier,name,median_ns,min_ns,max_ns,ratio
//   --filter TEXT run only the candidates whose "tier/name" contains TEXT, or one of the
//                 '|'-separated alternatives in TEXT (default: all)
#pragma once

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace weft::bench {

// ---- optimiser barriers ------------------------------------------------------------------

// Makes the compiler assume `value` is read and modified here, so neither it nor the work
// that produced it can be optimised away (the same idea as Google Benchmark's DoNotOptimize).
template <class T>
inline __attribute__((always_inline)) void do_not_optimize(T& value) noexcept {
  if constexpr (std::is_scalar_v<T>)
    asm volatile("" : "+r"(value) : : "memory");
  else
    asm volatile("" : "+m"(value) : : "memory");
}

// Makes the compiler assume all memory is read and written here.
inline __attribute__((always_inline)) void clobber_memory() noexcept {
  asm volatile("" : : : "memory");
}

// Nanoseconds of the steady clock since `start`.
inline double ns_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start)
      .count();
}

// ---- command line ------------------------------------------------------------------------

struct options {
  int reps = 9;
  std::uint64_t iters = 2'000'000;
  std::string csv;  // empty: no CSV file
  std::string filter;  // empty: every candidate (of the full set, see `full`)
  bool full = false;   // --full: every candidate, where a benchmark runs a quick set by default

  // Whether the candidate `name` of `tier` is to run: "tier/name" contains --filter's text or
  // one of its '|'-separated alternatives.
  bool selected(std::string_view tier, std::string_view name) const {
    if (filter.empty()) return true;
    std::string key = std::string(tier) + "/" + std::string(name);
    std::string_view rest = filter;
    for (;;) {
      std::size_t bar = rest.find('|');
      std::string_view alt = rest.substr(0, bar);
      if (!alt.empty() && key.find(alt) != std::string::npos) return true;
      if (bar == std::string_view::npos) return false;
      rest.remove_prefix(bar + 1);
    }
  }
};

namespace detail {

[[noreturn]] inline void usage(const char* prog, const options& defaults, int status) {
  std::FILE* out = status == 0 ? stdout : stderr;
  std::fprintf(out,
               "usage: %s [--reps N] [--iters N] [--csv FILE] [--filter TEXT] [--full]\n"
               "  --reps N       measured repetitions of each candidate (default %d)\n"
               "  --iters N      operations per repetition (default %llu)\n"
               "  --csv FILE     also write tier,name,median_ns,min_ns,max_ns,ratio to FILE\n"
               "  --filter TEXT  run only the candidates whose tier/name contains TEXT (or one of\n"
               "                 its '|'-separated alternatives)\n"
               "  --full         every candidate (a benchmark with a quick default set)\n",
               prog, defaults.reps, static_cast<unsigned long long>(defaults.iters));
  std::exit(status);
}

template <class Int>
Int parse_positive(const char* prog, std::string_view flag, const char* text,
                   const options& defaults) {
  Int value{};
  const char* end = text + std::strlen(text);
  auto [ptr, ec] = std::from_chars(text, end, value);
  if (ec != std::errc{} || ptr != end || value <= 0) {
    std::fprintf(stderr, "%s: %.*s needs a positive integer, got '%s'\n", prog,
                 static_cast<int>(flag.size()), flag.data(), text);
    usage(prog, defaults, 2);
  }
  return value;
}

}  // namespace detail

// Parses the common options; prints usage and exits on --help or on a bad argument.
inline options parse_options(int argc, char** argv, options defaults = {}) {
  options o = defaults;
  const char* prog = argc > 0 ? argv[0] : "bench";
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") detail::usage(prog, defaults, 0);
    // Accept both "--flag value" and "--flag=value".
    std::string_view flag = arg;
    const char* value = nullptr;
    if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      flag = arg.substr(0, eq);
      value = argv[i] + eq + 1;
    }
    if (arg == "--full") {
      o.full = true;
      continue;
    }
    if (flag != "--reps" && flag != "--iters" && flag != "--csv" && flag != "--filter") {
      std::fprintf(stderr, "%s: unknown argument '%s'\n", prog, argv[i]);
      detail::usage(prog, defaults, 2);
    }
    if (value == nullptr) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s: %s needs a value\n", prog, argv[i]);
        detail::usage(prog, defaults, 2);
      }
      value = argv[++i];
    }
    if (flag == "--reps") {
      o.reps = detail::parse_positive<int>(prog, flag, value, defaults);
    } else if (flag == "--iters") {
      o.iters = detail::parse_positive<std::uint64_t>(prog, flag, value, defaults);
    } else if (flag == "--filter") {
      o.filter = value;
    } else {
      if (*value == '\0') {
        std::fprintf(stderr, "%s: --csv needs a file name\n", prog);
        detail::usage(prog, defaults, 2);
      }
      o.csv = value;
    }
  }
  return o;
}

// ---- statistics --------------------------------------------------------------------------

struct summary {
  double median = NAN;
  double min = NAN;
  double max = NAN;
};

inline summary summarize(std::vector<double> samples) {
  summary s;
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  std::size_t n = samples.size();
  s.median = n % 2 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
  s.min = samples.front();
  s.max = samples.back();
  return s;
}

// ---- results -----------------------------------------------------------------------------

struct result_row {
  std::string tier;  // a group of related candidates, e.g. "weft-raw" or "baseline"
  std::string name;  // unique within one benchmark; no commas (it goes into CSV unquoted)
  summary ns;        // nanoseconds per operation
  double ratio = NAN;  // median / the baseline's median (NaN: no baseline)
};

// Fills in each row's ratio to the row named `baseline` (left NaN if there is none).
inline void set_ratios(std::vector<result_row>& rows, std::string_view baseline) {
  double base = NAN;
  for (const auto& r : rows)
    if (r.name == baseline) base = r.ns.median;
  for (auto& r : rows) r.ratio = r.ns.median / base;
}

inline const result_row* find_row(const std::vector<result_row>& rows, std::string_view name) {
  for (const auto& r : rows)
    if (r.name == name) return &r;
  return nullptr;
}

// Prints an aligned table: tier, candidate, median, min-max, ratio (titled ratio_title).
inline void print_table(const std::vector<result_row>& rows, std::string_view unit,
                        std::string_view ratio_title) {
  std::size_t tier_w = 4, name_w = 9;
  for (const auto& r : rows) {
    tier_w = std::max(tier_w, r.tier.size());
    name_w = std::max(name_w, r.name.size());
  }
  std::string median_title = "median " + std::string(unit);
  std::vector<std::string> ranges;
  std::size_t range_w = 7;
  for (const auto& r : rows) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f-%.2f", r.ns.min, r.ns.max);
    ranges.emplace_back(buf);
    range_w = std::max(range_w, ranges.back().size());
  }
  int tw = static_cast<int>(tier_w), nw = static_cast<int>(name_w),
      mw = static_cast<int>(std::max<std::size_t>(median_title.size(), 8)),
      rw = static_cast<int>(range_w);
  std::string ratio_t(ratio_title);
  std::printf("%-*s  %-*s  %*s  %*s  %s\n", tw, "tier", nw, "candidate", mw, median_title.c_str(),
              rw, "min-max", ratio_t.c_str());
  std::printf("%s\n",
              std::string(tier_w + name_w + mw + rw + ratio_t.size() + 8, '-').c_str());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    char ratio[32];
    if (std::isnan(r.ratio))
      std::snprintf(ratio, sizeof ratio, "n/a");
    else
      std::snprintf(ratio, sizeof ratio, "%.2fx", r.ratio);
    std::printf("%-*s  %-*s  %*.2f  %*s  %*s\n", tw, r.tier.c_str(), nw, r.name.c_str(), mw,
                r.ns.median, rw, ranges[i].c_str(), static_cast<int>(ratio_t.size()), ratio);
  }
}

// Writes tier,name,median_ns,min_ns,max_ns,ratio. Returns false (after saying why) on failure.
inline bool write_csv(const std::string& path, const std::vector<result_row>& rows) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    std::fprintf(stderr, "cannot write %s: %s\n", path.c_str(), std::strerror(errno));
    return false;
  }
  std::fprintf(f, "tier,name,median_ns,min_ns,max_ns,ratio\n");
  for (const auto& r : rows) {
    std::fprintf(f, "%s,%s,%.3f,%.3f,%.3f,", r.tier.c_str(), r.name.c_str(), r.ns.median,
                 r.ns.min, r.ns.max);
    if (std::isnan(r.ratio))
      std::fprintf(f, "\n");
    else
      std::fprintf(f, "%.4f\n", r.ratio);
  }
  bool ok = std::fflush(f) == 0;
  ok = std::fclose(f) == 0 && ok;
  if (!ok) std::fprintf(stderr, "cannot write %s: %s\n", path.c_str(), std::strerror(errno));
  return ok;
}

}  // namespace weft::bench
