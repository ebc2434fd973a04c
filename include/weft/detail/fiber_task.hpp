// weft/detail/fiber_task.hpp: what the templates of <weft/executor.hpp> build and read of a
// fiber. spawn builds the typed part (the callable, then its result) at the top of the fiber's
// memory; a join_handle reads the head of the control block. The rest of the control block is
// the library's own (src/fiber.hpp). Internal: not part of the API.
#pragma once

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <stop_token>
#include <type_traits>
#include <utility>

#include <weft/stack.hpp>

namespace weft::detail {

class executor_core;
struct thread_parker;
struct fiber_head;

// How the library runs, drops and destroys a fiber's typed part without knowing its type.
struct task_ops {
  // Runs the callable and stores its result, or its exception into head.error. Not typed
  // noexcept, although nothing leaves it but one case: a destructor throwing while an
  // exception unwinds the task, where GCC drops the task's catch (the cleanup never
  // completes). fiber_main, noexcept, must see such a call as able to throw, so the search for
  // a handler stops there and the unwinding runs: std::terminate then reports the destructor's
  // exception, as on a thread.
  void (*run)(void* task, fiber_head& head);
  void (*drop)(void* task) noexcept;     // destroys the callable without running it
  void (*destroy)(void* task) noexcept;  // destroys the typed part (and a stored result)
  bool runs_coroutine = false;  // the callable runs a spawned weft::task: diagnostics say "task"
};

// The head of a fiber's control block: what its join_handle reads.
struct fiber_head {
  fiber_head(std::uint64_t fiber_id, void* typed_part, const task_ops& task_ops) noexcept
      : id(fiber_id), task(typed_part), ops(&task_ops) {}

  std::atomic<bool> finished{false};
  std::uint64_t id;
  std::exception_ptr error;       // what escaped the callable, once finished
  void* task;                     // the typed part
  const task_ops* ops;
};

// The result a fiber of result type T stores, after its callable.
template <class T>
struct task_result {
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
  ~task_result() {
    if (has_value) std::launder(reinterpret_cast<stored*>(storage))->~stored();
  }
};

template <>
struct task_result<void> {
  template <class Fn>
  void set_from(Fn& fn) { fn(); }
  void take() {}
};

// The typed part of a fiber running `Fn` (a callable taking no arguments) with result T.
template <class Fn, class T>
struct task final : task_result<T> {
  union { Fn fn; };  // destroyed as soon as it has run, so captures die with the fiber

  explicit task(Fn&& f) : fn(std::move(f)) {}
  ~task() {}

  static void run(void* self, fiber_head& head) noexcept {
    auto* t = static_cast<task*>(self);
    try {
      t->set_from(t->fn);
    } catch (...) {
      head.error = std::current_exception();
    }
    t->fn.~Fn();
  }
  static void drop(void* self) noexcept { static_cast<task*>(self)->fn.~Fn(); }
  static void destroy(void* self) noexcept { static_cast<task*>(self)->~task(); }
  static constexpr task_ops ops{&run, &drop, &destroy};
  static constexpr task_ops coroutine_ops{&run, &drop, &destroy, true};
};

// Memory for a new fiber: where to build its typed part and its control block, and the stack
// below them.
struct fiber_memory {
  void* task = nullptr;     // the typed part, at the top
  void* control = nullptr;  // the control block, below it
  stack_span stack{};       // usable stack, below the control block
  stack_span region{};      // everything, to give back
  bool guarded = false;
  bool from_cache = false;  // taken from a worker's region cache (see executor_core::allocate)
  // A caller outside the executor's fibers (a plain thread, another executor's fiber): its
  // spawn counts as a hold for the deadlock check until the fiber is queued (launch).
  thread_parker* outside_caller = nullptr;
};

// Takes a pooled region with room for a typed part of `bytes` at its top. Throws
// std::length_error when it would leave too little stack, std::system_error when memory runs
// out, and std::logic_error when the executor is being destroyed.
fiber_memory allocate_fiber(executor_core& core, std::size_t bytes, std::size_t align);
// Gives back memory whose typed part could not be constructed.
void free_fiber_memory(executor_core& core, const fiber_memory& memory) noexcept;
// Builds the control block for the typed part constructed at memory.task and makes the fiber
// runnable: in a fiber of the same executor it starts at once and the caller resumes right
// after it; otherwise it is queued. Returns the head its join_handle keeps.
fiber_head* launch(executor_core& core, const fiber_memory& memory, const task_ops& ops);

// Handle side of a fiber's life. Callable from any thread.
void wait_until_finished(fiber_head& f);  // join(): suspends the fiber / blocks the thread
// As wait_until_finished, until `stop_at` at the latest: whether f finished.
bool wait_until_finished(fiber_head& f, std::chrono::steady_clock::time_point stop_at);
bool await_finished(fiber_head& f, std::coroutine_handle<> h);  // false: already finished
void release_finished(fiber_head& f) noexcept;  // the handle of a finished fiber lets go: frees it
void detach_handle(fiber_head& f) noexcept;  // without join: the fiber frees itself when it ends
// Throws std::logic_error for `call` (join, detach, co_await) on an empty handle. Out of line,
// so that join() stays small enough to inline.
[[noreturn, gnu::cold]] void throw_empty_handle(const char* call);
executor_core* current_core() noexcept;  // the executor of the calling fiber, or null
// join_handle::request_stop and get_stop_token (stop_request.hpp).
bool handle_request_stop(fiber_head& f) noexcept;
std::stop_token handle_stop_token(fiber_head& f);

}  // namespace weft::detail
