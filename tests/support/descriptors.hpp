// File descriptors in tests: counting this process's open ones (to see that nothing leaks),
// raising the limit for tests with many connections, and small byte helpers.
#pragma once

#include <dirent.h>
#include <sys/resource.h>

#include <cstddef>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>

namespace weft_test {

// Entries of /proc/self/fd, less the one the listing itself opens.
inline std::size_t open_fd_count() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return 0;
  std::size_t n = 0;
  while (dirent* e = ::readdir(dir))
    if (e->d_name[0] != '.') ++n;
  ::closedir(dir);
  return n - 1;
}

// The highest descriptor number open now (-1: none).
inline int highest_open_fd() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return -1;
  const int own = ::dirfd(dir);
  int highest = -1;
  while (dirent* e = ::readdir(dir))
    if (e->d_name[0] != '.') {
      const int fd = std::atoi(e->d_name);
      if (fd != own && fd > highest) highest = fd;
    }
  ::closedir(dir);
  return highest;
}

// Raises the soft RLIMIT_NOFILE to at least `wanted` if the hard limit allows; returns the
// soft limit now.
inline std::size_t raise_fd_limit(std::size_t wanted) {
  rlimit r{};
  ::getrlimit(RLIMIT_NOFILE, &r);
  if (r.rlim_cur < wanted) {
    r.rlim_cur = r.rlim_max == RLIM_INFINITY || r.rlim_max >= wanted ? wanted : r.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &r);
    ::getrlimit(RLIMIT_NOFILE, &r);
  }
  return static_cast<std::size_t>(r.rlim_cur);
}

inline std::span<const std::byte> bytes_of(std::string_view s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

inline std::string text_of(std::span<const std::byte> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

}  // namespace weft_test
