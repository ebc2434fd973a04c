// weft/cancellation.hpp: what a stopped fiber's interruption points throw.
#pragma once

#include <exception>

namespace weft {

// Thrown by a fiber's interruption points once a stop was requested for it
// (join_handle::request_stop, scope::request_stop, or its scope's owner stopped): sleep_for and
// sleep_until, join and wait_for-style calls, channel send and recv (and their timed forms),
// select, event, condition_variable and wait_group waits, scope::join, and the io and net
// waits. A fiber blocked in one is woken at once, on whichever worker runs it; a fiber that is
// running sees the stop at its next interruption point. mutex::lock, mutex::try_lock_for and
// weft::await are not interruption points, and neither is any wait made while an exception
// unwinds the fiber (a destructor that joins or locks works as usual).
//
// Escaping a fiber, it ends the fiber as any exception does: join() rethrows it. A detached
// fiber that ends with it ends silently.
struct operation_cancelled : std::exception {
  const char* what() const noexcept override;
};

}  // namespace weft
