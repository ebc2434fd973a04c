// A user of an installed weft: runs a context on its own stack, switches into it and back,
// and prints the backend so the test can compare it with the build it installed.
// `weft_consumer probe <sanitizer>` commits one error of that sanitizer's kind on purpose, so
// the test can check that the sanitizer flags weft exports reached this program.
#include <weft/weft.hpp>

#include <climits>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

namespace {

struct round_trip {
  weft::context caller;
  weft::context fiber;
  int steps = 0;
};

void fiber_main(void* arg) {
  auto* rt = static_cast<round_trip*>(arg);
  ++rt->steps;
  weft::switch_context(rt->fiber, rt->caller);
  ++rt->steps;
  weft::switch_context_final(rt->fiber, rt->caller);
}

volatile int sink;

int probe(const char* name, int argc) {
  if (std::strcmp(name, "address") == 0) {  // heap-use-after-free (UBSan sees nothing wrong)
    int* volatile p = new int[4]{};
    delete[] p;
    sink = p[argc];
  } else if (std::strcmp(name, "undefined") == 0) {  // signed integer overflow
    volatile int big = INT_MAX;
    sink = big + argc;
  } else if (std::strcmp(name, "thread") == 0) {  // data race: no happens-before between writes
    static int shared = 0;
    std::thread t([] { shared = 1; });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    shared = 2;
    t.join();
    sink = shared;
  } else {
    std::fprintf(stderr, "unknown probe '%s'\n", name);
    return 2;
  }
  std::puts("probe: no error reported");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "probe") == 0) return probe(argv[2], argc);

  weft::stack stack(64 * 1024);
  round_trip rt;
  rt.fiber = weft::context(stack, fiber_main, &rt);
  weft::switch_context(rt.caller, rt.fiber);
  weft::switch_context(rt.caller, rt.fiber);
  if (rt.steps != 2) {
    std::fprintf(stderr, "expected 2 steps in the fiber, saw %d\n", rt.steps);
    return 1;
  }
  std::printf("backend=%.*s\n", static_cast<int>(weft::context_backend().size()),
              weft::context_backend().data());
  return 0;
}
