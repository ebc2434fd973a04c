// Where the calling thread is in weft: the worker it runs as and the fiber it runs, if any.
// Written by whoever switches (set_current, worker.hpp); read here.
#pragma once

#include <weft/fiber_local.hpp>

namespace weft::detail {

class executor_core;
class worker;
struct fiber;

struct thread_position {
  worker* current_worker = nullptr;
  fiber* current_fiber = nullptr;
};

// The calling thread's position. Read only through the non-inlined functions below, so a
// fiber resumed on another thread never uses an address of the old thread's copy that the
// compiler cached across a switch.
extern constinit __attribute__((tls_model("initial-exec"))) thread_local thread_position
    this_thread_position;

// The table of fiber_local values of what the thread runs: &current_fiber->locals, or outside
// fibers the thread's own once a fiber_local needed it (fiber_local.cpp), no_locals before. Kept
// beside the position by whoever switches; read inline by fiber_local::get through its asm
// name (current_locals(), <weft/fiber_local.hpp>).
extern constinit __attribute__((tls_model("initial-exec"))) thread_local local_table*
    this_thread_locals asm("weft_this_thread_locals");

fiber* current_fiber() noexcept;
worker* current_worker() noexcept;
thread_position current_position() noexcept;  // both at once
// current_core(), the calling fiber's executor, is declared in <weft/detail/fiber_task.hpp>.

}  // namespace weft::detail
