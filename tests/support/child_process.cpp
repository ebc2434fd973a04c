// tests/support/child_process.hpp: one way to fork a child with its output on pipes, read
// both pipes under a time limit and reap it; the three kinds of child are built on it.
#include "child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <exception>
#include <iostream>
#include <system_error>

#include "sanitizers.hpp"

#ifdef WEFT_TEST_ASAN
#include <sanitizer/lsan_interface.h>
#endif

namespace weft_test {

namespace {

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// Forks a child with stdout and stderr on pipes, in which in_child() runs; in_child must not
// return (it execs or _exits), and until an exec only async-signal-safe calls are safe there.
// Reads both pipes until the child closes them or `limit` passes (then kills it with
// SIGKILL), and reaps it.
child_result run_forked(const std::function<void()>& in_child, std::chrono::seconds limit) {
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw_errno("pipe2");
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    const int e = errno;
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    errno = e;
    throw_errno("pipe2");
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    const rlimit no_core{0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);
    ::dup2(out_pipe[1], STDOUT_FILENO);  // dup2 clears close-on-exec on the new descriptors
    ::dup2(err_pipe[1], STDERR_FILENO);
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) ::close(fd);
    in_child();
    ::_exit(127);
  }
  const int fork_errno = errno;
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (pid < 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    errno = fork_errno;
    throw_errno("fork");
  }
  child_result r;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* texts[2] = {&r.out, &r.err};
  int open_fds = 2;
  while (open_fds > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      r.err += "\n[weft_test: child killed after its time limit of " +
               std::to_string(limit.count()) + " s]\n";
      break;
    }
    if (::poll(fds, 2, static_cast<int>(std::min<long long>(left.count(), 1000))) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        texts[i]->append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  while (::waitpid(pid, &r.status, 0) < 0 && errno == EINTR) {
  }
  return r;
}

}  // namespace

bool child_result::sanitizer_report() const {
  for (const char* marker : {"ThreadSanitizer", "AddressSanitizer", "LeakSanitizer",
                             "runtime error:"})
    if (err.find(marker) != std::string::npos) return true;
  return false;
}

std::string child_result::how() const {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

std::string child_result::describe() const {
  return how() + "\n--- stdout:\n" + out + "--- stderr:\n" + err;
}

child_result run_program(const std::string& path, const std::vector<std::string>& args,
                         std::chrono::seconds limit) {
  // argv is built here: the child may not allocate before exec.
  std::vector<char*> argv;
#ifdef WEFT_TEST_EMULATOR
  // A cross build's programs run under the emulator CTest uses (e.g. qemu-aarch64): the
  // kernel cannot exec them itself.
  const std::string emulator = WEFT_TEST_EMULATOR;
  argv.push_back(const_cast<char*>(emulator.c_str()));
#endif
  argv.push_back(const_cast<char*>(path.c_str()));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  return run_forked([&] { ::execv(argv[0], argv.data()); }, limit);
}

child_result run_child_test(const char* test_name, std::chrono::seconds limit) {
  // The executable's path, resolved here: exec of "/proc/self/exe" itself would start
  // valgrind's tool under valgrind, which emulates only the readlink for its client.
  char self[4096];
  const ssize_t self_len = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (self_len <= 0) throw_errno("readlink /proc/self/exe");
  return run_program(std::string(self, static_cast<std::size_t>(self_len)), {test_name}, limit);
}

child_result run_in_child(const std::function<void()>& body, std::chrono::seconds limit) {
  return run_forked(
      [&body] {
        // Catch2's fatal-signal handlers would report (and, under TSan, allocate in) a death
        // the test expects: the child dies the default way.
        reset_fatal_signals();
        int code = 0;
        try {
          body();
        } catch (const std::exception& e) {
          std::fprintf(stderr, "child: uncaught exception: %s\n", e.what());
          code = 97;
        } catch (...) {
          std::fprintf(stderr, "child: uncaught exception\n");
          code = 97;
        }
        std::cout.flush();
        std::fflush(nullptr);
#ifdef WEFT_TEST_ASAN
        if (code == 0 && __lsan_do_recoverable_leak_check() != 0) code = 96;
#endif
        ::_exit(code);
      },
      limit);
}

void reset_fatal_signals() {
  for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTERM, SIGINT})
    ::signal(sig, SIG_DFL);
}

}  // namespace weft_test
