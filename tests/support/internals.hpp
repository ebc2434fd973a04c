// The one door from the tests to weft's private headers (src/, on the tests' include path),
// for tests that peek at internals: detail::current_fiber() (its fiber's guarded, region and
// id), detail::current_core() (its armed timers), detail::threads_blocked_in_weft(),
// detail::fiber (built bare for the inbox test),
// detail::fiber_inbox and detail::spare_regions. When those headers are renamed or split,
// only this file changes.
#pragma once

#include "current.hpp"
#include "executor_core.hpp"
#include "fiber.hpp"
#include "fiber_inbox.hpp"
#include "spare_regions.hpp"
#include "thread_parker.hpp"
