// Conformance suite for layer 1 (stacks and contexts). Every test must pass on both backends
// (asm, boost) and under the sanitizer builds. Code running inside a context only records what
// it sees; the assertions run on the test's own stack, so a failure never unwinds through a
// context's entry function.
#include <catch2/catch.hpp>

#include <csignal>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <weft/context.hpp>
#include <weft/stack.hpp>
#include <weft/stack_pool.hpp>

#include "support/alignment.hpp"
#include "support/child_process.hpp"
#include "support/fp_modes.hpp"
#include "support/maps.hpp"
#include "support/register_probe.hpp"
#include "support/sanitizers.hpp"

#ifdef WEFT_TEST_ASAN
// ASan builds run with fake stacks on (recent clang runtimes default to it, GCC 12's does not),
// so the switch annotations are exercised with frames that live off the real stack.
extern "C" const char* __asan_default_options() { return "detect_stack_use_after_return=1"; }
#endif

namespace {

// A function running in a context of its own. resume() runs it until it calls suspend() or
// returns; once it returns, its context switches back for good and done() is true.
class fiber {
 public:
  explicit fiber(std::function<void(fiber&)> body, std::size_t stack_size = 64 * 1024)
      : stack_(stack_size), body_(std::move(body)), self_(stack_, &fiber::entry, this) {}

  void resume() { weft::switch_context(caller_, self_); }
  void suspend() { weft::switch_context(self_, caller_); }
  bool done() const { return done_; }

  weft::context& self() { return self_; }      // the context the body runs in
  weft::context& caller() { return caller_; }  // where the last resume() came from
  weft::stack_span span() const { return stack_.span(); }

 private:
  static void entry(void* arg) {
    auto* f = static_cast<fiber*>(arg);
    f->body_(*f);
    f->done_ = true;
    weft::switch_context_final(f->self_, f->caller_);
  }

  weft::stack stack_;
  std::function<void(fiber&)> body_;
  weft::context self_;
  weft::context caller_;
  bool done_ = false;
};

bool inside(const void* p, weft::stack_span s) {
  auto* c = static_cast<const char*>(p);
  return c >= static_cast<const char*>(s.low) && c < static_cast<const char*>(s.top());
}

}  // namespace

// ---- 1. switching -----------------------------------------------------------------------

namespace {

// One link of a ring of contexts: logs its name and passes control to the next link.
struct chain_link {
  char name;
  weft::context* self;
  weft::context* next;
  std::string* log;
};

void chain_entry(void* arg) {
  auto* link = static_cast<chain_link*>(arg);
  *link->log += link->name;
  weft::switch_context(*link->self, *link->next);
  *link->log += link->name;  // second lap: resumed where the first lap left
  weft::switch_context_final(*link->self, *link->next);
}

}  // namespace

// Control passes along main -> A -> B -> C -> main, twice: a context can resume one other
// than its resumer, and each link continues where it stopped.
TEST_CASE("contexts chain main -> A -> B -> C -> main", "[context]") {
  std::string log;
  weft::stack stack_a, stack_b, stack_c;
  weft::context main_ctx, a, b, c;
  chain_link link_a{'A', &a, &b, &log}, link_b{'B', &b, &c, &log}, link_c{'C', &c, &main_ctx, &log};
  a = weft::context(stack_a, chain_entry, &link_a);
  b = weft::context(stack_b, chain_entry, &link_b);
  c = weft::context(stack_c, chain_entry, &link_c);

  weft::switch_context(main_ctx, a);
  CHECK(log == "ABC");
  weft::switch_context(main_ctx, a);
  CHECK(log == "ABCABC");
}

// A million round trips between the test and one context, each side counting its turns:
// no switch is lost or doubled.
TEST_CASE("one million ping-pong switches", "[context]") {
  constexpr long round_trips = 1'000'000;
  long fiber_turns = 0;
  fiber pong([&](fiber& self) {
    for (long i = 0; i < round_trips; ++i) {
      ++fiber_turns;
      self.suspend();
    }
  });
  long main_turns = 0;
  while (!pong.done()) {
    pong.resume();
    ++main_turns;
  }
  CHECK(fiber_turns == round_trips);
  CHECK(main_turns == round_trips + 1);  // the last resume ends the fiber
}

// ---- 2. registers -----------------------------------------------------------------------

namespace {

// weft_probe_call(&weft::switch_context, from, to, ...) (register_probe_<arch>.S).
void probe_switch(weft::context* from, weft::context* to, const probe_values& values,
                  probe_registers* out) {
  void (*const switch_fn)(weft::context&, weft::context&) noexcept = &weft::switch_context;
  weft_probe_call(reinterpret_cast<probe_fn>(switch_fn), from, to, values.data(), out);
}

// Three different sets; on AArch64 each side also runs in an FPCR of its own (round up, round
// toward zero with flush-to-zero, round down), which switch_context keeps per context.
const probe_values main_values[2] = {make_probe_values(1, 0x400000), make_probe_values(2, 0x800000)};
const probe_values fiber_values = make_probe_values(3, 0x1c00000);

}  // namespace

