// weft_switch_bench: raw context-switch ping-pong.
//
// Every candidate runs a "main" side and an "other" side that pass control back and forth;
// one round trip is main -> other -> main (two switches; for the coroutine, one resume and
// one suspend). All candidates live in this one process and are measured interleaved:
// each repetition visits every candidate once, starting one candidate further along each
// time, so drift in machine load or clock speed spreads over all of them alike. A short
// warm-up run of each comes first. Reported: median and min-max of ns per round trip over the
// repetitions, and the ratio of the median to Boost.Context's jump_fcontext.
//
// Two FP states, both measured in every repetition (two tables):
//   flags equal   the caller's MXCSR status flags are cleared before each run, so both sides
//                 hold the same MXCSR: the best case for a switch that always reloads it.
//   flags differ  the caller's "inexact" flag is set before each run (what any inexact
//                 division leaves behind) while the other side's stays clear: the usual state
//                 of a real program. A switch that reloads MXCSR unconditionally then loads a
//                 changed value on every switch, which some CPUs make very expensive.
//
// Candidates:
//   weft-raw  weft_asm_switch, _ret, _jmp  weft's x86-64 switch, called directly (x86-64 Linux)
//   weft-raw  ..._ret/_fiber @same-site    the `ret` builds with both sides suspended at one call
//                                          site, as the scheduler's fibers are (worker::switch_to):
//                                          _fiber is the scheduler's switch, which leaves the FP
//                                          control state to the thread; _ret saves it
//   weft-raw  boost_fcontext::backend      weft's Boost.Context backend, called directly
//   weft-api  weft::switch_context[B]      the public API over the library's backend B
//   baseline  jump_fcontext                Boost.Context's fcontext switch, called directly
//   baseline  swapcontext                  ucontext (includes a sigprocmask system call)
//   baseline  coroutine_resume             a C++20 coroutine resumed in a loop: the floor
//
// The optimiser cannot drop the loops: every switch is a call into assembly it cannot see,
// the other side counts its visits in memory reachable from the switch's arguments, and the
// counts are checked against the number of round trips at the end.
#include <ucontext.h>

#include <boost/context/detail/fcontext.hpp>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>
#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

#include <weft/context.hpp>
#include <weft/stack.hpp>

#include "bench_common.hpp"
#include "support/lazy_coroutine.hpp"

// Both backend headers: they need backend.hpp's declarations, which picks one backend by
// macro; the other backend's header is included after it. (CMake defines
// WEFT_BENCH_HAVE_ASM=1 where the asm switch is linked into this executable.)
#if WEFT_BENCH_HAVE_ASM
#define WEFT_CONTEXT_BACKEND_ASM 1
#include "context/backend.hpp"
#include "context/boost_fcontext.hpp"
#else
#define WEFT_CONTEXT_BACKEND_BOOST 1
#include "context/backend.hpp"
#endif

namespace {

using weft::bench::do_not_optimize;
namespace fc = boost::context::detail;

constexpr std::size_t stack_size = 64 * 1024;

// One candidate: a pair of executions that ping-pong, built once and reused by every run.
class candidate {
 public:
  candidate(std::string tier, std::string name) : tier(std::move(tier)), name(std::move(name)) {}
  virtual ~candidate() = default;
  candidate(const candidate&) = delete;
  candidate& operator=(const candidate&) = delete;

  // Performs `round_trips` round trips main -> other -> main.
  virtual void run(std::uint64_t round_trips) = 0;
  // How many times the other side has run so far (one per round trip).
  virtual std::uint64_t visits() const = 0;

  std::string tier;
  std::string name;
  std::uint64_t iters_divisor = 1;  // a slow candidate runs --iters / this per repetition
  std::uint64_t expected_visits = 0;
  std::vector<double> ns_per_round_trip;     // flags equal
  std::vector<double> ns_flags_differ;       // caller's MXCSR status flags set
};

// ---- weft's asm switch, called directly ----------------------------------------------------
#if WEFT_BENCH_HAVE_ASM
using raw_switch = void(void**, void*) noexcept;

struct raw_state {
  void* main_sp = nullptr;
  void* other_sp = nullptr;
  std::uint64_t visits = 0;
};

template <raw_switch* Switch>
void raw_other(void* arg) {
  auto* s = static_cast<raw_state*>(arg);
  for (;;) {
    ++s->visits;
    Switch(&s->other_sp, s->main_sp);
  }
}

template <raw_switch* Switch>
class raw_asm_candidate final : public candidate {
 public:
  explicit raw_asm_candidate(std::string name) : candidate("weft-raw", std::move(name)) {
    s_.other_sp = weft::asm_switch::backend::make(stack_.span(), &raw_other<Switch>, &s_);
  }
  __attribute__((noinline)) void run(std::uint64_t n) override {
    for (std::uint64_t i = 0; i < n; ++i) Switch(&s_.main_sp, s_.other_sp);
  }
  std::uint64_t visits() const override { return s_.visits; }

