// Stack overflow reports. The handler runs on the thread's alternate signal stack and uses
// async-signal-safe calls only: write(2), sigaction, abort; numbers are formatted by hand.
#include "overflow_handler.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <mutex>

#include "current.hpp"
#include "fiber.hpp"

namespace weft::detail {
namespace {

std::once_flag handler_installed;
struct sigaction previous_segv;  // what was installed before us, to chain to
struct sigaction previous_bus;
std::uintptr_t guard_size = 4096;  // page_size(), read once outside the handler

// How far below the stack pointer code may touch memory: an access there, below a fiber's
// stack, is the fiber running off its stack even past the guard page.
#if defined(__x86_64__)
constexpr std::uintptr_t red_zone = 128;  // x86-64 SysV: leaf code may write below rsp
#else
// AArch64: a prologue's pre-indexed `stp x29, x30, [sp, #-N]!` writes up to 512 bytes below
// the sp it faults with (after a `sub sp` that skipped the guard page without touching it).
constexpr std::uintptr_t red_zone = 512;
#endif

// The stack pointer of the interrupted code.
std::uintptr_t interrupted_sp(const ucontext_t& uc) noexcept {
#if defined(__x86_64__)
  return static_cast<std::uintptr_t>(uc.uc_mcontext.gregs[REG_RSP]);
#elif defined(__aarch64__)
  return static_cast<std::uintptr_t>(uc.uc_mcontext.sp);
#else
#error "overflow_handler.cpp: add this architecture's stack pointer in a ucontext_t"
#endif
}

// ---- output without malloc or stdio ------------------------------------------------------

struct line {
  char text[512];
  std::size_t used = 0;

  void add(const char* s, std::size_t n) noexcept {
    n = std::min(n, sizeof text - used);
    for (std::size_t i = 0; i < n; ++i) text[used + i] = s[i];
    used += n;
  }
  void add(const char* s) noexcept {
    std::size_t n = 0;
    while (s[n]) ++n;
    add(s, n);
  }
  void add_number(std::uint64_t v) noexcept {
    char digits[20];
    std::size_t n = 0;
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    char out[20];
    for (std::size_t i = 0; i < n; ++i) out[i] = digits[n - 1 - i];
    add(out, n);
  }
  // A fiber name: at most 128 bytes, control characters shown as '?'.
  void add_name(const char* s, std::size_t n) noexcept {
    const std::size_t shown = std::min<std::size_t>(n, 128);
    for (std::size_t i = 0; i < shown; ++i) {
      const char c = static_cast<unsigned char>(s[i]) < 0x20 || s[i] == 0x7f ? '?' : s[i];
      add(&c, 1);
    }
    if (shown < n) add("...");
  }
  void write_to_stderr() noexcept {
    std::size_t done = 0;
    while (done < used) {
      const ssize_t n = ::write(STDERR_FILENO, text + done, used - done);
      if (n > 0) done += static_cast<std::size_t>(n);
      else if (n < 0 && errno == EINTR) continue;
      else break;
    }
  }
};

// ---- the handler ---------------------------------------------------------------------------

// True when a fault at `addr` with stack pointer `sp` is `f` running off the bottom of its stack.
bool is_overflow(const fiber& f, std::uintptr_t addr, std::uintptr_t sp) noexcept {
  const auto low = reinterpret_cast<std::uintptr_t>(f.region.low);
  if (low == 0 || addr >= low) return false;
  if (f.guarded && addr >= low - guard_size) return true;  // the guard page itself
  // Past the guard page (a frame bigger than a page) or below an unguarded stack: a stack
  // access (at or above the stack pointer, less the red zone) below the stack's lowest byte.
  return addr + red_zone >= sp;
}

[[noreturn]] void report_overflow(const fiber& f) noexcept {
  line out;
  out.add("weft: stack overflow in fiber ");
  out.add_number(f.id);
  out.add(" \"");
  out.add_name(f.name.data(), f.name.size());
  out.add("\" (stack ");
  out.add_number(f.region.size);
  out.add(" bytes); raise weft::executor_options::stack_size or the fiber's"
          " weft::spawn_options::stack_size (the size counts the whole region:"
          " the stack and, at its top, the fiber's control block and callable)");
  if (!f.guarded)
    out.add("; this stack had no guard page, so the overflow may first have overwritten"
            " other memory");
  out.add("\n");
  out.write_to_stderr();

  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(SIGABRT, &dfl, nullptr);  // an application's SIGABRT handler must not return
  std::abort();
}

// Hands a fault that is not an overflow to what was installed before us.
void chain(int sig, siginfo_t* info, void* uctx) noexcept {
  struct sigaction& previous = sig == SIGBUS ? previous_bus : previous_segv;
  if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    const struct sigaction called = previous;
    if (called.sa_flags & SA_RESETHAND) previous.sa_handler = SIG_DFL;
    if (called.sa_flags & SA_SIGINFO) called.sa_sigaction(sig, info, uctx);
    else called.sa_handler(sig);
    return;
  }
  // The default action. (SIG_IGN cannot stop a fault either: the kernel forces the default.)
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(sig, &dfl, nullptr);
  // A real fault happens again when we return, now with the default action: the process dies
  // of `sig` at the faulting instruction, core dump included. A signal sent with kill() or
  // raise() is sent again; it stays blocked, so pending, until this handler returns.
  if (info == nullptr || info->si_code <= 0) ::raise(sig);
}

void on_fault(int sig, siginfo_t* info, void* uctx) {
  const int saved_errno = errno;
  if (info != nullptr && info->si_code > 0 && uctx != nullptr) {  // a fault, not a kill()
    if (const fiber* f = current_fiber()) {
      const auto addr = reinterpret_cast<std::uintptr_t>(info->si_addr);
      const auto sp = interrupted_sp(*static_cast<ucontext_t*>(uctx));
      if (is_overflow(*f, addr, sp)) report_overflow(*f);
    }
  }
  errno = saved_errno;
  chain(sig, info, uctx);
}

// ---- alternate signal stacks ----------------------------------------------------------------

// The alternate stack this thread got from weft, if any, unmapped when the thread exits.
struct owned_signal_stack {
  char* base = nullptr;   // the mapping, guard page first
  std::size_t bytes = 0;
  bool checked = false;   // ensure_signal_stack() already ran on this thread

