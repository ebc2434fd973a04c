// weft/weft.hpp: the whole public API of weft.
#pragma once

#include <weft/context.hpp>
#include <weft/stack.hpp>
#include <weft/stack_pool.hpp>
