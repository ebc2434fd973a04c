// weft/detail/core_ref.hpp: shared ownership of an executor's internals. Internal: not part of
// the API.
#pragma once

#include <utility>

namespace weft::detail {

class executor_core;

// The core's reference count, out of line (src/executor_core.cpp). The last release destroys it.
void retain_core(executor_core& core) noexcept;
void release_core(executor_core& core) noexcept;

// One counted reference to an executor_core. The executor object holds one and each
// executor::work_guard one; every fiber region holds one too, counted by the library itself
// (executor_core::allocate). The core outlives the executor while any is held.
class core_ref {
 public:
  core_ref() noexcept = default;
  // Takes over a reference the caller already counted (a new core starts with one).
  static core_ref adopt(executor_core* core) noexcept { return core_ref(core); }
  core_ref(const core_ref& other) noexcept : core_(other.core_) {
    if (core_) retain_core(*core_);
  }
  core_ref(core_ref&& other) noexcept : core_(std::exchange(other.core_, nullptr)) {}
  core_ref& operator=(core_ref other) noexcept {
    std::swap(core_, other.core_);
    return *this;
  }
  ~core_ref() { reset(); }

  void reset() noexcept {
    if (executor_core* core = std::exchange(core_, nullptr)) release_core(*core);
  }
  executor_core* get() const noexcept { return core_; }
  executor_core& operator*() const noexcept { return *core_; }
  executor_core* operator->() const noexcept { return core_; }
  explicit operator bool() const noexcept { return core_ != nullptr; }

 private:
  explicit core_ref(executor_core* core) noexcept : core_(core) {}
  executor_core* core_ = nullptr;
};

}  // namespace weft::detail
