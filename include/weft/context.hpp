// weft/context.hpp: layer 1, suspended executions and the symmetric switch between them.
#pragma once

#include <cstddef>
#include <string_view>

#include <weft/stack.hpp>

namespace weft {

// "asm" or "boost": the context-switch backend this build of weft uses. Callable from anywhere.
std::string_view context_backend() noexcept;

// One suspended execution: either a thread's own flow (an empty context that a switch saves
// into) or a function started on a stack. Movable, not copyable. A context must not be moved
// or destroyed while it is running, and a stack must outlive every context made on it.
class context {
 public:
  // Empty: switching away from it saves the caller into it, so it can be resumed later.
  context() noexcept = default;
  // Prepares entry(arg) to start on `s` when this context is first switched to. `entry` must
  // never return: it ends by switching away for good (switch_context_final).
  context(stack& s, void (*entry)(void* arg), void* arg);
  context(stack_span s, void (*entry)(void* arg), void* arg);
  ~context();
  context(context&& other) noexcept;
  context& operator=(context&& other) noexcept;
  context(const context&) = delete;
  context& operator=(const context&) = delete;

  // True when there is something to resume: a prepared entry or a saved execution.
  bool resumable() const noexcept { return sp_ != nullptr; }

 private:
  friend struct context_access;
  void swap(context& other) noexcept;

  void* sp_ = nullptr;            // backend handle: saved stack pointer (asm) or fcontext (boost)
  stack_span stack_{};            // where a started context runs; empty for a thread's own flow
  void* asan_fake_stack_ = nullptr;  // sanitizer bookkeeping; unused in plain builds
  void* tsan_fiber_ = nullptr;
  bool owns_tsan_fiber_ = false;
};

// Saves the running execution into `from` and resumes `to`. Returns when something switches
// back to `from`. `to` must be resumable and must not be running. Never throws.
void switch_context(context& from, context& to) noexcept;

// As switch_context, for an execution that will never be resumed (a finished fiber): lets
// sanitizers release what they kept for it. `from` may then be destroyed by the code in `to`.
void switch_context_final(context& from, context& to) noexcept;

}  // namespace weft
