// weft/this_fiber.hpp: what the running fiber can do to itself.
#pragma once

#include <chrono>
#include <cstdint>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>

#include <weft/detail/deadline.hpp>

namespace weft::detail {
// Suspends the calling fiber until `deadline` (never earlier); time_point::min(), a deadline
// already passed, is a yield. Throws std::logic_error naming `call` outside a fiber.
void sleep_until(std::chrono::steady_clock::time_point deadline, const char* call);

}  // namespace weft::detail

namespace weft::this_fiber {

// Lets every other fiber that is ready now run before the caller continues; the caller goes
// behind them. Returns at once if none is ready. Throws std::logic_error outside a fiber.
void yield();

// Suspends the calling fiber for at least `d` (other fibers keep running); sleepers wake in
// deadline order. Throws std::logic_error outside a fiber.
template <class Rep, class Period>
void sleep_for(std::chrono::duration<Rep, Period> d) {
  detail::sleep_until(detail::deadline_after(d), "weft::this_fiber::sleep_for");
}

// Suspends the calling fiber until `t` on Clock (at least), converting to the steady clock
// once. Throws std::logic_error outside a fiber.
template <class Clock, class Dur>
void sleep_until(std::chrono::time_point<Clock, Dur> t) {
  detail::sleep_until(detail::deadline_at(t), "weft::this_fiber::sleep_until");
}

// The running fiber's std::stop_token: stop is requested on it when the fiber's stop is
// (join_handle::request_stop, its scope's). An empty token outside fibers.
std::stop_token stop_token();
// Whether a stop was requested for the running fiber (false outside fibers).
bool stop_requested() noexcept;

// The running fiber's id: unique in the process, never 0. Returns 0 outside fibers.
std::uint64_t id() noexcept;

// The thread running the caller at this moment (outside fibers: the calling thread). Use it
// instead of std::this_thread::get_id() in a fiber: that is pthread_self(), which glibc
// declares `const`, so the compiler may read it once and reuse the value after a yield or a
// blocking call, when the fiber may run on another thread. This one is read on every call.
std::thread::id thread_now() noexcept;

// Names the running fiber for traces and diagnostics. Throws std::logic_error outside a fiber.
void set_name(std::string_view name);

// The running fiber's name ("" if unnamed or outside fibers).
std::string name();

// Keeps the calling fiber on the worker thread it runs on now: other workers never steal it,
// and wakeups from elsewhere send it back there. For code that keeps thread-local state (or
// thread-affine handles) across blocking calls. Throws std::logic_error outside a fiber.
void pin();
// Lets the calling fiber migrate again. Throws std::logic_error outside a fiber.
void unpin();
// Whether the calling fiber is pinned (false outside fibers).
bool pinned() noexcept;

// Pins the calling fiber for the lifetime of the guard (like Photon's
// SCOPED_PAUSE_WORK_STEALING, for one fiber), restoring the previous state afterwards.
class scoped_pin {
 public:
  scoped_pin() : was_pinned_(pinned()) { pin(); }
  ~scoped_pin() {
    if (!was_pinned_) unpin();
  }
  scoped_pin(const scoped_pin&) = delete;
  scoped_pin& operator=(const scoped_pin&) = delete;

 private:
  bool was_pinned_;
};

}  // namespace weft::this_fiber
