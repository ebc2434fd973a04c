// weft/sync.hpp: layer 3, every synchronisation primitive.
#pragma once

#include <weft/barrier.hpp>
#include <weft/channel.hpp>
#include <weft/condition_variable.hpp>
#include <weft/event.hpp>
#include <weft/fiber_local.hpp>
#include <weft/future.hpp>
#include <weft/latch.hpp>
#include <weft/mutex.hpp>
#include <weft/select.hpp>
#include <weft/semaphore.hpp>
#include <weft/shared_mutex.hpp>
#include <weft/wait_group.hpp>
