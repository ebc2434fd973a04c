// The scheduler's own switch (the backend's make_fiber / jump_balanced pair, with the fiber
// trampoline's final resume) keeps callee-saved registers and the stack pointer, and 16-byte
// alignment at a fiber's entry. The floating-point control state (MXCSR's control bits and the
// x87 control word; AArch64's FPCR) is the worker thread's, except for fibers spawned with
// spawn_options::own_fp_env, and checked builds stop a fiber that leaves the thread's changed.
// Both backends, one and two workers.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include <weft/weft.hpp>

#include "support/alignment.hpp"
#include "support/child_process.hpp"
#include "support/fp_modes.hpp"
#include "support/register_probe.hpp"

namespace {

using namespace weft_test;

constexpr int rounds = 200;

// weft_probe_call with this_fiber::yield (its two arguments are ignored).
void probe_yield(const probe_values& v, probe_registers& out) {
  void (*const yield_fn)() = &weft::this_fiber::yield;
  weft_probe_call(reinterpret_cast<probe_fn>(yield_fn), nullptr, nullptr, v.data(), &out);
}

}  // namespace

TEST_CASE("callee-saved registers and the stack pointer survive a fiber's yields", "[executor][registers]") {
  const std::size_t workers = GENERATE(1, 2);
  INFO(workers << " workers");
  // The FP control slot (AArch64's FPCR) keeps the thread's: these fibers do not own one.
  const probe_values values[2] = {make_probe_values(1, probe_fp_control()),
                                  make_probe_values(2, probe_fp_control())};
  // Two fibers yield to each other with different values in the registers. Before each of
  // A's yields it starts a child that yields once and then ends while A is suspended, so A is
  // resumed both by B's switch and by a finished fiber's final resume.
  std::vector<probe_registers> seen_a(rounds), seen_b(rounds);
  weft::run(
      [&] {
        auto a = weft::spawn([&] {
          for (int r = 0; r < rounds; ++r) {
            auto child = weft::spawn([] { weft::this_fiber::yield(); });
            probe_yield(values[0], seen_a[static_cast<std::size_t>(r)]);
            child.join();
          }
        });
        auto b = weft::spawn([&] {
          for (int r = 0; r < rounds; ++r) probe_yield(values[1], seen_b[static_cast<std::size_t>(r)]);
        });
        a.join();
        b.join();
      },
      weft::executor_options{.workers = workers});
  for (int r = 0; r < rounds; ++r) {
    INFO("round " << r);
    check_probe(seen_a[static_cast<std::size_t>(r)], values[0]);
    check_probe(seen_b[static_cast<std::size_t>(r)], values[1]);
  }
}

// valgrind's CPU emulation does not implement these modes (flush-to-zero, denormals-are-zero,
// x87 precision control): the modes read back are not the ones set, fibers or not. Every
// other configuration runs the tests that set them.
#ifdef WEFT_TEST_UNDER_VALGRIND
#define SKIP_UNDER_VALGRIND()                                                                   \
  do {                                                                                          \
    WARN("skipped under valgrind: it does not emulate MXCSR's FTZ/DAZ or x87 precision control"); \
    return;                                                                                     \
  } while (false)
#else
#define SKIP_UNDER_VALGRIND() (void)0
#endif

TEST_CASE("a fiber spawned with own_fp_env keeps its FP control state", "[executor][fp]") {
  SKIP_UNDER_VALGRIND();
  const std::size_t workers = GENERATE(1, 2);
  INFO(workers << " workers");
  fp_defaults_restorer restore;
  set_fp_modes(default_modes);
  const weft::spawn_options own{.own_fp_env = true};
  // A and B set different modes and yield to each other; each must see its own after every
  // yield, and C (without its own) the thread's. A's children inherit A's modes, set others and
  // end (a final resume into A).
  int a_wrong = 0, b_wrong = 0, c_wrong = 0, child_inherited_wrong = 0;
  weft::run(
      [&] {
        auto a = weft::spawn(own, [&] {
          set_fp_modes(fiber_modes);
          for (int r = 0; r < rounds; ++r) {
            auto child = weft::spawn(own, [&] {
              if (current_fp_modes() != fiber_modes) ++child_inherited_wrong;
              set_fp_modes(default_modes);
              weft::this_fiber::yield();
            });
            weft::this_fiber::yield();
            if (current_fp_modes() != fiber_modes) ++a_wrong;
            child.join();
            if (current_fp_modes() != fiber_modes) ++a_wrong;
          }
        });
        auto b = weft::spawn(own, [&] {
          set_fp_modes(main_modes);
          for (int r = 0; r < rounds; ++r) {
            weft::this_fiber::yield();
            if (current_fp_modes() != main_modes) ++b_wrong;
          }
        });
        auto c = weft::spawn([&] {
          for (int r = 0; r < rounds; ++r) {
            weft::this_fiber::yield();
            if (current_fp_modes() != default_modes) ++c_wrong;
          }
        });
        a.join();
        b.join();
        c.join();
      },
      weft::executor_options{.workers = workers});
  CHECK(a_wrong == 0);
  CHECK(b_wrong == 0);
  CHECK(c_wrong == 0);
  CHECK(child_inherited_wrong == 0);
  CHECK(current_fp_modes() == default_modes);  // the thread that ran the executor: its own
}

