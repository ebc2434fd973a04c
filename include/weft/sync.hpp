// weft/sync.hpp: layer 3, every synchronisation primitive.
#pragma once

#include <weft/channel.hpp>
#include <weft/condition_variable.hpp>
#include <weft/event.hpp>
#include <weft/mutex.hpp>
#include <weft/select.hpp>
#include <weft/wait_group.hpp>