  ~owned_signal_stack() {
    if (base == nullptr) return;
    stack_t current;
    if (::sigaltstack(nullptr, &current) != 0) return;  // keep it mapped: it may be in use
    if (current.ss_sp == base + page_size() && !(current.ss_flags & SS_DISABLE)) {
      if (current.ss_flags & SS_ONSTACK) return;  // exiting from a handler: leave it
      stack_t off = {};
      off.ss_flags = SS_DISABLE;
      if (::sigaltstack(&off, nullptr) != 0) return;
    }
    ::munmap(base, bytes);
  }
};
thread_local owned_signal_stack signal_stack;

}  // namespace

void install_overflow_handler() noexcept {
  std::call_once(handler_installed, [] {
    guard_size = page_size();
    struct sigaction action = {};
    action.sa_sigaction = &on_fault;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGSEGV, &action, &previous_segv);
    ::sigaction(SIGBUS, &action, &previous_bus);
  });
}

void ensure_signal_stack() noexcept {
  owned_signal_stack& mine = signal_stack;
  if (mine.checked) return;
  mine.checked = true;
  stack_t current;
  if (::sigaltstack(nullptr, &current) != 0 || !(current.ss_flags & SS_DISABLE)) return;
  const std::size_t page = page_size();
  std::size_t size = 64 * 1024;
#ifdef _SC_SIGSTKSZ
  const long wanted = ::sysconf(_SC_SIGSTKSZ);  // grows with the CPU's register state
  if (wanted > 0) size = std::max(size, 4 * static_cast<std::size_t>(wanted));
#endif
  size = (size + page - 1) / page * page;
  void* base = ::mmap(nullptr, size + page, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) return;  // no alternate stack: overflows die of a plain SIGSEGV
  ::mprotect(base, page, PROT_NONE);  // a guard page for the handler's own stack
  stack_t alt = {};
  alt.ss_sp = static_cast<char*>(base) + page;
  alt.ss_size = size;
  if (::sigaltstack(&alt, nullptr) != 0) {
    ::munmap(base, size + page);
    return;
  }
  mine.base = static_cast<char*>(base);
  mine.bytes = size + page;
}

}  // namespace weft::detail
