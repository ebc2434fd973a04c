// A fiber's life after it runs, in one place (fiber_end.cpp): its entry runs the task, then
// its end is published to whoever joins it, it retires from the executor's counts and lists,
// and its memory is freed, by its worker or by its handle, whichever lets go last. The handle's
// side (join, co_await, detach, release) is there too.
#pragma once

#include <exception>
#include <string>

#include "executor_core.hpp"
#include "fiber.hpp"
#include "worker.hpp"

namespace weft::detail {

// "type: what()" of an exception, demangled, for diagnostics.
std::string describe_exception(const std::exception_ptr& error);

// The first and last code of every fiber (a fiber_entry, context/backend.hpp): runs its task,
// then its end, and returns the context to resume for good.
context* fiber_main(void* f) noexcept;

// Destroys a finished fiber's typed part and control block and gives its memory back: called
// by whoever frees it (see fiber::worker_frees), after the fiber has switched away from its
// stack for good. `here`: the calling thread's worker, if any. Inline: it runs at every
// fiber's release.
inline void free_fiber(fiber& f, worker* here) noexcept {
  executor_core* core = f.owner;
  const stack_span region = f.region;
  const bool guarded = f.guarded;
  f.ops->destroy(f.task);
  f.~fiber();
  core->free_region(region, guarded, here);
}

// A finished fiber has switched off its stack for good (the after-switch action of its end,
// on its worker `here`): freed now if its handle is gone, else marked for the handle to free.
inline void switched_off_for_good(fiber& f, worker* here) noexcept {
  if (f.worker_frees) free_fiber(f, here);
  else f.switched_out.store(true, std::memory_order_release);  // the handle frees
}

}  // namespace weft::detail
