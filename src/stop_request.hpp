// Stop requests to fibers (join_handle::request_stop, scope::request_stop): cooperative
// cancellation. A request sets the fiber's flag once and requests stop on its std::stop_source,
// if one was made. The fiber's interruption points (waits other than mutex locks, await and
// waits in destructors run by an exception) then throw operation_cancelled instead of blocking;
// one blocked in an interruption point is woken at once, by claiming its wait token.
//
// The handshake with a fiber about to wait: the fiber's worker opens its token (after the
// switch), then reads the flag; the requester sets the flag, then claims the token. Each side
// has a barrier between its store and its load (an asymmetric pair: the requester pays), so at
// least one of them sees the other, and the token's CAS lets only one of them wake the fiber.
//
// A requester may wake the fiber before its worker has armed its timer and released the lock
// it waits under (a primitive's, or for a sleep the fiber's own): so a fiber a stop woke takes
// that lock before it touches its timer or leaves, and the worker looks at the flag before it
// arms and releases, while the fiber cannot have left.
#pragma once

#include <exception>
#include <span>

#include "asymmetric_barrier.hpp"
#include "fiber.hpp"

namespace weft::detail {

// Throws weft::operation_cancelled (out of line: waits only test the flag).
[[noreturn, gnu::cold, gnu::noinline]] void throw_cancelled();

// For the calling fiber `f`, entering an interruption point: whether it throws
// operation_cancelled instead of waiting (a stop was requested, and no exception unwinds it).
// The flag first: waits ask libstdc++ for the uncaught count only once a stop was requested.
inline bool stop_due(const fiber& f) noexcept {
  return f.stop_requested.load(std::memory_order_relaxed) && std::uncaught_exceptions() == 0;
}

// For a fiber's wait that is an interruption point, once its worker opened the fiber's token
// (worker::run_actions): whether a stop requested before the token opened claimed it now;
// the worker then makes the fiber ready, after releasing its lock.
inline bool claim_if_stop_requested(fiber& f) noexcept {
  light_barrier();  // between the token's opening and this load
  return f.stop_requested.load(std::memory_order_relaxed) && f.token.claim_for_stop();
}

// The request, in steps so that a scope stopping many fibers pays one barrier and runs no
// callback under its lock: mark_stop for each fiber (false: requested before), one
// heavy_barrier(), wake_for_stop for each marked fiber, then request_stop() on each `source`
// mark_stop handed out (which runs the callbacks registered on the fiber's std::stop_token),
// holding no lock. Callable from any thread; `f` must stay alive until wake_for_stop (a handle
// or a scope keeps it); the sources keep their own state alive.
bool mark_stop(fiber& f, std::stop_source& source) noexcept;
void wake_for_stop(fiber& f) noexcept;
// All the steps for one fiber.
bool request_stop(fiber& f) noexcept;

// The fiber's std::stop_token, its std::stop_source made on first use.
std::stop_token stop_token_of(fiber& f);

// Whether `error` is an operation_cancelled.
bool is_cancellation(const std::exception_ptr& error) noexcept;

}  // namespace weft::detail