// The callee-saved registers (x86-64: rbx, rbp, r12-r15; AArch64: x19-x29, d8-d15 and the
// FPCR) and the stack pointer survive a switch on both sides: while the test is suspended with
// one set of values in those registers, the context loads a different set before switching
// back, and vice versa.
TEST_CASE("callee-saved registers and the stack pointer survive a switch", "[context][registers]") {
  probe_registers in_fiber{};
  fiber clobberer([&](fiber& self) {
    probe_switch(&self.self(), &self.caller(), fiber_values, &in_fiber);
  });
  probe_registers in_main[2]{};
  probe_switch(&clobberer.caller(), &clobberer.self(), main_values[0], &in_main[0]);
  check_probe(in_main[0], main_values[0]);
  probe_switch(&clobberer.caller(), &clobberer.self(), main_values[1], &in_main[1]);
  REQUIRE(clobberer.done());
  check_probe(in_fiber, fiber_values);
  check_probe(in_main[1], main_values[1]);
}

// ---- 3. floating-point control state ----------------------------------------------------

using namespace weft_test;  // fp_modes.hpp

// The FP control state (MXCSR and the x87 control word; AArch64's FPCR) belongs to the
// context: modes set on one side are not seen
// on the other, each side gets its own back after a round trip, and a new context starts
// with the modes of the code that created it.
TEST_CASE("the FP control state (MXCSR and x87 control word, or FPCR) is per context", "[context][fp]") {
  fp_defaults_restorer restore;
  set_fp_modes(default_modes);
  std::vector<fp_modes> seen_in_fiber;
  fiber f([&](fiber& self) {
    seen_in_fiber.push_back(current_fp_modes());  // inherited from the creator
    set_fp_modes(fiber_modes);
    self.suspend();
    seen_in_fiber.push_back(current_fp_modes());  // its own, back after main changed main's
  });

  f.resume();
  CHECK(current_fp_modes() == default_modes);  // the fiber's modes did not leak out
  set_fp_modes(main_modes);
  f.resume();
  CHECK(current_fp_modes() == main_modes);     // nor did they when it finished
  REQUIRE(f.done());
  REQUIRE(seen_in_fiber.size() == 2);
  CHECK(seen_in_fiber[0] == default_modes);
  CHECK(seen_in_fiber[1] == fiber_modes);

  fp_modes seen_by_child{};
  fiber child([&](fiber&) { seen_by_child = current_fp_modes(); });
  child.resume();
  CHECK(seen_by_child == main_modes);

  // Created in one mode, first resumed from another: it starts in its creator's.
  fp_modes seen_by_late{};
  fiber late([&](fiber&) { seen_by_late = current_fp_modes(); });
  set_fp_modes(default_modes);
  late.resume();
  CHECK(seen_by_late == main_modes);
  CHECK(current_fp_modes() == default_modes);
}

// ---- 4. alignment -----------------------------------------------------------------------

namespace {

struct alignment_report {
  weft::context* self;
  weft::context* caller;
  std::uintptr_t entry_frame = 1;
  std::uintptr_t entry_sp = 1;
  std::uintptr_t aligned_local = 1;
  float stored[4] = {};
};

[[gnu::noinline]] void aligned_store(alignment_report& r) {
  alignas(16) float v[4];
  r.aligned_local = reinterpret_cast<std::uintptr_t>(v);
  weft_test::aligned_vector_store(v);  // x86-64: faults if v is not 16-byte aligned
  std::memcpy(r.stored, v, sizeof v);
}

void alignment_entry(void* arg) {
  auto* r = static_cast<alignment_report*>(arg);
  r->entry_frame = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
  r->entry_sp = weft_test::stack_pointer();
  aligned_store(*r);
  weft::switch_context_final(*r->self, *r->caller);
}

}  // namespace

// A new context's entry function starts with the ABI's stack alignment: its frame address and
// stack pointer are 16-byte aligned, as are aligned locals, and an aligned vector store to one
// works.
TEST_CASE("entry functions run on a 16-byte aligned stack", "[context][alignment]") {
  // Odd usable sizes do not matter: stacks are whole pages, and the backend aligns the top.
  for (std::size_t size : {std::size_t{16 * 1024}, std::size_t{64 * 1024 + 8}}) {
    weft::stack s(size);
    weft::context main_ctx, ctx;
    alignment_report r{&ctx, &main_ctx};
    ctx = weft::context(s, alignment_entry, &r);
    weft::switch_context(main_ctx, ctx);
    INFO("stack size " << size);
    CHECK(r.entry_frame % 16 == 0);
    CHECK(r.entry_sp % 16 == 0);
    CHECK(inside(reinterpret_cast<void*>(r.entry_frame), s.span()));
    CHECK(r.aligned_local % 16 == 0);
    CHECK(r.stored[0] == 1.0f);
    CHECK(r.stored[3] == 4.0f);
  }
}

