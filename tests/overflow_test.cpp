// Stack overflow reports, as death tests: each case runs tests/overflow_child.cpp in a child
// process (no core dumps) and checks what it wrote on stderr and how it died.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <string>

#include <catch2/catch.hpp>

#ifndef WEFT_OVERFLOW_CHILD
#error "WEFT_OVERFLOW_CHILD (the path of overflow_child) must be defined"
#endif

namespace {

struct death {
  int status = 0;
  std::string err;
  bool signaled(int sig) const { return WIFSIGNALED(status) && WTERMSIG(status) == sig; }
  bool exited(int code) const { return WIFEXITED(status) && WEXITSTATUS(status) == code; }
  std::string id() const {  // the "fiber-id N" line the child writes before the fault
    const auto at = err.find("fiber-id ");
    if (at == std::string::npos) return "?";
    return err.substr(at + 9, err.find('\n', at) - at - 9);
  }
  std::string how() const {
    if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
    if (WIFEXITED(status)) return "exited with " + std::to_string(WEXITSTATUS(status));
    return "status " + std::to_string(status);
  }
};

death run_child(const char* mode) {
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const rlimit no_core{0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);
    ::dup2(pipe_fds[1], STDERR_FILENO);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    ::execl(WEFT_OVERFLOW_CHILD, WEFT_OVERFLOW_CHILD, mode, static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  death d;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
    if (n > 0) d.err.append(buffer, static_cast<std::size_t>(n));
    else if (n < 0 && errno == EINTR) continue;
    else break;
  }
  ::close(pipe_fds[0]);
  while (::waitpid(pid, &d.status, 0) < 0 && errno == EINTR) {
  }
  return d;
}

std::string overflow_line(const death& d) {
  return "weft: stack overflow in fiber " + d.id() + " \"deep\" (stack 65536 bytes); raise "
         "weft::executor_options::stack_size";
}

}  // namespace

// AddressSanitizer and ThreadSanitizer install their own SIGSEGV handler before main().
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define WEFT_TEST_SANITIZER_SEGV 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define WEFT_TEST_SANITIZER_SEGV 1
#endif
#endif

TEST_CASE("a fiber running into its guard page is reported, then aborts", "[overflow]") {
  for (const char* mode : {"overflow", "overflow-big-frames", "overflow-thread", "overflow-workers",
                           "overflow-user"}) {
    INFO("mode " << mode);
    const death d = run_child(mode);
    INFO(d.how() << ", stderr:\n" << d.err);
    CHECK(d.signaled(SIGABRT));
    CHECK(d.err.find(overflow_line(d)) != std::string::npos);
    CHECK(d.err.find("user handler") == std::string::npos);
  }
}

TEST_CASE("an ordinary segfault stays an ordinary segfault", "[overflow]") {
  for (const char* mode : {"null-write", "null-write-main", "raise"}) {
    INFO("mode " << mode);
    const death d = run_child(mode);
    INFO(d.how() << ", stderr:\n" << d.err);
    CHECK(d.err.find("stack overflow") == std::string::npos);
#ifdef WEFT_TEST_SANITIZER_SEGV
    // The sanitizer's handler was there first; weft hands it the fault, and it reports it.
    CHECK(d.err.find("Sanitizer: SEGV") != std::string::npos);
    CHECK_FALSE(d.exited(0));
#else
    CHECK(d.signaled(SIGSEGV));
#endif
  }
}

TEST_CASE("a SIGSEGV handler installed before weft's still gets other faults", "[overflow]") {
  const death d = run_child("user-handler");
  INFO(d.how() << ", stderr:\n" << d.err);
  CHECK(d.exited(42));
  CHECK(d.err.find("user handler: fault at") != std::string::npos);
  CHECK(d.err.find("stack overflow") == std::string::npos);
}
