// weft/future.hpp: promise/future, shared_future, packaged_task and async for fibers (std's).
#pragma once

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <new>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include <weft/detail/deadline.hpp>
#include <weft/detail/thread_annotations.hpp>
#include <weft/detail/waiter.hpp>
#include <weft/executor.hpp>

namespace weft {
namespace detail {

[[noreturn]] void throw_future_error(std::future_errc code);

// The shared state of a promise and its futures: ready once a value or an exception is stored,
// and freed by the last of them to let go.
class future_state_base {
 public:
  future_state_base() = default;
  future_state_base(const future_state_base&) = delete;
  future_state_base& operator=(const future_state_base&) = delete;

  void retain() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  bool ready() const noexcept { return ready_.load(std::memory_order_acquire); }
  void wait() const { (void)wait_until(deadline::max()); }
  bool wait_until(deadline deadline) const;  // true: ready
  // After a wait: rethrows the stored exception, if that is what is stored.
  void rethrow_if_exception() const {
    if (error_) std::rethrow_exception(error_);
  }

  void mark_retrieved();  // future_already_retrieved the second time
  // Storing: claim() (promise_already_satisfied if something is or is being stored), then
  // store the value and publish(), or unclaim() if storing it threw.
  void claim();
  void unclaim() noexcept;
  void publish() noexcept;
  void store_exception(std::exception_ptr e);  // claim and store: ready once published
  void set_exception(std::exception_ptr e) {
    store_exception(std::move(e));
    publish();
  }
  // publish() when the calling fiber ends (outside fibers: when the calling thread exits).
  // Call reserve_publication() before storing, so that this cannot fail after it.
  static void reserve_publication();
  void publish_at_exit() noexcept;
  void abandon() noexcept;                   // the promise is gone: broken_promise if unset
  bool claimed() const noexcept;

 protected:
  virtual ~future_state_base() = default;

 private:
  mutable spinlock lock_;
  bool claimed_ WEFT_GUARDED_BY(lock_) = false;
  std::atomic<bool> ready_{false};
  std::exception_ptr error_;  // written before ready_ is set
  mutable waiter_queue waiters_ WEFT_GUARDED_BY(lock_);
  std::atomic<std::size_t> refs_{1};
  std::atomic<bool> retrieved_{false};
};

template <class T>
class future_state final : public future_state_base {
 public:
  template <class... A>
  void store_value(A&&... a) {
    claim();
    try {
      ::new (static_cast<void*>(&storage_)) T(std::forward<A>(a)...);
    } catch (...) {
      unclaim();
      throw;
    }
    has_value_ = true;
  }
  template <class... A>
  void set_value(A&&... a) {
    store_value(std::forward<A>(a)...);
    publish();
  }
  T& value() noexcept { return *std::launder(reinterpret_cast<T*>(&storage_)); }

 private:
  ~future_state() override {
    if (has_value_) value().~T();
  }
  alignas(T) unsigned char storage_[sizeof(T)];
  bool has_value_ = false;
};

template <class T>
class future_state<T&> final : public future_state_base {
 public:
  void store_value(T& v) {
    claim();
    value_ = std::addressof(v);
  }
  void set_value(T& v) {
    store_value(v);
    publish();
  }
  T& value() noexcept { return *value_; }

 private:
  ~future_state() override = default;
  T* value_ = nullptr;
};

template <>
class future_state<void> final : public future_state_base {
 public:
  void store_value() { claim(); }
  void set_value() {
    store_value();
    publish();
  }
  void value() noexcept {}

