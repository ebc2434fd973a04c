// weft/executor.hpp: layer 2, fibers with join handles on an executor.
#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stop_token>
#include <string_view>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <weft/cancellation.hpp>
#include <weft/detail/core_ref.hpp>
#include <weft/detail/deadline.hpp>
#include <weft/detail/fiber_task.hpp>

namespace weft {

// How an executor runs its fibers.
struct executor_options {
  std::size_t workers = 1;             // OS threads running fibers; the thread calling run() is one
  std::size_t stack_size = 64 * 1024;  // per fiber, rounded up to pages; the control block and
                                       // the captured callable live at its top
  bool guard_pages = true;             // PROT_NONE page below every stack (see max_guarded_stacks)
  // Guarded stacks cost two memory mappings each, and Linux caps a process's mappings
  // (vm.max_map_count, 65530 by default). At most this many fibers of the process get a guard
  // page at once; the rest get stacks without one, carved from shared slabs, and weft says so
  // once on stderr. 0: derived from vm.max_map_count (half of it, less a reserve).
  std::size_t max_guarded_stacks = 0;
  // Released stacks are kept for reuse, up to this many per executor (0: keep all).
  std::size_t max_cached_stacks = 0;
  // Threads that run weft::blocking calls, at most (started as needed, at least 1).
  std::size_t blocking_threads = 16;
  // run() reports a deadlock only after nothing could wake the stuck fibers for this long with
  // no thread calling into weft meanwhile: a plain thread or another executor about to wake a
  // fiber is not a deadlock. 0: at once. Not negative.
  std::chrono::milliseconds deadlock_grace{250};
};

// Per-fiber choices for executor::spawn and weft::spawn.
struct spawn_options {
  // The fiber's name, shown by traces (from its spawn event on), deadlock reports and gdb.
  std::string_view name = {};
  // Never stolen: the fiber runs only on the worker it starts on (as this_fiber::pin() at its
  // start; spawned from outside the executor's fibers, that is worker 0).
  bool pinned = false;
  // 0: the executor's stack size; else this fiber's own, rounded up to pages (a region mapped
  // for it and unmapped at its end, guarded as the executor's stacks are).
  std::size_t stack_size = 0;
  // Its own floating-point control state (x86-64: MXCSR's control modes and the x87 control
  // word; AArch64: the FPCR), starting as the spawner's and kept across its switches. Other
  // fibers share their worker thread's and must leave it as they found it whenever they block,
  // yield or end (checked builds stop the process otherwise).
  bool own_fp_env = false;
};

// Thrown by run() (and join() driving it) when fibers remain that nothing can ever wake: no
// fiber is ready, no timer is pending, no await is outstanding, no work_guard is alive and no
// plain thread is blocked in a weft call, is inside spawn or owns a weft::mutex. The message
// names each fiber and what it waits on.
struct deadlock_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <class T>
class join_handle;
template <class T>
class task;  // <weft/task.hpp>

namespace detail {
// The stop-token rule of std::jthread: a callable that can take a std::stop_token before its
// arguments gets its fiber's.
template <class F, class... Args>
inline constexpr bool takes_stop_token = std::is_invocable_v<F, std::stop_token, Args...>;
// A weft::task<T> given to spawn: its result type is T.
template <class F>
struct task_value {};
template <class T>
struct task_value<weft::task<T>> {
  using type = T;
};
template <class F>
inline constexpr bool is_task = requires { typename task_value<std::remove_cvref_t<F>>::type; };
template <class F, class... Args>
using spawn_result_t = typename std::conditional_t<
    is_task<F>, task_value<std::remove_cvref_t<F>>,
    std::conditional_t<takes_stop_token<F, Args...>,
                       std::invoke_result<F, std::stop_token, Args...>,
                       std::invoke_result<F, Args...>>>::type;
// Runs a task to its end on the calling fiber (defined in <weft/task.hpp>).
template <class T>
T run_task(weft::task<T>&& t);
// std::logic_error for `call` (spawn, run, co_await) of an empty task.
[[noreturn, gnu::cold]] void throw_empty_task(const char* call);
std::stop_token current_stop_token();  // this_fiber::stop_token()
}  // namespace detail

namespace detail {
struct handle_access {
  template <class T>
  static join_handle<T> make(fiber_head* f) noexcept { return join_handle<T>(f); }
};
}  // namespace detail

// A pool of fibers run by `workers` OS threads. Fibers run cooperatively: a fiber keeps its
// worker until it yields, blocks in a weft call, or finishes.
class executor {
 public:
  executor();
  explicit executor(executor_options options);
  // Unwinds every fiber still suspended (its blocking call throws an internal exception that
  // only weft catches; do not swallow it with catch (...)), then frees all stacks (up to 64
  // guarded ones stay mapped as spares for the next executor of the process). Fibers still
  // waiting in weft::await() are waited for. Must not be called from one of its own fibers.
  ~executor();
  executor(const executor&) = delete;
  executor& operator=(const executor&) = delete;

