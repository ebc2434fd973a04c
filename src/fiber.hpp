// A fiber's control block: everything the library keeps about a fiber beyond the head its
// join_handle reads (include/weft/detail/fiber_task.hpp). It is built in the fiber's own
// memory, just below the typed part at the top of the stack region, so a fiber costs one
// pooled region and nothing else.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <stop_token>
#include <string>

#include <weft/context.hpp>
#include <weft/detail/fiber_task.hpp>
#include <weft/detail/spinlock.hpp>
#include <weft/detail/thread_annotations.hpp>
#include <weft/detail/waiter.hpp>

#include "fiber_local_table.hpp"
#include "fp_env.hpp"

namespace weft::detail {

class executor_core;
class worker;
class live_list;
class scope_state;

struct fiber : fiber_head {
  // Each field is written once (this runs on every spawn).
  fiber(executor_core* executor, std::uint64_t fiber_id, const fiber_memory& memory,
        const task_ops& task_ops) noexcept
      : fiber_head(fiber_id, memory.task, task_ops),
        owner(executor),
        region(memory.region),
        guarded(memory.guarded) {}

  context ctx;
  executor_core* owner;
  worker* pinned = nullptr;      // if set, only this worker runs it (this_fiber::pin)
  worker* resumed_by = nullptr;  // the worker that last switched to it: where it runs
  std::string name;
  std::uint32_t traced_name_epoch = 0;  // the chrome trace that has its name (trace.cpp)

  // The join: whoever waits for the end, and whether anybody will.
  spinlock lock;
  waiter_queue joiners WEFT_GUARDED_BY(lock);  // the joining fiber or thread (at most one)
  std::coroutine_handle<> awaiting_coroutine WEFT_GUARDED_BY(lock);  // co_awaiting the handle
  bool detached WEFT_GUARDED_BY(lock) = false;
  // Who frees the memory (see release_finished): the worker, once the fiber has switched away
  // from its stack for good, if the handle was gone by then; otherwise the handle, once it
  // sees switched_out. Neither needs a read-modify-write.
  bool worker_frees = false;  // written and read by the finishing thread only
  std::atomic<bool> switched_out{false};

  wait_kind waiting_on = wait_kind::none;  // what it is blocked on, for diagnostics
  const void* wait_object = nullptr;
  waiter* current_waiter = nullptr;
  // Every wait of the fiber claims this token (see wait_token); a stop request claims it when
  // the fiber waits in an interruption point (stop_request.hpp).
  wait_token token{wait_token::closed()};
  std::atomic<bool> stop_requested{false};
  // Made the first time the fiber's std::stop_token is asked for (a stop requested before
  // that is requested on it at once).
  std::stop_source stop_source WEFT_GUARDED_BY(lock){std::nostopstate};
  // The weft::scope it was spawned in, if any (scope_state.hpp); once the fiber's task has
  // returned, the scope may be gone: then only compared with null.
  scope_state* scope = nullptr;
  fiber* next_in_scope = nullptr;  // that scope's list of live children (under its lock)
  fiber* prev_in_scope = nullptr;
  bool unwind_requested = false;  // its executor is being destroyed: unwind it (unwinding.hpp)
  // spawn_options::own_fp_env: `fp` is its floating-point control state while it is suspended
  // (fp_env.hpp); the others run in their worker thread's.
  bool own_fp_env = false;
  struct {                        // the C++ runtime's exception state while suspended
    void* caught = nullptr;       // (eh_state.hpp)
    unsigned int uncaught = 0;
  } eh;
  fp_env fp;
  local_table locals;             // its fiber_local values, made on first use

  fiber* next_ready = nullptr;   // run-queue link
  fiber* prev_live = nullptr;    // the live list it joined at its first suspension
  fiber* next_live = nullptr;
  live_list* live_in = nullptr;
  fiber* started_by = nullptr;   // the fiber whose spawn started it at once, if any
  stack_span region;             // the whole memory block, returned when released
  bool guarded;
};

// The control block behind a join_handle's head.
inline fiber& control_of(fiber_head& head) noexcept { return static_cast<fiber&>(head); }

}  // namespace weft::detail
