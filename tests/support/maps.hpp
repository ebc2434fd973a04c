// The process's memory mappings and address space, read from /proc: how many mappings there
// are, which are guarded fiber stacks, the permissions at an address, vm.max_map_count and
// the virtual size.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <weft/stack.hpp>

namespace weft_test {

// One line of /proc/self/maps: [start, end) and its permissions ("rw-p", "---p", ...).
struct mapping {
  std::uintptr_t start = 0, end = 0;
  std::string perms;
  std::size_t size() const { return end - start; }
};

// This process's mappings now, in address order.
inline std::vector<mapping> mappings() {
  std::ifstream maps("/proc/self/maps");
  std::vector<mapping> result;
  for (std::string line; std::getline(maps, line);) {
    unsigned long start = 0, end = 0;
    char perms[8] = {};
    if (std::sscanf(line.c_str(), "%lx-%lx %7s", &start, &end, perms) == 3)
      result.push_back({start, end, perms});
  }
  return result;
}

// Number of mappings of this process: lines counted, nothing parsed (cheap on a small fiber
// stack, and called again and again while filling the process's mappings).
inline std::size_t mapping_count() {
  std::ifstream maps("/proc/self/maps");
  std::size_t n = 0;
  for (std::string line; std::getline(maps, line);) ++n;
  return n;
}

// Guarded fiber stacks of `region` bytes now mapped: read-write mappings of exactly that size
// directly above a PROT_NONE page.
inline std::size_t count_guarded_stacks(std::size_t region) {
  const std::vector<mapping> all = mappings();
  std::size_t count = 0;
  for (std::size_t i = 1; i < all.size(); ++i) {
    const mapping& below = all[i - 1];
    if (all[i].perms == "rw-p" && all[i].size() == region && below.end == all[i].start &&
        below.perms == "---p" && below.size() == weft::page_size())
      ++count;
  }
  return count;
}

// Number of this process's mappings exactly `bytes` long: with an unusual stack size, the
// fiber stack regions, and nothing a sanitizer runtime maps for itself.
inline std::size_t mappings_of_size(std::size_t bytes) {
  std::size_t n = 0;
  for (const mapping& m : mappings()) n += m.size() == bytes;
  return n;
}

// The permissions of the mapping holding `address`, or "unmapped".
inline std::string mapping_permissions(const void* address) {
  const auto a = reinterpret_cast<std::uintptr_t>(address);
  for (const mapping& m : mappings())
    if (a >= m.start && a < m.end) return m.perms;
  return "unmapped";
}

// vm.max_map_count: how many mappings the process may have (the kernel's default if unread).
inline std::size_t max_map_count() {
  std::ifstream in("/proc/sys/vm/max_map_count");
  std::size_t n = 65530;
  in >> n;
  return n;
}

// The process's virtual size in bytes (/proc/self/statm): memory mapped, touched or not.
inline std::size_t virtual_size() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0;
  statm >> pages;
  return pages * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

}  // namespace weft_test