 private:
  ~future_state() override = default;
};

// A counted reference to a shared state.
template <class T>
class state_ref {
 public:
  state_ref() noexcept = default;
  explicit state_ref(future_state<T>* s) noexcept : s_(s) {}
  state_ref(const state_ref& o) noexcept : s_(o.s_) {
    if (s_) s_->retain();
  }
  state_ref(state_ref&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  state_ref& operator=(state_ref o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~state_ref() {
    if (s_) s_->release();
  }
  future_state<T>* get() const noexcept { return s_; }
  future_state<T>& checked() const {
    if (!s_) throw_future_error(std::future_errc::no_state);
    return *s_;
  }

 private:
  future_state<T>* s_ = nullptr;
};

// What future and shared_future share: a reference to the state, and waiting on it.
template <class T>
class future_waits {
 public:
  bool valid() const noexcept { return state_.get() != nullptr; }
  void wait() const { state_.checked().wait(); }
  template <class Rep, class Period>
  std::future_status wait_for(std::chrono::duration<Rep, Period> d) const {
    future_state<T>& s = state_.checked();
    return s.ready() || s.wait_until(deadline_after(d)) ? std::future_status::ready
                                                         : std::future_status::timeout;
  }
  template <class Clock, class Duration>
  std::future_status wait_until(std::chrono::time_point<Clock, Duration> t) const {
    future_state<T>& s = state_.checked();
    return s.ready() || s.wait_until(deadline_at(t)) ? std::future_status::ready
                                                      : std::future_status::timeout;
  }

 protected:
  future_waits() noexcept = default;
  explicit future_waits(state_ref<T> s) noexcept : state_(std::move(s)) {}
  state_ref<T> state_;
};

}  // namespace detail

template <class T>
class shared_future;
template <class T>
class promise;

// As std::future: the one-time result of a promise (or packaged_task, or async). get() and
// the waits suspend only the calling fiber (a plain thread blocks) and are interruption
// points. Errors are std::future_error with std's codes: no_state on an invalid future.
template <class T>
class future : public detail::future_waits<T> {
 public:
  future() noexcept = default;
  future(future&&) noexcept = default;
  future& operator=(future&&) noexcept = default;
  future(const future&) = delete;
  future& operator=(const future&) = delete;

  // Waits, then returns the value (or rethrows the stored exception); the future becomes
  // invalid.
  T get() {
    detail::state_ref<T> s = std::move(this->state_);
    detail::future_state<T>& state = s.checked();
    state.wait();
    state.rethrow_if_exception();
    if constexpr (std::is_void_v<T>) return;
    else if constexpr (std::is_reference_v<T>) return state.value();
    else return std::move(state.value());
  }
  shared_future<T> share() noexcept { return shared_future<T>(std::move(*this)); }

 private:
  friend class promise<T>;
  friend class shared_future<T>;
  explicit future(detail::state_ref<T> s) noexcept : detail::future_waits<T>(std::move(s)) {}
};

// As std::shared_future: copyable; every copy may get() the same result.
template <class T>
class shared_future : public detail::future_waits<T> {
 public:
  shared_future() noexcept = default;
  shared_future(future<T>&& f) noexcept  // NOLINT: implicit, as std's
      : detail::future_waits<T>(std::move(f.state_)) {}

  // Waits, then returns the value (a const reference; T& for a reference; nothing for void)
  // or rethrows the stored exception. The shared_future stays valid.
  decltype(auto) get() const {
    detail::future_state<T>& state = this->state_.checked();
    state.wait();
    state.rethrow_if_exception();
    if constexpr (std::is_void_v<T>) return;
    else if constexpr (std::is_reference_v<T>) return state.value();
    else return static_cast<const T&>(state.value());
  }
};

// As std::promise: stores one value or exception for its future. set_value and
// set_exception may be called from any fiber or thread, including threads weft does not know.
// A promise destroyed (or assigned over) before storing anything stores
// std::future_error(broken_promise). Errors: promise_already_satisfied,
// future_already_retrieved, and no_state for a moved-from promise.
template <class T>
class promise {
 public:
  promise() : state_(new detail::future_state<T>) {}
  promise(promise&& other) noexcept = default;
  promise& operator=(promise&& other) noexcept {
    promise(std::move(other)).swap(*this);
    return *this;
  }
  promise(const promise&) = delete;
  promise& operator=(const promise&) = delete;
  ~promise() {
    if (state_.get()) state_.get()->abandon();
  }
  void swap(promise& other) noexcept { std::swap(state_, other.state_); }

  future<T> get_future() {
    state_.checked().mark_retrieved();
    return future<T>(state_);
  }
  template <class... A>
  void set_value(A&&... a) {
    state_.checked().set_value(std::forward<A>(a)...);
  }
  void set_exception(std::exception_ptr e) { state_.checked().set_exception(std::move(e)); }
  // As set_value / set_exception, but the future becomes ready only when the calling fiber
  // ends (outside fibers: when the calling thread exits), as its fiber_local values are
  // destroyed.
  template <class... A>
  void set_value_at_thread_exit(A&&... a) {
    detail::future_state<T>& s = state_.checked();
    detail::future_state_base::reserve_publication();
    s.store_value(std::forward<A>(a)...);
    s.publish_at_exit();
  }
  void set_exception_at_thread_exit(std::exception_ptr e) {
    detail::future_state<T>& s = state_.checked();
    detail::future_state_base::reserve_publication();
    s.store_exception(std::move(e));
    s.publish_at_exit();
  }