TEST_CASE("fibers without own_fp_env run in their thread's FP control state", "[executor][fp]") {
  SKIP_UNDER_VALGRIND();
  const std::size_t workers = GENERATE(1, 2);
  INFO(workers << " workers");
  fp_defaults_restorer restore;
  set_fp_modes(main_modes);  // before the executor's threads start: they inherit it
  int wrong = 0, changed_wrong = 0;
  weft::run(
      [&] {
        std::vector<weft::join_handle<void>> fibers;
        for (int i = 0; i < 4; ++i)
          fibers.push_back(weft::spawn([&] {
            for (int r = 0; r < rounds / 4; ++r) {
              if (current_fp_modes() != main_modes) ++wrong;
              // Changed and put back between two switches: allowed, and seen by nobody else.
              set_fp_modes(fiber_modes);
              if (current_fp_modes() != fiber_modes) ++changed_wrong;
              set_fp_modes(main_modes);
              weft::this_fiber::yield();
            }
          }));
        for (auto& f : fibers) f.join();
      },
      weft::executor_options{.workers = workers});
  CHECK(wrong == 0);
  CHECK(changed_wrong == 0);
  CHECK(current_fp_modes() == main_modes);
}

#ifdef WEFT_TEST_CHECKED
TEST_CASE("checked builds stop a fiber that switches away with the thread's FP modes changed", "[executor][fp]") {
  SKIP_UNDER_VALGRIND();
#if defined(__x86_64__)
  const bool mxcsr = GENERATE(true, false);
  const char* const reported = mxcsr ? "MXCSR control bits" : "x87 control word";
  const auto change = [mxcsr] {
    if (mxcsr) _mm_setcsr(default_mxcsr | _MM_ROUND_TOWARD_ZERO);
    else set_x87_control(fiber_modes.x87);
  };
#else
  const char* const reported = "FPCR";
  const auto change = [] { set_fpcr(fpcr_round_toward_zero); };
#endif
  INFO(reported);
  const auto r = run_in_child([change] {
    weft::run([change] {
      weft::spawn(weft::spawn_options{.name = "rounder"}, [change] {
        change();
        weft::this_fiber::yield();
      }).join();
    });
  });
  INFO(r.describe());
  CHECK(r.aborted());
  CHECK(r.err.find("fiber") != std::string::npos);
  CHECK(r.err.find("\"rounder\"") != std::string::npos);
  CHECK(r.err.find(reported) != std::string::npos);
  CHECK(r.err.find("spawn_options::own_fp_env") != std::string::npos);
}

TEST_CASE("checked builds stop a fiber that ends with the thread's FP modes changed", "[executor][fp]") {
  SKIP_UNDER_VALGRIND();
  const auto r = run_in_child([] {
#if defined(__x86_64__)
    weft::run([] { _mm_setcsr(default_mxcsr | _MM_FLUSH_ZERO_ON); });
#else
    weft::run([] { set_fpcr(fpcr_flush_zero); });
#endif
  });
  INFO(r.describe());
  CHECK(r.aborted());
#if defined(__x86_64__)
  CHECK(r.err.find("MXCSR control bits") != std::string::npos);
#else
  CHECK(r.err.find("FPCR") != std::string::npos);
#endif
}
#endif

TEST_CASE("fibers start on a 16-byte aligned stack", "[executor][alignment]") {
  std::vector<std::uintptr_t> frames;
  weft::run([&] {
    for (int i = 0; i < 8; ++i)
      weft::spawn([&] {
        alignas(16) float v[4];
        aligned_vector_store(v);  // x86-64: faults if v is misaligned
        frames.push_back(reinterpret_cast<std::uintptr_t>(v));
        frames.push_back(stack_pointer());
      }).join();
  });
  REQUIRE(frames.size() == 16);
  for (auto f : frames) CHECK(f % 16 == 0);
}
