// Child processes, for tests that must die, change process-wide state or might crash the
// test run: a program, a hidden test case of this executable, or a function in a forked
// child, each with its stdout and stderr captured and a time limit. Children dump no core.
#pragma once

#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <functional>
#include <string>
#include <vector>

namespace weft_test {

// How long a child may run before it is killed (SIGKILL), unless a test says otherwise.
inline constexpr std::chrono::seconds default_child_limit{120};

// What a child process did: its wait status and what it wrote on stdout and stderr.
struct child_result {
  int status = 0;
  std::string out;
  std::string err;
  bool exited(int code) const { return WIFEXITED(status) && WEXITSTATUS(status) == code; }
  bool exited_ok() const { return exited(0); }
  bool signaled(int sig) const { return WIFSIGNALED(status) && WTERMSIG(status) == sig; }
  bool aborted() const { return signaled(SIGABRT); }
  // Whether a sanitizer reported anything in the child (such reports do not fail it).
  bool sanitizer_report() const;
  // How the child ended: "exit N" or "signal N".
  std::string how() const;
  // how(), then its stdout and stderr: for INFO().
  std::string describe() const;
};

// Runs the program `path` with `args` as its arguments in a child process (fork, then exec at
// once: safe while other threads run).
child_result run_program(const std::string& path, const std::vector<std::string>& args,
                         std::chrono::seconds limit = default_child_limit);

// Runs the hidden test case `test_name` (tagged [.child]) of this test executable in a child
// process: exec gives the child a fresh runtime, sanitizer state included. The child test
// should call reset_fatal_signals() first when it is meant to die, so that it dies of the
// plain signal, not through the framework's handler.
child_result run_child_test(const char* test_name,
                            std::chrono::seconds limit = default_child_limit);

// Runs body() in a forked child (no exec: body sees a copy of this process, the calling
// thread only), with default fatal-signal dispositions. The child exits 0 when body returns,
// 97 when it throws, 96 when LeakSanitizer (ASan builds) finds a leak; it never returns into
// the test framework.
child_result run_in_child(const std::function<void()>& body,
                          std::chrono::seconds limit = default_child_limit);

// In a child meant to die of a signal: the framework's fatal-signal handlers would report and
// re-raise; default dispositions let the process die of the signal directly.
void reset_fatal_signals();

}  // namespace weft_test
