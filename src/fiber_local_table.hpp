// A fiber's (or thread's) fiber_local values, indexed by key (fiber_local.cpp).
#pragma once

#include <cstddef>

#include <weft/fiber_local.hpp>

namespace weft::detail {

// Held by value in the fiber's control block (and per thread), so that a read goes from the
// fiber straight to its slot: one load fewer than through a separately allocated table.
struct local_table {
  local_slot* slots = nullptr;  // `size` of them, made on first use
  std::size_t size = 0;
};

// Destroys every value in `table`, last key first, and frees its slots; empty afterwards.
void destroy_local_table(local_table& table) noexcept;

}  // namespace weft::detail