  // Creates a fiber running f(args...), with f and args decay-copied onto the fiber's stack;
  // if f can take a std::stop_token first, f(token, args...) with the fiber's own token (as
  // std::jthread does; see join_handle::request_stop). f may also be a weft::task<T> (given by
  // value, without args): the task runs as the new fiber, and the handle is join_handle<T>.
  // Called from one of this executor's fibers, the new fiber starts at once and the caller
  // resumes as soon as it suspends or finishes (depth-first); otherwise it is queued, and it
  // starts when run() (or a join driving it) runs. Thread-safe. Throws std::system_error when
  // no stack can be mapped, std::length_error when f and args leave too little stack, and
  // std::logic_error while the executor is being destroyed.
  template <class F, class... Args>
  auto spawn(F&& f, Args&&... args) -> join_handle<detail::spawn_result_t<F, Args...>>;
  // As spawn(f, args...), with a name, pinning or a stack size of its own. Throws as spawn, and
  // std::invalid_argument or std::length_error for a stack size that cannot be mapped.
  template <class F, class... Args>
  auto spawn(spawn_options options, F&& f, Args&&... args)
      -> join_handle<detail::spawn_result_t<F, Args...>>;

  // Runs fibers on the calling thread (plus workers - 1 helper threads) until none is left.
  // Throws weft::deadlock_error when fibers remain that nothing can wake, and std::logic_error
  // if called from a fiber or while another thread runs this executor.
  void run();

  // Keeps run() waiting instead of reporting a deadlock while it lives: hold one while a
  // thread outside weft will later wake fibers (e.g. by sending on a channel). Movable.
  class work_guard {
   public:
    explicit work_guard(executor& ex);
    work_guard(work_guard&& other) noexcept = default;
    work_guard& operator=(work_guard&&) = delete;
    ~work_guard();
    void reset() noexcept;  // releases early

   private:
    detail::core_ref core_;
  };

  const executor_options& options() const noexcept;
  // Fibers spawned and not yet finished: exact while no fiber of this executor runs on another
  // thread (e.g. after run(), or from its only worker), a snapshot otherwise.
  std::size_t live_fibers() const noexcept;

 private:
  friend class scope;
  detail::core_ref core_;
};

// The result of a spawned fiber. Move-only; destroying an unjoined handle detaches the fiber.
// It is also a C++20 awaiter, so a stackless coroutine can `co_await` a fiber's result.
template <class T>
class join_handle {
 public:
  join_handle() noexcept = default;
  join_handle(join_handle&& other) noexcept : fiber_(std::exchange(other.fiber_, nullptr)) {}
  join_handle& operator=(join_handle&& other) noexcept {
    if (this != &other) {
      reset();
      fiber_ = std::exchange(other.fiber_, nullptr);
    }
    return *this;
  }
  ~join_handle() { reset(); }

  // Waits until the fiber ends and returns its result or rethrows its exception. In a fiber it
  // suspends only that fiber. Outside fibers it blocks the thread; if no thread is running the
  // executor, it runs it on the calling thread until then (and may throw deadlock_error).
  // Throws std::logic_error on an empty handle (joined already, detached or moved from).
  T join() {
    require("join");
    if (!done()) detail::wait_until_finished(*fiber_);
    return take_result();
  }