 private:
  template <class Signature>
  friend class packaged_task;
  bool satisfied() const { return state_.checked().claimed(); }

  detail::state_ref<T> state_;
};

template <class Signature>
class packaged_task;

// As std::packaged_task: a callable whose result (or exception) goes to a future. Calling it
// twice throws future_error(promise_already_satisfied); an invalid one, no_state.
template <class R, class... Args>
class packaged_task<R(Args...)> {
 public:
  packaged_task() noexcept = default;
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, packaged_task>>>
  explicit packaged_task(F&& f) : fn_(std::make_unique<holder<std::decay_t<F>>>(std::forward<F>(f))),
                                  promise_(std::in_place) {}
  packaged_task(packaged_task&&) noexcept = default;
  packaged_task& operator=(packaged_task&&) noexcept = default;
  packaged_task(const packaged_task&) = delete;
  packaged_task& operator=(const packaged_task&) = delete;

  bool valid() const noexcept { return fn_ != nullptr; }
  void swap(packaged_task& other) noexcept {
    std::swap(fn_, other.fn_);
    std::swap(promise_, other.promise_);
  }
  future<R> get_future() {
    if (!valid()) detail::throw_future_error(std::future_errc::no_state);
    return promise_->get_future();
  }
  void operator()(Args... args) { run(false, std::forward<Args>(args)...); }
  // As operator(), but the future becomes ready only when the calling fiber (or thread) ends.
  void make_ready_at_thread_exit(Args... args) { run(true, std::forward<Args>(args)...); }
  // A fresh shared state for the same callable (the old one's future sees broken_promise if
  // it was never set).
  void reset() {
    if (!valid()) detail::throw_future_error(std::future_errc::no_state);
    promise_.emplace();
  }

 private:
  struct callable {
    virtual ~callable() = default;
    virtual R call(Args&&... args) = 0;
  };
  template <class F>
  struct holder final : callable {
    explicit holder(F&& f) : fn(std::move(f)) {}
    explicit holder(const F& f) : fn(f) {}
    R call(Args&&... args) override { return std::invoke(fn, std::forward<Args>(args)...); }
    F fn;
  };
  void run(bool at_exit, Args&&... args) {
    if (!valid()) detail::throw_future_error(std::future_errc::no_state);
    if (promise_->satisfied()) detail::throw_future_error(std::future_errc::promise_already_satisfied);
    try {
      if constexpr (std::is_void_v<R>) {
        fn_->call(std::forward<Args>(args)...);
        at_exit ? promise_->set_value_at_thread_exit() : promise_->set_value();
      } else if (at_exit) {
        promise_->set_value_at_thread_exit(fn_->call(std::forward<Args>(args)...));
      } else {
        promise_->set_value(fn_->call(std::forward<Args>(args)...));
      }
    } catch (...) {
      if (at_exit) promise_->set_exception_at_thread_exit(std::current_exception());
      else promise_->set_exception(std::current_exception());
    }
  }

  std::unique_ptr<callable> fn_;
  std::optional<promise<R>> promise_;  // engaged while valid(): a default task allocates nothing
};

// Spawns f(args...) on the calling fiber's executor (as weft::spawn: a decayed copy of f and
// the arguments) and returns the future of its result or exception. Outside a fiber it throws
// std::logic_error, as spawn does. A fiber's join_handle is the way to join a fiber; use
// async when the result is handed to code that expects a future, or is shared.
template <class F, class... Args>
auto async(F&& f, Args&&... args) -> future<std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>> {
  using R = std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>;
  promise<R> p;
  future<R> result = p.get_future();
  weft::spawn([p = std::move(p), fn = std::forward<F>(f),
               tuple = std::make_tuple(std::forward<Args>(args)...)]() mutable {
    try {
      if constexpr (std::is_void_v<R>) {
        std::apply(std::move(fn), std::move(tuple));
        p.set_value();
      } else {
        p.set_value(std::apply(std::move(fn), std::move(tuple)));
      }
    } catch (...) {
      p.set_exception(std::current_exception());
    }
  }).detach();
  return result;
}

}  // namespace weft
