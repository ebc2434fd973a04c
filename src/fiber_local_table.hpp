// A fiber's (or thread's) fiber_local values, indexed by key (fiber_local.cpp).
#pragma once

#include <cstddef>

#include <weft/fiber_local.hpp>

namespace weft::detail {

// local_table (<weft/fiber_local.hpp>) is held by value in the fiber's control block and per
// thread, so that a read goes from the table straight to its slot.

// Destroys every value in `table`, last key first, and frees its slots; empty afterwards.
void destroy_local_table(local_table& table) noexcept;

}  // namespace weft::detail
