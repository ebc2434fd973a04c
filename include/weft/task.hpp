// weft/task.hpp: C++20 tasks, stackless coroutines that run on the executor beside fibers.
#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <weft/await.hpp>
#include <weft/detail/call_awaiter.hpp>
#include <weft/executor.hpp>
#include <weft/this_fiber.hpp>

namespace weft {

namespace detail {

// Task frames come from a small per-thread cache of freed frames (bounded; larger frames and
// the overflow go to ::operator new/delete). Throws std::bad_alloc as operator new does.
void* allocate_task_frame(std::size_t bytes);
void free_task_frame(void* frame, std::size_t bytes) noexcept;

// Where the chain of tasks that one fiber runs hands control on: a task that awaits another
// names it here and suspends; a task that ends names the one awaiting it (or nobody). The
// loop in drive_tasks resumes whatever is named, so a chain of a million co_awaits that
// complete at once needs no stack and no tail calls.
struct task_driver {
  std::coroutine_handle<> next;
};
// Resumes `first`, then whatever each resumption names next, until nothing is named.
void drive_tasks(task_driver& driver, std::coroutine_handle<> first);

template <class T>
struct task_promise;

struct task_promise_base {
  std::coroutine_handle<> continuation;  // the task awaiting this one (null: the driver's root)
  task_driver* driver = nullptr;
  std::exception_ptr error;

  static void* operator new(std::size_t bytes) { return allocate_task_frame(bytes); }
  static void operator delete(void* frame, std::size_t bytes) noexcept {
    free_task_frame(frame, bytes);
  }

  std::suspend_always initial_suspend() noexcept { return {}; }  // lazy: starts when awaited
  struct final_awaiter {
    static bool await_ready() noexcept { return false; }
    template <class P>
    void await_suspend(std::coroutine_handle<P> self) noexcept {
      self.promise().driver->next = self.promise().continuation;  // back to the awaiter
    }
    static void await_resume() noexcept {}
  };
  final_awaiter final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { error = std::current_exception(); }

  // co_await in a task: another task runs next on the same driver (no scheduler round trip);
  // a call_awaiter makes its call; anything else (a join_handle, a foreign awaitable) is
  // awaited as weft::await does, suspending the task's fiber until it resumes.
  template <class A>
  decltype(auto) await_transform(A&& a);
};

// Storage for the value a task returns.
template <class T>
struct task_promise final : task_promise_base {
  using stored = std::conditional_t<std::is_reference_v<T>, std::remove_reference_t<T>*, T>;
  std::optional<stored> value;

  weft::task<T> get_return_object() noexcept;
  // A reference result must refer to an lvalue: a temporary would be gone by the time the
  // awaiter reads it.
  template <class U = T>
    requires std::is_convertible_v<U&&, T> &&
             (!std::is_reference_v<T> || std::is_lvalue_reference_v<U&&>)
  void return_value(U&& v) {
    if constexpr (std::is_reference_v<T>)
      value.emplace(std::addressof(static_cast<T>(std::forward<U>(v))));
    else
      value.emplace(std::forward<U>(v));
  }
  T take() {
    if (error) std::rethrow_exception(error);
    if constexpr (std::is_reference_v<T>)
      return static_cast<T>(**value);
    else
      return std::move(*value);
  }
};

template <>
struct task_promise<void> final : task_promise_base {
  weft::task<void> get_return_object() noexcept;
  void return_void() noexcept {}
  void take() {
    if (error) std::rethrow_exception(error);
  }
};

// What `co_await some_task` becomes in a task: the awaited task's frame, owned until the
// co_await expression ends.
template <class U>
struct task_awaiter {
  std::coroutine_handle<task_promise<U>> child;