// ---- 5. exceptions and deep stacks ------------------------------------------------------

namespace {

[[gnu::noinline]] void throw_from_depth(int depth) {
  if (depth == 0) throw std::runtime_error("thrown inside a context");
  throw_from_depth(depth - 1);
  asm volatile("");  // not a tail call: unwinding really crosses every frame
}

// Recurses `depth` more times, each frame filling 256 bytes with its own tag; returns how
// many frames still held their tag after everything below them had run.
[[gnu::noinline]] int recurse(int depth, std::uintptr_t& lowest_frame) {
  volatile unsigned char frame[256];
  const auto tag = static_cast<unsigned char>(depth);
  for (auto& byte : frame) byte = tag;
  const auto here = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
  if (here < lowest_frame) lowest_frame = here;
  const int intact_below = depth == 0 ? 0 : recurse(depth - 1, lowest_frame);
  bool intact = true;
  for (auto& byte : frame) intact = intact && byte == tag;
  return intact_below + (intact ? 1 : 0);
}

}  // namespace

// An exception thrown and caught inside a context unwinds only the context's own frames and
// leaves no exception in flight behind.
TEST_CASE("exceptions thrown and caught inside a context", "[context][exceptions]") {
  std::string caught;
  int in_flight_after = -1;
  fiber f([&](fiber& self) {
    try {
      throw_from_depth(20);
    } catch (const std::runtime_error& e) {
      caught = e.what();
    }
    in_flight_after = std::uncaught_exceptions();
    self.suspend();  // and the context keeps working afterwards
  });
  f.resume();
  CHECK(caught == "thrown inside a context");
  CHECK(in_flight_after == 0);
  f.resume();
  CHECK(f.done());
}

// 1000 frames of 256-byte locals fit on a 1 MiB stack, run on that stack, and do not
// overwrite each other.
TEST_CASE("deep recursion inside a context", "[context][stack]") {
  constexpr int frames = 1000;
  int intact = 0;
  std::uintptr_t lowest_frame = UINTPTR_MAX;
  fiber f([&](fiber&) { intact = recurse(frames - 1, lowest_frame); }, 1024 * 1024);
  f.resume();
  REQUIRE(f.done());
  CHECK(intact == frames);
  CHECK(inside(reinterpret_cast<void*>(lowest_frame), f.span()));
}

// ---- 6. moving --------------------------------------------------------------------------

namespace {

// The contexts the moving test's entry switches through. The test updates `self` whenever it
// moves the running context; the entry itself moves the suspended test's context (`main`) on
// its third step. Both are read afresh before every switch.
struct move_state {
  weft::context* self = nullptr;
  std::unique_ptr<weft::context> main = std::make_unique<weft::context>();
  int steps = 0;
};

void move_entry(void* arg) {
  auto* state = static_cast<move_state*>(arg);
  for (;;) {
    ++state->steps;
    if (state->steps == 3)  // the old object, which the test's switch saved into, is destroyed
      state->main = std::make_unique<weft::context>(std::move(*state->main));
    if (state->steps == 4) weft::switch_context_final(*state->self, *state->main);
    weft::switch_context(*state->self, *state->main);
  }
}

}  // namespace

// A suspended execution belongs to the object it was moved into: contexts (on both sides of
// a switch) and stacks can be move-constructed and move-assigned and the old objects
// destroyed, and the execution resumes through the new ones, on the same memory.
TEST_CASE("moving suspended contexts and stacks", "[context][move]") {
  move_state state;
  auto original_stack = std::make_unique<weft::stack>(64 * 1024);
  const weft::stack_span span = original_stack->span();

  // Move-construct a context that has not started yet.
  auto unstarted = std::make_unique<weft::context>(*original_stack, move_entry, &state);
  weft::context started(std::move(*unstarted));
  CHECK_FALSE(unstarted->resumable());
  unstarted.reset();
  REQUIRE(started.resumable());
  state.self = &started;
  weft::switch_context(*state.main, started);
  CHECK(state.steps == 1);

  // Move-construct the stack and the suspended context, and destroy the old objects.
  weft::stack moved_stack(std::move(*original_stack));
  CHECK(original_stack->empty());
  CHECK(moved_stack.span().low == span.low);
  CHECK(moved_stack.size() == span.size);
  original_stack.reset();
  auto moved = std::make_unique<weft::context>(std::move(started));
  CHECK_FALSE(started.resumable());
  state.self = moved.get();
  weft::switch_context(*state.main, *moved);
  CHECK(state.steps == 2);

  // Move-assign both over objects that held something else (which is released).
  weft::stack spare(16 * 1024);
  weft::stack assigned_stack(16 * 1024);
  assigned_stack = std::move(moved_stack);
  CHECK(moved_stack.empty());
  CHECK(assigned_stack.span().low == span.low);
  weft::context assigned(spare, move_entry, &state);  // never started: discarded by the assignment
  assigned = std::move(*moved);
  moved.reset();
  state.self = &assigned;
  weft::switch_context(*state.main, assigned);  // returns through the moved-to state.main
  CHECK(state.steps == 3);
  weft::switch_context(*state.main, assigned);
  CHECK(state.steps == 4);
}

