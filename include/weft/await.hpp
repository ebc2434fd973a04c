// weft/await.hpp: the bridge from fibers to C++20 awaitables.
#pragma once

#include <coroutine>
#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

#include <weft/detail/thread_annotations.hpp>
#include <weft/detail/waiter.hpp>

namespace weft::detail {

// The rendezvous between a fiber (or thread) in await() and whoever resumes the handle it
// gave away, possibly on another thread.
struct await_rendezvous {
  spinlock lock;
  waiter_queue blocked WEFT_GUARDED_BY(lock);  // the caller, once it blocks
  bool resumed WEFT_GUARDED_BY(lock) = false;
};

// Called by the resumer coroutine when its handle is resumed.
void await_resumed(await_rendezvous& r) noexcept;
// Suspends the caller until await_resumed (returns at once if it already happened).
void await_block(await_rendezvous& r);
// Bookkeeping for deadlock detection: an await is outstanding on the calling fiber's executor.
void await_begin() noexcept;
void await_end() noexcept;

// Frame memory for the resumer coroutine, on the awaiting fiber's stack: no heap allocation.
struct alignas(std::max_align_t) resumer_buffer {
  unsigned char bytes[256];
};

// A coroutine that does nothing but tell an await_rendezvous, at its final suspend point, that
// it was resumed. Its frame lives in a resumer_buffer.
struct resumer {
  struct promise_type {
    await_rendezvous* rendezvous = nullptr;
    static void* operator new(std::size_t size, resumer_buffer& buffer, await_rendezvous&) noexcept {
      return size <= sizeof(buffer.bytes) ? buffer.bytes : nullptr;
    }
    static void operator delete(void*, std::size_t) noexcept {}
    static resumer get_return_object_on_allocation_failure() noexcept { return resumer{}; }
    promise_type(resumer_buffer&, await_rendezvous& r) noexcept : rendezvous(&r) {}
    resumer get_return_object() noexcept {
      return resumer{std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    struct notify {
      bool await_ready() noexcept { return false; }
      void await_suspend(std::coroutine_handle<promise_type> h) noexcept {
        // The frame is suspended now; after this call the awaiting fiber may destroy it.
        await_resumed(*h.promise().rendezvous);
      }
      void await_resume() noexcept {}
    };
    notify final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept {}
  };
  std::coroutine_handle<promise_type> handle;
};

// (clang 14 with -fsanitize=function cannot assemble a coroutine in a comdat: its split parts
// refer to the function's type from other sections. The check is for calls through function
// pointers of the wrong type, which this coroutine is never called through.)
#if defined(__clang__)
__attribute__((no_sanitize("function")))
#endif
inline resumer make_resumer(resumer_buffer&, await_rendezvous&) { co_return; }

template <class A>
decltype(auto) get_awaiter(A&& a) {
  if constexpr (requires { std::forward<A>(a).operator co_await(); })
    return std::forward<A>(a).operator co_await();
  else if constexpr (requires { operator co_await(std::forward<A>(a)); })
    return operator co_await(std::forward<A>(a));
  else
    return std::forward<A>(a);
}

}  // namespace weft::detail

namespace weft {

// Waits for any C++20 awaitable or awaiter (await_ready / await_suspend(std::coroutine_handle<>)
// returning void, bool or a handle / await_resume, or one with operator co_await) and returns
// await_resume()'s result. In a fiber only that fiber suspends; its worker keeps running
// others. The handle given to await_suspend may be resumed from any thread, once. From a plain
// thread it blocks the thread. Exceptions from await_suspend or await_resume propagate.
template <class Awaitable>
decltype(auto) await(Awaitable&& a) {
  decltype(auto) awaiter_or_ref = detail::get_awaiter(std::forward<Awaitable>(a));
  auto& awaiter = awaiter_or_ref;
  if (!awaiter.await_ready()) {
    detail::resumer_buffer buffer;
    detail::await_rendezvous rendezvous;
    auto coro = detail::make_resumer(buffer, rendezvous).handle;
    if (!coro) throw std::bad_alloc();  // the resumer frame did not fit its buffer
    struct frame_guard {
      std::coroutine_handle<> h;
      ~frame_guard() { h.destroy(); }
    } guard{coro};
    struct pending {
      pending() noexcept { detail::await_begin(); }
      ~pending() { detail::await_end(); }
    } outstanding;
    using suspend_result = decltype(awaiter.await_suspend(std::coroutine_handle<>(coro)));
    bool suspend = true;
    if constexpr (std::is_void_v<suspend_result>) {
      awaiter.await_suspend(std::coroutine_handle<>(coro));
    } else if constexpr (std::is_same_v<suspend_result, bool>) {
      suspend = awaiter.await_suspend(std::coroutine_handle<>(coro));
    } else {
      std::coroutine_handle<> next = awaiter.await_suspend(std::coroutine_handle<>(coro));
      if (next == coro) suspend = false;  // symmetric transfer straight back to us
      else next.resume();
    }
    if (suspend) detail::await_block(rendezvous);
  }
  return awaiter.await_resume();
}

}  // namespace weft
