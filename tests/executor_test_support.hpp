// Helpers shared by the executor tests (executor_test.cpp, sync_test.cpp, await_test.cpp,
// stress_test.cpp, exhaustion_test.cpp).
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include <weft/weft.hpp>

namespace weft_test {

using namespace std::chrono_literals;

// Whether this build runs under ThreadSanitizer, which limits live threads plus fibers to
// 8128 and makes fiber creation slow: tests scale their fiber counts down there.
#if defined(__SANITIZE_THREAD__)
inline constexpr bool under_tsan = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr bool under_tsan = true;
#else
inline constexpr bool under_tsan = false;
#endif
#else
inline constexpr bool under_tsan = false;
#endif

// Counts its destructions: put one on a fiber's stack (or in a capture) to see it unwound.
struct raii_counter {
  std::atomic<int>* destroyed;
  explicit raii_counter(std::atomic<int>& d) noexcept : destroyed(&d) {}
  raii_counter(const raii_counter&) = delete;
  raii_counter& operator=(const raii_counter&) = delete;
  ~raii_counter() { destroyed->fetch_add(1); }
};

// Counts live instances, copies included: for captures and arguments.
struct instance_counter {
  static std::atomic<int> live;
  int value = 0;
  explicit instance_counter(int v = 0) noexcept : value(v) { live.fetch_add(1); }
  instance_counter(const instance_counter& o) noexcept : value(o.value) { live.fetch_add(1); }
  instance_counter(instance_counter&& o) noexcept : value(o.value) { live.fetch_add(1); }
  ~instance_counter() { live.fetch_sub(1); }
};
inline std::atomic<int> instance_counter::live{0};

// Number of mappings of this process (lines of /proc/self/maps).
inline std::size_t mapping_count() {
  std::ifstream maps("/proc/self/maps");
  std::size_t n = 0;
  for (std::string line; std::getline(maps, line);) ++n;
  return n;
}

// Guarded fiber stacks of `region` bytes now mapped: read-write mappings of exactly that size
// directly above a PROT_NONE page.
inline std::size_t count_guarded_stacks(std::size_t region) {
  std::ifstream maps("/proc/self/maps");
  std::size_t count = 0;
  unsigned long prev_start = 0, prev_end = 0;
  std::string prev_perms;
  for (std::string line; std::getline(maps, line);) {
    unsigned long start = 0, end = 0;
    char perms[8] = {};
    if (std::sscanf(line.c_str(), "%lx-%lx %7s", &start, &end, perms) != 3) continue;
    if (std::string(perms) == "rw-p" && end - start == region && prev_end == start &&
        prev_perms == "---p" && prev_end - prev_start == weft::page_size())
      ++count;
    prev_start = start;
    prev_end = end;
    prev_perms = perms;
  }
  return count;
}

// Number of this process's mappings exactly `bytes` long: with an unusual stack size, the
// fiber stack regions, and nothing a sanitizer runtime maps for itself.
inline std::size_t mappings_of_size(std::size_t bytes) {
  std::ifstream maps("/proc/self/maps");
  std::size_t n = 0;
  for (std::string line; std::getline(maps, line);) {
    const auto dash = line.find('-');
    const auto space = line.find(' ');
    if (dash == std::string::npos || space == std::string::npos) continue;
    const unsigned long long low = std::stoull(line.substr(0, dash), nullptr, 16);
    const unsigned long long high = std::stoull(line.substr(dash + 1, space - dash - 1), nullptr, 16);
    if (high - low == bytes) ++n;
  }
  return n;
}

// What a child process did: its wait status and what it wrote on stdout and stderr.
struct child_result {
  int status = 0;
  std::string out;
  std::string err;
  bool aborted() const { return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT; }
  bool exited_ok() const { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }
  // Whether a sanitizer reported anything in the child (such reports do not fail it).
  bool sanitizer_report() const {
    for (const char* marker : {"ThreadSanitizer", "AddressSanitizer", "LeakSanitizer",
                               "runtime error:"})
      if (err.find(marker) != std::string::npos) return true;
    return false;
  }
};

// Runs the hidden test case `test_name` (tagged [.child]) of this test executable in a new
// process: fork, then at once exec this executable with the name as the only argument, with
// stdout and stderr captured through pipes. Exec gives the child a fresh runtime (sanitizer
// state included) and makes this safe while other threads run. A child still running after
// `limit` is killed (SIGKILL). The child test should call reset_fatal_signals() first when it
// is meant to die, so that it dies of the plain signal, not through the framework's handler.
inline child_result run_child_test(const char* test_name,
                                   std::chrono::seconds limit = std::chrono::seconds(120)) {
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  // The executable's path, resolved here: exec of "/proc/self/exe" itself would start
  // valgrind's tool under valgrind, which emulates only the readlink for its client.
  char self[4096];
  const ssize_t self_len = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (self_len <= 0) throw std::runtime_error("readlink /proc/self/exe failed");
  self[self_len] = '\0';
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {  // only async-signal-safe calls until exec
    ::dup2(out_pipe[1], 1);  // dup2 clears close-on-exec on the new descriptors
    ::dup2(err_pipe[1], 2);
    const char* argv[] = {"executor_tests", test_name, nullptr};
    ::execv(self, const_cast<char* const*>(argv));
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  child_result r;
  // Read both pipes until the child closes them or the limit passes.
  const auto deadline = std::chrono::steady_clock::now() + limit;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* texts[2] = {&r.out, &r.err};
  int open_fds = 2;
  while (open_fds > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      r.err += "\n[run_child_test: killed after the time limit]\n";
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

// In a child test meant to die of a signal: the framework's fatal-signal handlers would
// report and re-raise; default dispositions let the process die of the signal directly.
inline void reset_fatal_signals() {
  for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTERM, SIGINT})
    ::signal(sig, SIG_DFL);
}

// Spins (sleeping a little) until pred() holds or `limit` passes; returns pred().
template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds limit = 20s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return pred();
    std::this_thread::sleep_for(200us);
  }
  return true;
}

}  // namespace weft_test
