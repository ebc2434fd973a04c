// Helpers shared by the executor tests (executor_test.cpp, sync_test.cpp, await_test.cpp,
// stress_test.cpp).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include <weft/weft.hpp>

namespace weft_test {

using namespace std::chrono_literals;

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

// What a forked child did: its wait status and what it wrote on stdout and stderr.
struct child_result {
  int status = 0;
  std::string out;
  std::string err;
  bool aborted() const { return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT; }
  bool exited_ok() const { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }
};

inline std::string read_all(int fd) {
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) text.append(buf, static_cast<std::size_t>(n));
    else if (n == 0 || errno != EINTR) break;
  }
  return text;
}

// Runs body() in a forked child with stdout and stderr captured through pipes. The child
// leaves with _exit(0) when body returns, _exit(98) when it throws; it never returns into
// the test framework. Call it only while this process runs no other thread of its own.
template <class Body>
child_result run_in_child(Body body) {
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  int out_pipe[2], err_pipe[2];
  if (::pipe(out_pipe) != 0 || ::pipe(err_pipe) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    ::close(err_pipe[0]);
    ::close(err_pipe[1]);
    int code = 0;
    try {
      body();
    } catch (...) {
      code = 98;
    }
    std::fflush(nullptr);
    ::_exit(code);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  child_result r;
  // Children here write far less than a pipe buffer, so reading one after the other is safe.
  r.err = read_all(err_pipe[0]);
  r.out = read_all(out_pipe[0]);
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  while (::waitpid(pid, &r.status, 0) < 0 && errno == EINTR) {
  }
  return r;
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