 private:
  weft::stack stack_{stack_size};
  raw_state s_;
};

// Both sides run this one loop, so both suspend at its one call of the switch: a `ret` build
// then returns to the address the caller's `call` pushed, as in the scheduler. (noipa: a
// clone specialised for the other side's endless loop would be a second call site.)
template <raw_switch* Switch>
__attribute__((noipa)) void same_site_loop(void** self_sp, void* const* peer_sp,
                                              std::uint64_t n, std::uint64_t* visits) {
  for (std::uint64_t i = 0; i != n; ++i) {
    ++*visits;
    Switch(self_sp, *peer_sp);
  }
}

template <raw_switch* Switch>
void same_site_other(void* arg) {
  auto* s = static_cast<raw_state*>(arg);
  same_site_loop<Switch>(&s->other_sp, &s->main_sp, ~std::uint64_t{0}, &s->visits);
}

template <raw_switch* Switch>
class same_site_candidate final : public candidate {
 public:
  explicit same_site_candidate(std::string name) : candidate("weft-raw", std::move(name)) {
    s_.other_sp = weft::asm_switch::backend::make(stack_.span(), &same_site_other<Switch>, &s_);
  }
  void run(std::uint64_t n) override {
    same_site_loop<Switch>(&s_.main_sp, &s_.other_sp, n, &main_visits_);
  }
  std::uint64_t visits() const override { return s_.visits; }

 private:
  weft::stack stack_{stack_size};
  raw_state s_;
  std::uint64_t main_visits_ = 0;
};
#endif

// ---- weft's Boost.Context backend, called directly ---------------------------------------
struct context_pair {
  weft::context main;
  weft::context other;
  std::uint64_t visits = 0;
};

void boost_backend_other(void* arg) {
  auto* s = static_cast<context_pair*>(arg);
  for (;;) {
    ++s->visits;
    weft::boost_fcontext::backend::jump(s->other, s->main);
  }
}

class boost_backend_candidate final : public candidate {
 public:
  boost_backend_candidate() : candidate("weft-raw", "boost_fcontext::backend") {
    // What weft::context's constructor does, with this backend instead of the library's.
    weft::context_access::stack(s_.other) = stack_.span();
    weft::context_access::handle(s_.other) =
        weft::boost_fcontext::backend::make(stack_.span(), &boost_backend_other, &s_);
  }
  __attribute__((noinline)) void run(std::uint64_t n) override {
    for (std::uint64_t i = 0; i < n; ++i) weft::boost_fcontext::backend::jump(s_.main, s_.other);
  }
  std::uint64_t visits() const override { return s_.visits; }

 private:
  weft::stack stack_{stack_size};
  context_pair s_;
};

// ---- the public API ----------------------------------------------------------------------
void api_other(void* arg) {
  auto* s = static_cast<context_pair*>(arg);
  for (;;) {
    ++s->visits;
    weft::switch_context(s->other, s->main);
  }
}

class api_candidate final : public candidate {
 public:
  api_candidate()
      : candidate("weft-api", "weft::switch_context[" + std::string(weft::context_backend()) + "]") {
    s_.other = weft::context(stack_, &api_other, &s_);
  }
  __attribute__((noinline)) void run(std::uint64_t n) override {
    for (std::uint64_t i = 0; i < n; ++i) weft::switch_context(s_.main, s_.other);
  }
  std::uint64_t visits() const override { return s_.visits; }

