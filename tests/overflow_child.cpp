// The program that tests/overflow_test.cpp runs and watches die: `overflow_child MODE`.
//
//   overflow             a fiber ("deep") recurses forever into its guard page
//   overflow-big-frames  the same with frames larger than the guard page
//   overflow-thread      the same in an executor run by a second thread
//   overflow-workers     the same in an executor with 4 workers, after yields that let the
//                        fiber move to a worker thread
//   overflow-user        the same with an application SIGSEGV handler installed before weft's
//   overflow-sized       the same in a fiber spawned with spawn_options{.name = "deep",
//                        .stack_size = 256 KiB}
//   null-write           a fiber writes through a (near-)null pointer
//   null-write-main      the main thread does, after an executor exists
//   raise                a fiber raises SIGSEGV with raise()
//   user-handler         an application SIGSEGV handler installed before weft's; a fiber
//                        writes through a near-null pointer; the handler must get the fault
//
// Before the fault it writes "fiber-id N" (the faulting fiber's id) on stderr.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include <weft/weft.hpp>

namespace {

volatile int stop_depth = -1;  // never reached: keeps the compiler from seeing a pure loop
// Just above null: UBSan would report a store through nullptr itself, before any fault.
int* volatile null_pointer = reinterpret_cast<int*>(16);

[[gnu::noinline]] int recurse(int depth) {
  volatile char pad[200];
  pad[0] = static_cast<char>(depth);
  if (depth == stop_depth) return 0;
  return recurse(depth + 1) + pad[0];
}

[[gnu::noinline]] int recurse_big(int depth) {
  volatile char pad[3 * 4096 + 512];  // each frame skips past a 4 KiB guard page
  pad[sizeof pad - 1] = static_cast<char>(depth);
  if (depth == stop_depth) return 0;
  return recurse_big(depth + 1) + pad[sizeof pad - 1];
}

void say_id() {
  std::fprintf(stderr, "fiber-id %llu\n",
               static_cast<unsigned long long>(weft::this_fiber::id()));
  std::fflush(stderr);
}

void user_handler(int, siginfo_t* info, void*) {
  char text[64];
  const int n = std::snprintf(text, sizeof text, "user handler: fault at %p\n", info->si_addr);
  if (n > 0) (void)!::write(STDERR_FILENO, text, static_cast<std::size_t>(n));
  _exit(42);
}

void install_user_handler() {
  struct sigaction action = {};
  action.sa_sigaction = &user_handler;
  action.sa_flags = SA_SIGINFO;
  sigemptyset(&action.sa_mask);
  sigaction(SIGSEGV, &action, nullptr);
}

void run_fiber(void (*body)(), bool on_thread = false, std::size_t workers = 1) {
  auto go = [body, workers] {
    weft::executor_options options;
    options.workers = workers;
    weft::run([body, workers] {
      weft::this_fiber::set_name("deep");
      say_id();
      for (std::size_t i = 1; i < workers; ++i) {  // busy siblings, and chances to move
        weft::spawn([] { for (int k = 0; k < 100; ++k) weft::this_fiber::yield(); }).detach();
        weft::this_fiber::yield();
      }
      body();
    }, options);
  };
  if (on_thread) std::thread(go).join();
  else go();
}

void overflow() { std::exit(recurse(0)); }
void overflow_in_sized_fiber() {
  weft::run([] {
    weft::spawn(weft::spawn_options{.name = "deep", .stack_size = 256 * 1024}, [] {
      say_id();
      overflow();
    }).join();
  });
}
void overflow_big() { std::exit(recurse_big(0)); }
void null_write() { *null_pointer = 1; }
void raise_segv() { ::raise(SIGSEGV); }

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "overflow") run_fiber(overflow);
  else if (mode == "overflow-big-frames") run_fiber(overflow_big);
  else if (mode == "overflow-thread") run_fiber(overflow, true);
  else if (mode == "overflow-workers") run_fiber(overflow, false, 4);
  else if (mode == "overflow-sized") overflow_in_sized_fiber();
  else if (mode == "overflow-user") {
    install_user_handler();
    run_fiber(overflow);
  } else if (mode == "null-write") run_fiber(null_write);
  else if (mode == "null-write-main") {
    weft::executor ex;
    say_id();
    null_write();
  } else if (mode == "raise") run_fiber(raise_segv);
  else if (mode == "user-handler") {
    install_user_handler();
    run_fiber(null_write);
  } else {
    std::fprintf(stderr, "overflow_child: unknown mode '%s'\n", mode.c_str());
    return 2;
  }
  std::fprintf(stderr, "overflow_child: survived mode '%s'\n", mode.c_str());
  return 3;
}