  // Waits at most `d` (or until `t`) for the fiber to end, as join() does: true if it ended
  // (join() then returns at once), false if the time passed first. From a plain thread with
  // nobody running the executor, it runs it meanwhile. Throws std::logic_error on an empty
  // handle.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> d) {
    return wait_until_deadline(detail::deadline_after(d));
  }
  template <class Clock, class Duration>
  bool wait_until(std::chrono::time_point<Clock, Duration> t) {
    return wait_until_deadline(detail::deadline_at(t));
  }

  // Asks the fiber to stop: its interruption points throw operation_cancelled from now on, and
  // if it is blocked in one, it is woken at once (see <weft/cancellation.hpp>). Its
  // std::stop_token's callbacks run here. True only for the call that made the request (false
  // on an empty handle, or once the stop was requested already, by anyone).
  bool request_stop() noexcept { return fiber_ && detail::handle_request_stop(*fiber_); }
  // The fiber's std::stop_token (as this_fiber::stop_token() returns inside it); an empty
  // token for an empty handle.
  std::stop_token get_stop_token() const {
    return fiber_ ? detail::handle_stop_token(*fiber_) : std::stop_token();
  }

  bool done() const noexcept { return fiber_ && fiber_->finished.load(std::memory_order_acquire); }
  bool joinable() const noexcept { return fiber_ != nullptr; }
  // The fiber's id (as this_fiber::id() returns inside it), or 0 for an empty handle.
  std::uint64_t id() const noexcept { return fiber_ ? fiber_->id : 0; }

  // Lets the fiber run on without a handle; an exception escaping it then terminates the
  // process after printing the fiber's id and name. Throws std::logic_error on an empty handle.
  void detach() {
    require("detach");
    detail::detach_handle(*std::exchange(fiber_, nullptr));
  }

  // C++20 awaiter: `co_await handle` (or std::move(handle)) suspends the coroutine until the
  // fiber ends; the coroutine is resumed on the thread that finishes the fiber. (In a
  // weft::task, `co_await handle` is a join() instead: the task continues as itself.)
  bool await_ready() const noexcept { return !fiber_ || done(); }
  bool await_suspend(std::coroutine_handle<> h) {
    require("co_await");
    return detail::await_finished(*fiber_, h);
  }
  T await_resume() {
    require("co_await");
    return take_result();
  }

 private:
  friend struct detail::handle_access;
  explicit join_handle(detail::fiber_head* f) noexcept : fiber_(f) {}

  bool wait_until_deadline(detail::deadline stop_at) {
    require("wait_for");
    return done() || detail::wait_until_finished(*fiber_, stop_at);
  }
  void require(const char* call) const {
    if (!fiber_) [[unlikely]] detail::throw_empty_handle(call);
  }
  T take_result() {
    auto* f = std::exchange(fiber_, nullptr);
    struct releaser {
      detail::fiber_head* f;
      ~releaser() { detail::release_finished(*f); }
    } release{f};
    if (f->error) std::rethrow_exception(f->error);
    return static_cast<detail::task_result<T>*>(f->task)->take();
  }
  void reset() noexcept {
    if (fiber_) detail::detach_handle(*std::exchange(fiber_, nullptr));
  }

  detail::fiber_head* fiber_ = nullptr;
};

