// weft/detail/call_awaiter.hpp: the awaitable twin of a blocking weft call (ch.async_recv(),
// m.async_lock(), ...). Internal: the public headers return it; see <weft/task.hpp>.
#pragma once

#include <coroutine>
#include <type_traits>

namespace weft::detail {

// `co_await` makes the call and yields its result. A weft::task runs on a fiber of its own, so
// the call suspends only that task (and whatever task awaits it); the waiter it queues is the
// same one a fiber's call queues, so tasks, fibers and threads share each primitive's FIFO.
// Awaited in another library's coroutine, it blocks like the plain call.
template <class Call>
struct [[nodiscard]] call_awaiter {
  Call call;
  static constexpr bool await_ready() noexcept { return true; }  // never suspends by itself
  static void await_suspend(std::coroutine_handle<>) noexcept {}
  decltype(auto) await_resume() { return call(); }
};
template <class Call>
call_awaiter(Call) -> call_awaiter<Call>;

template <class A>
inline constexpr bool is_call_awaiter = false;
template <class Call>
inline constexpr bool is_call_awaiter<call_awaiter<Call>> = true;

}  // namespace weft::detail
