// The calling thread's position (current.hpp). Every reader is out of line: see there.
#include "current.hpp"

#include <stdexcept>

#include <weft/detail/fiber_task.hpp>
#include <weft/executor.hpp>

#include "fiber.hpp"

namespace weft::detail {

constinit __attribute__((tls_model("initial-exec"))) thread_local thread_position
    this_thread_position;
constinit __attribute__((tls_model("initial-exec"))) thread_local local_table*
    this_thread_locals asm("weft_this_thread_locals") = &no_locals;

__attribute__((noinline)) fiber* current_fiber() noexcept {
  return this_thread_position.current_fiber;
}
__attribute__((noinline)) worker* current_worker() noexcept {
  return this_thread_position.current_worker;
}
__attribute__((noinline)) thread_position current_position() noexcept {
  return this_thread_position;
}
__attribute__((noinline)) executor_core* current_core() noexcept {
  fiber* f = this_thread_position.current_fiber;
  return f ? f->owner : nullptr;
}

__attribute__((noinline)) executor_core& spawning_core() {
  fiber* f = this_thread_position.current_fiber;
  if (!f) [[unlikely]]
    throw std::logic_error("weft::spawn: called outside a fiber; use executor::spawn");
  return *f->owner;
}

}  // namespace weft::detail
