// Target program of the gdb_inline test (tests/gdb_inline.py), built with -O2 -g: the fiber
// "inspector" stops on a breakpoint at a line of weft_gdb_inlined_stop(), which the compiler
// inlines, so gdb's frame 0 is an inline frame, while the fiber "waiter" is suspended in
// weft_gdb_inline_waiter(). Run alone, it finishes normally.
#include <weft/weft.hpp>

namespace {

weft::event gate;
volatile int hits = 0;  // volatile: the stores below stay, each on its own line

}  // namespace

// The frame weft-bt must show for the suspended fiber.
extern "C" [[gnu::noinline]] void weft_gdb_inline_waiter() {
  gate.wait();
  asm volatile("" ::: "memory");  // keeps the call above from becoming a tail call
}

// Always inlined into the inspector: its lines live in an inline frame.
[[gnu::always_inline]] inline void weft_gdb_inlined_stop(int n) {
  hits = hits + n;
  hits = hits + n + 1;  // weft-gdb-inline: break here
}

int main() {
  weft::executor ex;
  ex.spawn([] {
    weft::this_fiber::set_name("waiter");
    weft_gdb_inline_waiter();
  }).detach();
  ex.spawn([] {
    weft::this_fiber::set_name("inspector");
    weft_gdb_inlined_stop(1);  // weft-gdb-inline: the inspector's call
    gate.set();
  }).detach();
  ex.run();
  return hits == 3 ? 0 : 1;
}
