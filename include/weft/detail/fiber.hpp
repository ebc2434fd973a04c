// weft/detail/fiber.hpp: a fiber's control block and its typed result, as the templates of
// <weft/executor.hpp> see them. Internal: not part of the API.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

#include <weft/context.hpp>
#include <weft/detail/waiter.hpp>

namespace weft::detail {

class executor_core;
class worker;

// The control block. It is built at the top of the fiber's own stack memory, so a fiber costs
// one pooled region and nothing else.
struct fiber {
  context ctx;
  executor_core* owner = nullptr;
  worker* pinned = nullptr;             // if set, only this worker runs it (this_fiber::pin)
  worker* resumed_by = nullptr;         // the worker that last switched to it: where it runs
  std::uint64_t id = 0;
  // Runs the task and stores its result or exception. Not typed noexcept, although nothing
  // leaves it but one case: a destructor throwing while an exception unwinds the task, where
  // GCC drops the task's catch (the cleanup never completes). fiber_main, noexcept, must see
  // such a call as able to throw, so the search for a handler stops there and the unwinding
  // runs: std::terminate then reports the destructor's exception, as on a thread.
  void (*body)(fiber*) = nullptr;
  void (*drop)(fiber*) noexcept = nullptr;      // destroys the task without running it
  void (*destroy)(fiber*) noexcept = nullptr;   // destroys the typed part
  std::string name;

  spinlock lock;                        // guards the fields below up to `finished`
  waiter_queue joiners;                 // the joining fiber or thread (at most one)
  std::coroutine_handle<> awaiting_coroutine;  // a coroutine co_awaiting the handle
  bool detached = false;
  std::atomic<bool> finished{false};
  // Who frees the memory (see release_finished): the worker, once the fiber has switched away
  // from its stack for good, if the handle was gone by then; otherwise the handle, once it
  // sees switched_out. Neither needs a read-modify-write.
  bool worker_frees = false;            // written and read by the finishing thread only
  std::atomic<bool> switched_out{false};
  std::exception_ptr error;

  wait_kind waiting_on = wait_kind::none;  // what it is blocked on, for diagnostics
  const void* wait_object = nullptr;
  waiter* current_waiter = nullptr;
  bool cancelled = false;               // set when the executor unwinds it at destruction
  struct {                              // the C++ runtime's exception state while suspended
    void* caught = nullptr;             // (src/eh_state.hpp)
    unsigned int uncaught = 0;
  } eh;

  fiber* next_ready = nullptr;          // run-queue link
  fiber* prev_live = nullptr;           // the live list of the worker that spawned it
  fiber* next_live = nullptr;
  worker* live_list = nullptr;
  fiber* started_by = nullptr;          // the fiber whose spawn started it at once, if any
  stack_span region{};                  // the whole memory block, returned when released
  bool guarded = false;
};

// What a fiber of result type T stores besides the control block.
template <class T>
struct fiber_result : fiber {
  using stored = std::conditional_t<std::is_reference_v<T>, std::remove_reference_t<T>*, T>;
  alignas(stored) unsigned char storage[sizeof(stored)];
  bool has_value = false;

  template <class Fn>
  void set_from(Fn& fn) {
    if constexpr (std::is_reference_v<T>)
      ::new (storage) stored(std::addressof(fn()));
    else
      ::new (storage) stored(fn());
    has_value = true;
  }
  T take() {
    stored& s = *std::launder(reinterpret_cast<stored*>(storage));
    if constexpr (std::is_reference_v<T>)
      return static_cast<T>(*s);
    else
      return std::move(s);
  }
  ~fiber_result() {
    if (has_value) std::launder(reinterpret_cast<stored*>(storage))->~stored();
  }
};

template <>
struct fiber_result<void> : fiber {
  template <class Fn>
  void set_from(Fn& fn) { fn(); }
  void take() {}
};

// A fiber running `Fn` (a callable taking no arguments) with result T.
template <class Fn, class T>
struct task final : fiber_result<T> {
  union { Fn fn; };  // destroyed as soon as it has run, so captures die with the fiber

  explicit task(Fn&& f) : fn(std::move(f)) {
    this->body = &run;
    this->drop = &drop_task;
    this->destroy = &destroy_task;
  }
  ~task() {}

  static void run(fiber* f) noexcept {
    auto* self = static_cast<task*>(f);
    try {
      self->set_from(self->fn);
    } catch (...) {
      self->error = std::current_exception();
    }
    self->fn.~Fn();
  }
  static void drop_task(fiber* f) noexcept { static_cast<task*>(f)->fn.~Fn(); }
  static void destroy_task(fiber* f) noexcept { static_cast<task*>(f)->~task(); }
};

// Memory for a new fiber: where to construct the task, and the stack below it.
struct fiber_memory {
  void* object = nullptr;
  stack_span stack{};    // usable stack, below the object
  stack_span region{};   // everything, to give back
  bool guarded = false;
  bool from_cache = false;  // taken from a worker's region cache (see executor_core::allocate)
  // A caller outside the executor's fibers (a plain thread, another executor's fiber): its
  // spawn counts as a hold for the deadlock check until the fiber is queued (launch).
  thread_parker* outside_caller = nullptr;
};

// Takes a pooled region with room for an object of `bytes` at its top. Throws std::length_error
// when the object would leave too little stack, std::system_error when memory runs out, and
// std::logic_error when the executor is being destroyed.
fiber_memory allocate_fiber(executor_core& core, std::size_t bytes, std::size_t align);
// Gives back memory whose task could not be constructed.
void free_fiber_memory(executor_core& core, const fiber_memory& memory) noexcept;
// Makes a constructed task runnable: in a fiber of the same executor it starts at once and the
// caller resumes right after it; otherwise it is queued.
void launch(executor_core& core, fiber* f, const fiber_memory& memory);

// Handle side of a fiber's life. Callable from any thread.
void wait_until_finished(fiber& f);   // join(): suspends the fiber / blocks the thread
bool await_finished(fiber& f, std::coroutine_handle<> h);  // false: already finished
void release_finished(fiber& f) noexcept;  // the handle of a finished fiber lets go: frees it
void detach_handle(fiber& f) noexcept;   // without join: the fiber frees itself when it ends
// Throws std::logic_error for `call` (join, detach, co_await) on an empty handle. Out of line,
// so that join() stays small enough to inline.
[[noreturn, gnu::cold]] void throw_empty_handle(const char* call);
executor_core* current_core() noexcept;  // the executor of the calling fiber, or null

}  // namespace weft::detail