// ---- 7. stacks --------------------------------------------------------------------------

// Sizes that cannot be stacks fail with the documented exception type and a message that
// says what was asked and why it failed.
TEST_CASE("bad stack sizes throw with a useful message", "[stack]") {
  CHECK_THROWS_AS(weft::stack(0), std::invalid_argument);
  CHECK_THROWS_WITH(weft::stack(0), Catch::Contains("stack size 0"));

  for (std::size_t size : {std::size_t{1} << 60, SIZE_MAX}) {
    INFO("size " << size);
    std::string message;
    bool right_type = false;
    try {
      weft::stack s(size);
    } catch (const std::system_error& e) {
      right_type = true;
      message = e.what();
      if (e.code() == std::errc::not_enough_memory) CHECK_THAT(message, Catch::Contains("max_map_count"));
    } catch (const std::length_error& e) {
      right_type = true;
      message = e.what();
    }
    CHECK(right_type);
    CHECK_THAT(message, Catch::Contains(std::to_string(size)));
  }
}

// Sizes are rounded up to whole pages, page-aligned, and a pool rounds the same way.
TEST_CASE("stack sizes are rounded up to pages", "[stack]") {
  const std::size_t page = weft::page_size();
  REQUIRE(page >= 4096);
  REQUIRE((page & (page - 1)) == 0);
  CHECK(weft::stack(1).size() == page);
  CHECK(weft::stack(page).size() == page);
  CHECK(weft::stack(page + 1).size() == 2 * page);
  CHECK(weft::stack(page + 1, false).size() == 2 * page);
  CHECK(reinterpret_cast<std::uintptr_t>(weft::stack(100).span().low) % page == 0);
  CHECK(weft::stack_pool(page + 1).stack_size() == 2 * page);
  CHECK_THROWS_AS(weft::stack_pool(0), std::invalid_argument);
}

// The page below a guarded stack is mapped PROT_NONE, and writing to it really faults
// (in a child process, which must die of SIGSEGV).
TEST_CASE("the guard page is PROT_NONE", "[stack]") {
  weft::stack s(16 * 1024);
  REQUIRE(s.guarded());
  char* low = static_cast<char*>(s.span().low);
  CHECK(weft_test::mapping_permissions(low - 1) == "---p");
  CHECK(weft_test::mapping_permissions(low).substr(0, 2) == "rw");
  CHECK(weft_test::mapping_permissions(low + s.size() - 1).substr(0, 2) == "rw");

  // The child's SIGSEGV disposition is the default, not a sanitizer's handler: it dies of the
  // signal itself.
  const weft_test::child_result r =
      weft_test::run_in_child([low] { *reinterpret_cast<volatile char*>(low - 1) = 1; });
  INFO(r.describe());
  CHECK(r.signaled(SIGSEGV));
}

// A pool hands a released stack out again (the same memory), keeps at most max_cached of
// them, and does not keep stacks of another size.
TEST_CASE("stack_pool reuses released stacks", "[stack]") {
  weft::stack_pool pool(32 * 1024, true, 1);
  weft::stack first = pool.acquire();
  void* const low = first.span().low;
  CHECK(first.size() == pool.stack_size());
  CHECK(first.guarded());
  pool.release(std::move(first));
  CHECK(pool.cached() == 1);
  weft::stack again = pool.acquire();
  CHECK(again.span().low == low);
  CHECK(pool.cached() == 0);

  weft::stack other = pool.acquire();
  pool.release(std::move(again));
  pool.release(std::move(other));  // over max_cached: unmapped
  CHECK(pool.cached() == 1);
  pool.release(weft::stack(64 * 1024));  // another size: unmapped
  pool.release(weft::stack(32 * 1024, false));  // another guard setting: unmapped
  CHECK(pool.cached() == 1);
}

// context_backend() names the backend CMake built the library with.
TEST_CASE("context_backend() matches the configured backend", "[context]") {
  CHECK(weft::context_backend() == WEFT_EXPECTED_BACKEND);
}
