// Target program of the gdb_fibers tests (tests/gdb_fibers.py, tools/weft-gdb.py): fibers
// suspended in several ways, then one fiber stops in weft_gdb_fibers_stop(), where gdb lists
// the fibers and unwinds a suspended one. Run alone, it finishes normally.
#include <atomic>
#include <chrono>

#include <weft/weft.hpp>

namespace {

weft::event gate;
weft::channel<int> numbers;
weft::latch countdown(1);
std::atomic<bool> done{false};

}  // namespace

// The breakpoint spot, called by the fiber named "inspector".
extern "C" [[gnu::noinline]] void weft_gdb_fibers_stop() { asm volatile("" ::: "memory"); }

// Frames that weft-bt must show in the suspended fibers' backtraces.
extern "C" [[gnu::noinline]] void weft_gdb_wait_on_event() {
  gate.wait();
  asm volatile("" ::: "memory");  // keeps the call above from becoming a tail call
}
extern "C" [[gnu::noinline]] int weft_gdb_receive() {
  const int v = numbers.recv().value_or(-1);
  asm volatile("" ::: "memory");
  return v;
}
weft::task<int> weft_gdb_task_receive() { co_return (co_await numbers.async_recv()).value_or(-1); }
extern "C" [[gnu::noinline]] void weft_gdb_nap() {
  weft::this_fiber::sleep_for(std::chrono::seconds(1));
  asm volatile("" ::: "memory");
}

int main() {
  weft::executor ex;
  // Never run: its fiber stays "not started", in the executor's remote queue.
  weft::executor idle;
  idle.spawn([] { weft::this_fiber::set_name("never-run"); }).detach();
  // Named by its spawn: gdb shows the name although the fiber never ran.
  idle.spawn(weft::spawn_options{.name = "named-at-spawn"}, [] {}).detach();

  ex.spawn([] {
    weft::this_fiber::set_name("event-waiter");
    weft_gdb_wait_on_event();
  }).detach();
  ex.spawn([] {
    weft::this_fiber::set_name("channel-reader");
    weft_gdb_receive();
  }).detach();
  ex.spawn(weft::spawn_options{.name = "latch-waiter"}, [] { countdown.wait(); }).detach();
  ex.spawn(weft::spawn_options{.name = "task-reader"}, weft_gdb_task_receive()).detach();
  ex.spawn([] {
    weft::this_fiber::set_name("sleeper");
    weft_gdb_nap();
  }).detach();
  ex.spawn([] {
    weft::this_fiber::set_name("yielder");
    while (!done.load()) weft::this_fiber::yield();
  }).detach();
  // The inspector starts inside another fiber's spawn and stops before it ever suspends: a
  // fiber that is on no live list yet, which the debugger finds as its worker's running one.
  ex.spawn([] {
    weft::this_fiber::set_name("spawner");
    weft::spawn([] {
      weft::this_fiber::set_name("inspector");
      weft_gdb_fibers_stop();
      gate.set();
      countdown.count_down();
      numbers.send(1);
      numbers.send(2);
      done.store(true);
    }).join();
  }).detach();
  ex.run();
  return 0;
}
