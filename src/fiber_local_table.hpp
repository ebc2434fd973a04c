// A fiber's (or thread's) fiber_local values, indexed by key (fiber_local.cpp).
#pragma once

#include <vector>

#include <weft/fiber_local.hpp>

namespace weft::detail {

struct local_table {
  std::vector<local_slot> slots;
};

// Destroys every value in `table`, last key first, and the table; null afterwards.
void destroy_local_table(local_table*& table) noexcept;

}  // namespace weft::detail
