// Target program of the gdb_backtrace test (tests/gdb_backtrace.py): a context whose entry
// calls weft_bt_marker(), where gdb stops and checks that the backtrace ends cleanly at the
// backend's trampoline.
#include <weft/context.hpp>

namespace {

weft::context main_context;
weft::context fiber_context;

}  // namespace

// The breakpoint spot.
extern "C" [[gnu::noinline]] void weft_bt_marker() { asm volatile("" ::: "memory"); }

// The context's entry function: the frame gdb must find just above the marker.
extern "C" [[gnu::noinline]] void weft_bt_entry(void*) {
  weft_bt_marker();
  weft::switch_context_final(fiber_context, main_context);
}

int main() {
  weft::stack stack;
  fiber_context = weft::context(stack, weft_bt_entry, nullptr);
  weft::switch_context(main_context, fiber_context);
  return 0;
}