namespace detail {
// The spawn_options path of spawn_on (out of line: the plain spawn stays short).
fiber_memory allocate_fiber(executor_core& core, std::size_t bytes, std::size_t align,
                            const spawn_options& options);
class scope_state;
// With spawn_options or in a scope (either may be null): out of line.
fiber_head* launch(executor_core& core, const fiber_memory& memory, const task_ops& ops,
                   const spawn_options* options, scope_state* scope);

// executor::spawn, weft::spawn and scope::spawn: build the task at the top of a pooled stack
// and launch it. `options` and `scope`: null for a plain spawn (each call site knows which, so
// the branches fold away).
template <class F, class... Args>
auto spawn_on(executor_core& core, const spawn_options* options, scope_state* scope, F&& f,
              Args&&... args)
    -> join_handle<detail::spawn_result_t<F, Args...>> {
  using result = spawn_result_t<F, Args...>;
  static_assert(!is_task<F> || sizeof...(Args) == 0, "weft: a task is spawned without arguments");
  static_assert(!is_task<result>,
                "weft: this callable returns a weft::task: spawn the task, spawn(f()), so that "
                "it runs (and f's captures outlive it only if they are its parameters)");
  if constexpr (is_task<F>) {
    if (!f.valid()) throw_empty_task("spawn");
  }
  auto bound = [fn = std::forward<F>(f), ... bound_args = std::forward<Args>(args)]() mutable
      -> result {
    if constexpr (is_task<F>)
      return run_task(std::move(fn));
    else if constexpr (takes_stop_token<F, Args...>)
      return std::invoke(std::move(fn), current_stop_token(), std::move(bound_args)...);
    else
      return std::invoke(std::move(fn), std::move(bound_args)...);
  };
  using task_type = task<decltype(bound), result>;
  const fiber_memory memory =
      options ? allocate_fiber(core, sizeof(task_type), alignof(task_type), *options)
              : allocate_fiber(core, sizeof(task_type), alignof(task_type));
  try {
    ::new (memory.task) task_type(std::move(bound));
  } catch (...) {
    free_fiber_memory(core, memory);
    throw;
  }
  const task_ops& ops = is_task<F> ? task_type::coroutine_ops : task_type::ops;
  return handle_access::make<result>(options || scope ? launch(core, memory, ops, options, scope)
                                                      : launch(core, memory, ops));
}
}  // namespace detail

template <class F, class... Args>
auto executor::spawn(F&& f, Args&&... args) -> join_handle<detail::spawn_result_t<F, Args...>> {
  return detail::spawn_on(*core_, nullptr, nullptr, std::forward<F>(f), std::forward<Args>(args)...);
}

template <class F, class... Args>
auto executor::spawn(spawn_options options, F&& f, Args&&... args)
    -> join_handle<detail::spawn_result_t<F, Args...>> {
  return detail::spawn_on(*core_, &options, nullptr, std::forward<F>(f), std::forward<Args>(args)...);
}

namespace detail {
executor_core& spawning_core();  // the calling fiber's executor; std::logic_error outside one
}  // namespace detail

// In a fiber: spawns on the executor running it (see executor::spawn). Outside fibers it
// throws std::logic_error.
template <class F, class... Args>
  requires(std::is_invocable_v<F, Args...> || detail::takes_stop_token<F, Args...> ||
           detail::is_task<F>)
auto spawn(F&& f, Args&&... args) {
  return detail::spawn_on(detail::spawning_core(), nullptr, nullptr, std::forward<F>(f),
                          std::forward<Args>(args)...);
}

// As spawn(f, args...), with spawn_options (see executor::spawn).
template <class F, class... Args>
auto spawn(spawn_options options, F&& f, Args&&... args) {
  return detail::spawn_on(detail::spawning_core(), &options, nullptr, std::forward<F>(f),
                          std::forward<Args>(args)...);
}

// Creates an executor with `options`, runs f() as its first fiber until every fiber ends, and
// returns f's result. f's fiber is the root of the program: if it throws, the fibers left are
// unwound (as ~executor does) and its exception is rethrown at once. Throws deadlock_error as
// executor::run does.
template <class F>
auto run(F&& f, executor_options options = {}) {
  executor ex(options);
  auto handle = ex.spawn(std::forward<F>(f));
  handle.wait_until(std::chrono::steady_clock::time_point::max());  // drives ex until f ends
  if constexpr (std::is_void_v<std::invoke_result_t<F>>) {
    handle.join();  // f's exception leaves here, and ~executor unwinds the rest
    ex.run();
  } else {
    auto result = handle.join();
    ex.run();
    return result;
  }
}

}  // namespace weft