  explicit task_awaiter(std::coroutine_handle<task_promise<U>> h) noexcept : child(h) {}
  task_awaiter(task_awaiter&& other) noexcept : child(std::exchange(other.child, nullptr)) {}
  ~task_awaiter() {
    if (child) child.destroy();
  }
  bool await_ready() const noexcept { return !child; }  // empty: await_resume throws
  template <class P>
  void await_suspend(std::coroutine_handle<P> parent) noexcept {
    task_promise<U>& c = child.promise();
    c.continuation = parent;
    c.driver = parent.promise().driver;
    c.driver->next = child;  // the driver starts it as soon as the parent has suspended
  }
  U await_resume() {
    if (!child) throw_empty_task("co_await");
    return child.promise().take();
  }
};

}  // namespace detail

// A lazily started C++20 coroutine with result T: `co_return` gives the result, and an
// exception that escapes it is rethrown to whoever awaits or joins it. Move-only; destroying a
// task that never ran frees its frame without running it.
//
// Run a task by spawning it (executor::spawn, weft::spawn, scope::spawn: it runs on a fiber of
// its own and the join_handle<T> has every feature a fiber's has), by `co_await` from another
// task (it runs at once on the awaiter's fiber, with no scheduler round trip and no stack
// growth), or by weft::await(std::move(t)) from a fiber or thread. Each way consumes it.
//
// Inside a task, `co_await` accepts another task, the awaitable twins of weft's blocking calls
// (ch.async_recv(), m.async_lock(), weft::async_sleep_for(d), ...), a join_handle, and any
// C++20 awaitable (as weft::await). Each suspends only the task's own fiber; its worker keeps
// running other fibers and tasks, and the task continues on a worker of its executor, perhaps
// another one (so do not keep thread_local references across a co_await). this_fiber::id(),
// stop_token() and name() are those of the spawned task the chain belongs to.
template <class T = void>
class [[nodiscard]] task {
 public:
  using promise_type = detail::task_promise<T>;

  task() noexcept = default;
  task(task&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  task& operator=(task&& other) noexcept {
    if (this != &other) {
      if (handle_) handle_.destroy();
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  ~task() {
    if (handle_) handle_.destroy();
  }

  // Whether it still holds a coroutine (false once run, awaited or moved from).
  bool valid() const noexcept { return static_cast<bool>(handle_); }

 private:
  friend promise_type;
  friend struct detail::task_promise_base;
  template <class U>
  friend U detail::run_task(task<U>&& t);
  explicit task(std::coroutine_handle<promise_type> h) noexcept : handle_(h) {}
  std::coroutine_handle<promise_type> release() noexcept { return std::exchange(handle_, nullptr); }

  std::coroutine_handle<promise_type> handle_;
};

namespace detail {

template <class T>
weft::task<T> task_promise<T>::get_return_object() noexcept {
  return weft::task<T>(std::coroutine_handle<task_promise>::from_promise(*this));
}
inline weft::task<void> task_promise<void>::get_return_object() noexcept {
  return weft::task<void>(std::coroutine_handle<task_promise>::from_promise(*this));
}

template <class A>
inline constexpr bool is_join_handle = false;
template <class T>
inline constexpr bool is_join_handle<join_handle<T>> = true;

template <class A>
decltype(auto) task_promise_base::await_transform(A&& a) {
  using plain = std::remove_cvref_t<A>;
  if constexpr (is_task<plain>) {
    return task_awaiter<typename task_value<plain>::type>(a.release());
  } else if constexpr (is_call_awaiter<plain>) {
    return std::forward<A>(a);
  } else if constexpr (is_join_handle<plain>) {
    return call_awaiter{[&a]() -> decltype(auto) { return a.join(); }};  // a join wait
  } else {
    return call_awaiter{[&a]() -> decltype(auto) { return weft::await(std::forward<A>(a)); }};
  }
}

// executor::spawn's and weft::await's way to run a task: on the calling fiber (or thread), to
// its end.
template <class T>
T run_task(weft::task<T>&& t) {
  std::coroutine_handle<task_promise<T>> h = t.release();
  if (!h) throw_empty_task("run");
  struct frame_owner {
    std::coroutine_handle<task_promise<T>> h;
    ~frame_owner() { h.destroy(); }
  } owner{h};
  task_driver driver;
  h.promise().driver = &driver;
  drive_tasks(driver, h);
  return h.promise().take();
}

}  // namespace detail

// Runs `t` to its end on the calling fiber (suspending only the fiber while it waits) or, on a
// plain thread, on that thread (blocking it); returns its result or rethrows its exception.
// Throws std::logic_error for an empty task.
template <class T>
T await(task<T>&& t) {
  return detail::run_task(std::move(t));
}

// The awaitable twins of this_fiber::sleep_for and this_fiber::yield, for tasks.
template <class Rep, class Period>
auto async_sleep_for(std::chrono::duration<Rep, Period> d) {
  return detail::call_awaiter{[d] { this_fiber::sleep_for(d); }};
}
template <class Clock, class Duration>
auto async_sleep_until(std::chrono::time_point<Clock, Duration> t) {
  return detail::call_awaiter{[t] { this_fiber::sleep_until(t); }};
}
inline auto async_yield() {
  return detail::call_awaiter{[] { this_fiber::yield(); }};
}

}  // namespace weft
