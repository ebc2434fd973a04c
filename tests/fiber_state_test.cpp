// The scheduler's own switch (the backend's make_fiber / jump_balanced pair, with the fiber
// trampoline's final resume) keeps callee-saved registers and rsp, and 16-byte alignment at a
// fiber's entry. The floating-point control state (MXCSR's control bits and the x87 control
// word) is the worker thread's, except for fibers spawned with spawn_options::own_fp_env, and
// checked builds stop a fiber that leaves the thread's changed. Both backends, one and two
// workers.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include <weft/weft.hpp>

#include "support/child_process.hpp"
#include "support/fp_modes.hpp"
#include "support/register_probe.hpp"

namespace {

using namespace weft_test;

constexpr int rounds = 200;

constexpr std::uint64_t values[2][6] = {
    {0x1111111111111111, 0x2222222222222222, 0x3333333333333333, 0x4444444444444444,
     0x5555555555555555, 0x6666666666666666},
    {0xa1a1a1a1a1a1a1a1, 0xb2b2b2b2b2b2b2b2, 0xc3c3c3c3c3c3c3c3, 0xd4d4d4d4d4d4d4d4,
     0xe5e5e5e5e5e5e5e5, 0xf6f6f6f6f6f6f6f6}};

// weft_probe_call with this_fiber::yield (its two arguments are ignored).
void probe_yield(const std::uint64_t (&v)[6], probe_registers& out) {
  void (*const yield_fn)() = &weft::this_fiber::yield;
  weft_probe_call(reinterpret_cast<probe_fn>(yield_fn), nullptr, nullptr, v, &out);
}

}  // namespace

TEST_CASE("callee-saved registers and rsp survive a fiber's yields", "[executor][registers]") {
  const std::size_t workers = GENERATE(1, 2);
  INFO(workers << " workers");
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

TEST_CASE("a fiber spawned with own_fp_env keeps its MXCSR and x87 control word", "[executor][fp]") {
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

TEST_CASE("fibers without own_fp_env run in their thread's MXCSR and x87 control word", "[executor][fp]") {
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
  const bool mxcsr = GENERATE(true, false);
  INFO((mxcsr ? "MXCSR" : "x87 control word"));
  const auto r = run_in_child([mxcsr] {
    weft::run([mxcsr] {
      weft::spawn(weft::spawn_options{.name = "rounder"}, [mxcsr] {
        if (mxcsr) _mm_setcsr(default_mxcsr | _MM_ROUND_TOWARD_ZERO);
        else set_x87_control(fiber_modes.x87);
        weft::this_fiber::yield();
      }).join();
    });
  });
  INFO(r.describe());
  CHECK(r.aborted());
  CHECK(r.err.find("fiber") != std::string::npos);
  CHECK(r.err.find("\"rounder\"") != std::string::npos);
  CHECK(r.err.find(mxcsr ? "MXCSR control bits" : "x87 control word") != std::string::npos);
  CHECK(r.err.find("spawn_options::own_fp_env") != std::string::npos);
}

TEST_CASE("checked builds stop a fiber that ends with the thread's FP modes changed", "[executor][fp]") {
  SKIP_UNDER_VALGRIND();
  const auto r = run_in_child([] {
    weft::run([] { _mm_setcsr(default_mxcsr | _MM_FLUSH_ZERO_ON); });
  });
  INFO(r.describe());
  CHECK(r.aborted());
  CHECK(r.err.find("MXCSR control bits") != std::string::npos);
}
#endif

TEST_CASE("fibers start on a 16-byte aligned stack", "[executor][alignment]") {
  std::vector<std::uintptr_t> frames;
  weft::run([&] {
    for (int i = 0; i < 8; ++i)
      weft::spawn([&] {
        alignas(16) float v[4];
        _mm_store_ps(v, _mm_set_ps(4.0f, 3.0f, 2.0f, 1.0f));  // faults if v is misaligned
        frames.push_back(reinterpret_cast<std::uintptr_t>(v));
      }).join();
  });
  REQUIRE(frames.size() == 8);
  for (auto f : frames) CHECK(f % 16 == 0);
}
