// Objects that count what happens to them: put one on a fiber's stack, in a capture or among
// spawn's arguments to see it destroyed (unwound) or copied.
#pragma once

#include <atomic>

namespace weft_test {

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
  static inline std::atomic<int> live{0};
  int value = 0;
  explicit instance_counter(int v = 0) noexcept : value(v) { live.fetch_add(1); }
  instance_counter(const instance_counter& o) noexcept : value(o.value) { live.fetch_add(1); }
  instance_counter(instance_counter&& o) noexcept : value(o.value) { live.fetch_add(1); }
  ~instance_counter() { live.fetch_sub(1); }
};

}  // namespace weft_test
