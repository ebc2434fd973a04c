// weft/weft.hpp: the whole public API of weft.
#pragma once

#include <weft/await.hpp>
#include <weft/blocking.hpp>
#include <weft/cancellation.hpp>
#include <weft/context.hpp>
#include <weft/barrier.hpp>
#include <weft/executor.hpp>
#include <weft/fiber_local.hpp>
#include <weft/future.hpp>
#include <weft/io.hpp>
#include <weft/latch.hpp>
#include <weft/net.hpp>
#include <weft/scope.hpp>
#include <weft/semaphore.hpp>
#include <weft/shared_mutex.hpp>
#include <weft/stack.hpp>
#include <weft/stack_pool.hpp>
#include <weft/sync.hpp>
#include <weft/task.hpp>
#include <weft/this_fiber.hpp>
#include <weft/trace.hpp>