 private:
  weft::stack stack_{stack_size};
  context_pair s_;
};

// ---- Boost.Context jump_fcontext, called directly ----------------------------------------
struct fcontext_state {
  fc::fcontext_t main = nullptr;
  fc::fcontext_t other = nullptr;
  std::uint64_t visits = 0;
};

void fcontext_other(fc::transfer_t t) {
  auto* s = static_cast<fcontext_state*>(t.data);
  s->main = t.fctx;
  for (;;) {
    ++s->visits;
    s->main = fc::jump_fcontext(s->main, nullptr).fctx;
  }
}

class fcontext_candidate final : public candidate {
 public:
  fcontext_candidate() : candidate("baseline", "jump_fcontext") {
    weft::stack_span span = stack_.span();
    s_.other = fc::make_fcontext(span.top(), span.size, &fcontext_other);
  }
  __attribute__((noinline)) void run(std::uint64_t n) override {
    // The data pointer is needed only by the first jump; passing it always costs nothing.
    for (std::uint64_t i = 0; i < n; ++i) s_.other = fc::jump_fcontext(s_.other, &s_).fctx;
  }
  std::uint64_t visits() const override { return s_.visits; }

 private:
  weft::stack stack_{stack_size};
  fcontext_state s_;
};

// ---- ucontext ----------------------------------------------------------------------------
struct ucontext_state {
  ucontext_t main;
  ucontext_t other;
  std::uint64_t visits = 0;
};

ucontext_state* ucontext_started = nullptr;  // makecontext passes only ints: hand over here

void ucontext_other() {
  ucontext_state* s = ucontext_started;
  for (;;) {
    ++s->visits;
    swapcontext(&s->other, &s->main);
  }
}

class ucontext_candidate final : public candidate {
 public:
  ucontext_candidate() : candidate("baseline", "swapcontext") {
    iters_divisor = 8;  // ~40x slower than the others (a system call per switch)
    getcontext(&s_.other);
    s_.other.uc_stack.ss_sp = stack_.span().low;
    s_.other.uc_stack.ss_size = stack_.span().size;
    s_.other.uc_link = nullptr;
    makecontext(&s_.other, &ucontext_other, 0);
  }
  __attribute__((noinline)) void run(std::uint64_t n) override {
    ucontext_started = &s_;
    for (std::uint64_t i = 0; i < n; ++i) swapcontext(&s_.main, &s_.other);
  }
  std::uint64_t visits() const override { return s_.visits; }

 private:
  weft::stack stack_{stack_size};
  ucontext_state s_{};
};

// ---- a C++20 coroutine: the stackless floor ------------------------------------------------
weft_test::lazy_coroutine coroutine_loop(std::uint64_t* visits) {
  for (;;) {
    ++*visits;
    co_await std::suspend_always{};
  }
}

class coroutine_candidate final : public candidate {
 public:
  coroutine_candidate() : candidate("baseline", "coroutine_resume"), task_(coroutine_loop(&visits_)) {}
  ~coroutine_candidate() override { task_.handle.destroy(); }
  __attribute__((noinline)) void run(std::uint64_t n) override {
    void* frame = task_.handle.address();
    for (std::uint64_t i = 0; i < n; ++i) {
      do_not_optimize(frame);  // the compiler must not see which coroutine it resumes
      std::coroutine_handle<>::from_address(frame).resume();
    }
  }
  std::uint64_t visits() const override { return visits_; }

 private:
  std::uint64_t visits_ = 0;
  weft_test::lazy_coroutine task_;
};

// ---- the run -------------------------------------------------------------------------------
// The caller's MXCSR with its six status flags cleared, or with only "inexact" set (x86-64;
// elsewhere the status flags are apart from the control register, and nothing is done).
void set_caller_mxcsr_flags([[maybe_unused]] bool inexact) {
#if defined(__x86_64__)
  constexpr unsigned status_flags = 0x3f, inexact_flag = 0x20;
  _mm_setcsr((_mm_getcsr() & ~status_flags) | (inexact ? inexact_flag : 0));
#endif
}

double time_run(candidate& c, std::uint64_t round_trips, bool caller_flags_set = false) {
  set_caller_mxcsr_flags(caller_flags_set);
  auto start = std::chrono::steady_clock::now();
  c.run(round_trips);
  auto stop = std::chrono::steady_clock::now();
  c.expected_visits += round_trips;
  return std::chrono::duration<double, std::nano>(stop - start).count() /
         static_cast<double>(round_trips);
}

}  // namespace

