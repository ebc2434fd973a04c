// weft/blocking.hpp: running a call that blocks its thread (a regular file, getaddrinfo, a
// blocking library) without blocking a worker.
#pragma once

#include <coroutine>
#include <exception>
#include <functional>
#include <type_traits>
#include <utility>

#include <weft/await.hpp>
#include <weft/detail/fiber_task.hpp>

namespace weft {
namespace detail {

// One call for the executor's pool of blocking threads; lives on the calling fiber's stack.
struct blocking_job {
  void (*run)(blocking_job* job) noexcept = nullptr;  // the call, its result or exception kept
  std::coroutine_handle<> resume;                     // resumed on the pool thread afterwards
  blocking_job* next = nullptr;
};

// Queues `job` on `core`'s blocking pool (at most executor_options::blocking_threads threads,
// started as needed; a job waits its turn while all are busy). Throws std::system_error if no
// thread can be started and none runs.
void submit_blocking(executor_core& core, blocking_job& job);

// The awaiter of weft::blocking: runs `fn` on the pool, then resumes the awaiting fiber.
template <class Fn, class R>
struct blocking_call : blocking_job {
  executor_core& core;
  Fn& fn;
  task_result<R> result;
  std::exception_ptr error;

  blocking_call(executor_core& c, Fn& f) noexcept : core(c), fn(f) { run = &call; }

  static void call(blocking_job* job) noexcept {
    auto* self = static_cast<blocking_call*>(job);
    try {
      auto invoke = [self]() -> R { return std::invoke(std::forward<Fn>(self->fn)); };
      self->result.set_from(invoke);
    } catch (...) {
      self->error = std::current_exception();
    }
  }
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    resume = h;
    submit_blocking(core, *this);
  }
  R await_resume() {
    if (error) std::rethrow_exception(error);
    return result.take();
  }
};

}  // namespace detail

// Runs f() on a helper thread of the calling fiber's executor and returns its result (or
// rethrows its exception), suspending only the calling fiber meanwhile: the worker runs other
// fibers. The executor keeps at most executor_options::blocking_threads such threads; further
// calls wait their turn, suspended too. From a plain thread, f() runs inline. The fiber is not
// interrupted while f runs: executor destruction waits for it.
template <class F>
auto blocking(F&& f) -> std::invoke_result_t<F> {
  using result = std::invoke_result_t<F>;
  detail::executor_core* core = detail::current_core();
  if (!core) return std::invoke(std::forward<F>(f));
  detail::blocking_call<F, result> call(*core, f);
  return weft::await(call);
}

}  // namespace weft
