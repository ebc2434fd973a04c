// weft/scope.hpp: structured concurrency. A scope owns the fibers spawned in it; it is left
// only once they have all ended.
#pragma once

#include <memory>
#include <stop_token>
#include <utility>

#include <weft/executor.hpp>

namespace weft {

namespace detail {
class scope_state;
}  // namespace detail

// Fibers spawned in a scope are its children: it owns each of them, also one whose handle is
// dropped. The first child that fails (ends with an exception other than an
// operation_cancelled caused by the scope's own stop) requests stop on the others, and join()
// rethrows its exception. A stop of the fiber that made the scope (its join_handle's
// request_stop, or the stop of a scope it is a child of) reaches the scope's children, and so
// on down nested scopes. Not copyable, not movable. Thread-safe, except that one thread or fiber
// at a time may join or destroy it.
class scope {
 public:
  // Spawns on the executor of the calling fiber; made outside fibers, spawn() throws
  // std::logic_error. Made in a fiber, the scope is stopped when that fiber is.
  scope();
  // Spawns on `ex` (which must outlive the scope): also from a plain thread.
  explicit scope(executor& ex);
  // Joins every child. If children are left that join() has not waited for, it requests stop
  // on them first (it blocks, as join does, in a fiber or a thread). A child exception that
  // join() never rethrew is printed (its type and what()), then std::terminate is called, as
  // for a std::thread never joined.
  ~scope();
  scope(const scope&) = delete;
  scope& operator=(const scope&) = delete;

  // As executor::spawn (a std::stop_token first parameter included), as a child of this
  // scope. The handle may be kept (join() on it then yields the child's value or exception,
  // also after the scope's join) or dropped. In a scope that was stopped already, the child
  // starts with its stop requested. Throws as executor::spawn, and std::logic_error for a
  // scope made outside fibers without an executor.
  template <class F, class... Args>
  auto spawn(F&& f, Args&&... args) -> join_handle<detail::spawn_result_t<F, Args...>> {
    return detail::spawn_on(core(), nullptr, state_.get(), std::forward<F>(f),
                            std::forward<Args>(args)...);
  }
  template <class F, class... Args>
  auto spawn(spawn_options options, F&& f, Args&&... args)
      -> join_handle<detail::spawn_result_t<F, Args...>> {
    return detail::spawn_on(core(), &options, state_.get(), std::forward<F>(f),
                            std::forward<Args>(args)...);
  }

  // Waits until every child has ended, then rethrows the first failure (once). In a fiber it
  // suspends only that fiber; on a plain thread it blocks the thread, and runs the executor
  // meanwhile if no thread does. An interruption point: if the calling fiber is stopped
  // meanwhile, the scope stops its children, waits for them all, then throws
  // operation_cancelled (or the first failure, if a child failed). Throws deadlock_error as
  // join_handle::join does.
  void join();
  // Requests stop on every child alive now, and on the children spawned later.
  void request_stop() noexcept;
  // Stop is requested on it when the scope's stop is.
  std::stop_token get_stop_token() const;

 private:
  detail::executor_core& core() const;

  std::unique_ptr<detail::scope_state> state_;
};

}  // namespace weft