int main(int argc, char** argv) {
  const weft::bench::options opt = weft::bench::parse_options(argc, argv);

  std::vector<std::unique_ptr<candidate>> candidates;
#if WEFT_BENCH_HAVE_ASM
  candidates.push_back(std::make_unique<raw_asm_candidate<&weft_asm_switch>>("weft_asm_switch"));
#if defined(__x86_64__)  // AArch64 has one build of the public switch (it resumes with ret)
  candidates.push_back(
      std::make_unique<raw_asm_candidate<&weft_asm_switch_ret>>("weft_asm_switch_ret"));
  candidates.push_back(
      std::make_unique<raw_asm_candidate<&weft_asm_switch_jmp>>("weft_asm_switch_jmp"));
  candidates.push_back(std::make_unique<same_site_candidate<&weft_asm_switch_ret>>(
      "weft_asm_switch_ret@same-site"));
#endif
  candidates.push_back(std::make_unique<same_site_candidate<&weft_asm_switch_fiber>>(
      "weft_asm_switch_fiber@same-site"));
#endif
  candidates.push_back(std::make_unique<boost_backend_candidate>());
  candidates.push_back(std::make_unique<api_candidate>());
  candidates.push_back(std::make_unique<fcontext_candidate>());
  candidates.push_back(std::make_unique<ucontext_candidate>());
  candidates.push_back(std::make_unique<coroutine_candidate>());
  std::erase_if(candidates, [&](const auto& c) { return !opt.selected(c->tier, c->name); });
  if (candidates.empty()) {
    std::fprintf(stderr, "no candidate matches --filter '%s'\n", opt.filter.c_str());
    return 2;
  }

  std::printf("weft_switch_bench: ns per round trip (main -> other -> main)\n");
  std::printf("  %d reps x %llu round trips per candidate, interleaved round-robin; "
              "library backend: %.*s\n",
              opt.reps, static_cast<unsigned long long>(opt.iters),
              static_cast<int>(weft::context_backend().size()), weft::context_backend().data());
#if WEFT_BENCH_HAVE_ASM && defined(__x86_64__)
  {
    // Which variant the chosen name is bound to (laundered: the compiler would otherwise
    // assume distinct functions have distinct addresses).
    void* chosen = reinterpret_cast<void*>(&weft_asm_switch);
    void* ret = reinterpret_cast<void*>(&weft_asm_switch_ret);
    void* jmp = reinterpret_cast<void*>(&weft_asm_switch_jmp);
    do_not_optimize(chosen);
    do_not_optimize(ret);
    do_not_optimize(jmp);
    std::printf("  weft_asm_switch is %s\n", chosen == jmp   ? "weft_asm_switch_jmp"
                                             : chosen == ret ? "weft_asm_switch_ret"
                                                             : "a separate function");
  }
#endif
#ifndef __OPTIMIZE__
  std::printf("  WARNING: built without optimisation; use a Release build for real numbers\n");
#endif
  std::fflush(stdout);

  // Warm-up: start every other side, fault in its stack, train the predictors.
  const std::uint64_t warm = std::max<std::uint64_t>(opt.iters / 20, 1000);
  for (auto& c : candidates) time_run(*c, std::max<std::uint64_t>(warm / c->iters_divisor, 100));

  const std::size_t n = candidates.size();
  for (int rep = 0; rep < opt.reps; ++rep) {
    for (std::size_t k = 0; k < n; ++k) {
      candidate& c = *candidates[(static_cast<std::size_t>(rep) + k) % n];
      const std::uint64_t iters = std::max<std::uint64_t>(opt.iters / c.iters_divisor, 1);
      c.ns_per_round_trip.push_back(time_run(c, iters));
      c.ns_flags_differ.push_back(time_run(c, iters, true));
    }
  }

  bool counts_ok = true;
  for (auto& c : candidates) {
    if (c->visits() != c->expected_visits) {
      std::fprintf(stderr, "error: %s: the other side ran %llu times, expected %llu\n",
                   c->name.c_str(), static_cast<unsigned long long>(c->visits()),
                   static_cast<unsigned long long>(c->expected_visits));
      counts_ok = false;
    }
  }

  std::vector<weft::bench::result_row> rows, rows_flags_differ;
  for (auto& c : candidates) {
    rows.push_back({c->tier, c->name, weft::bench::summarize(c->ns_per_round_trip)});
    rows_flags_differ.push_back({c->tier, c->name, weft::bench::summarize(c->ns_flags_differ)});
  }
  weft::bench::set_ratios(rows, "jump_fcontext");
  weft::bench::set_ratios(rows_flags_differ, "jump_fcontext");

  std::printf("\nflags equal: both sides hold the same FP status flags\n");
  weft::bench::print_table(rows, "ns/rt", "x jump_fcontext");
#if defined(__x86_64__)
  std::printf("\nflags differ: the caller's MXCSR inexact flag is set, the other side's is not\n");
#else
  std::printf("\nflags differ: a second run (the FP status flags live apart from the FPCR here)\n");
#endif
  weft::bench::print_table(rows_flags_differ, "ns/rt", "x jump_fcontext");
  for (auto& c : candidates)
    if (c->iters_divisor != 1)
      std::printf("(%s: %llu round trips per rep, --iters/%llu, to keep the run short)\n",
                  c->name.c_str(),
                  static_cast<unsigned long long>(
                      std::max<std::uint64_t>(opt.iters / c->iters_divisor, 1)),
                  static_cast<unsigned long long>(c->iters_divisor));
  std::printf("\n");

  const auto* fcontext_row = weft::bench::find_row(rows, "jump_fcontext");
#if WEFT_BENCH_HAVE_ASM
  const auto* ret = weft::bench::find_row(rows, "weft_asm_switch_ret");
  const auto* jmp = weft::bench::find_row(rows, "weft_asm_switch_jmp");
  const auto* chosen = weft::bench::find_row(rows, "weft_asm_switch");
  const auto* fcontext = weft::bench::find_row(rows, "jump_fcontext");
  if (ret != nullptr && jmp != nullptr) {
    const bool jmp_faster = jmp->ns.median < ret->ns.median;
    const auto* fast = jmp_faster ? jmp : ret;
    const auto* slow = jmp_faster ? ret : jmp;
    const bool overlap = !(fast->ns.max < slow->ns.min);
    std::printf("ret vs jmp: %s is faster by %.1f%% (median %.2f vs %.2f ns)%s\n",
                fast->name.c_str(), 100.0 * (slow->ns.median - fast->ns.median) / slow->ns.median,
                fast->ns.median, slow->ns.median,
                overlap ? "; the min-max ranges overlap" : "; the min-max ranges do not overlap");
  }
  const auto* chosen_flags = weft::bench::find_row(rows_flags_differ, "weft_asm_switch");
  if (chosen != nullptr && fcontext != nullptr && chosen_flags != nullptr)
    std::printf("target asm <= 0.8x jump_fcontext: %s (weft_asm_switch %.2f ns = %.2fx with flags "
                "equal, %.2fx with flags differing)\n",
                chosen->ratio <= 0.8 && chosen_flags->ratio <= 0.8 ? "MET" : "NOT MET",
                chosen->ns.median, chosen->ratio, chosen_flags->ratio);
  const auto* sched = weft::bench::find_row(rows, "weft_asm_switch_fiber@same-site");
  const auto* sched_flags = weft::bench::find_row(rows_flags_differ, "weft_asm_switch_fiber@same-site");
  if (sched != nullptr && sched_flags != nullptr && fcontext != nullptr)
    std::printf("target scheduler's switch <= 0.8x jump_fcontext: %s (weft_asm_switch_fiber %.2f ns "
                "= %.2fx with flags equal, %.2fx with flags differing)\n",
                sched->ratio <= 0.8 && sched_flags->ratio <= 0.8 ? "MET" : "NOT MET",
                sched->ns.median, sched->ratio, sched_flags->ratio);
#else
  std::printf("target asm <= 0.8x jump_fcontext: n/a (no asm switch on this platform)\n");
#endif
  const auto* boost_backend = weft::bench::find_row(rows, "boost_fcontext::backend");
  const auto* boost_flags = weft::bench::find_row(rows_flags_differ, "boost_fcontext::backend");
  if (boost_backend != nullptr && boost_flags != nullptr && fcontext_row != nullptr)
    std::printf("target boost backend <= 1.15x jump_fcontext: %s (%.2f ns = %.2fx with flags equal, "
                "%.2fx with flags differing)\n",
                boost_backend->ratio <= 1.15 && boost_flags->ratio <= 1.15 ? "MET" : "NOT MET",
                boost_backend->ns.median, boost_backend->ratio, boost_flags->ratio);

  if (!opt.csv.empty() && !weft::bench::write_csv(opt.csv, rows)) return 1;
  return counts_ok ? 0 : 1;
}
