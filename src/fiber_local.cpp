// Storage of weft::fiber_local (include/weft/fiber_local.hpp).
#include <weft/fiber_local.hpp>

#include <atomic>
#include <vector>

#include "current.hpp"
#include "fiber.hpp"
#include "fiber_local_table.hpp"

namespace weft::detail {

namespace {
std::atomic<std::size_t> next_key{0};

// The threads' own tables: destroyed at thread exit.
struct thread_table_owner {
  local_table* table = nullptr;
  ~thread_table_owner() { destroy_local_table(table); }
};
thread_local thread_table_owner thread_table;
}  // namespace

std::size_t new_local_key() noexcept { return next_key.fetch_add(1, std::memory_order_relaxed); }

local_slot& local_slot_of(std::size_t key) {
  // No switch can happen in here, so reading the position directly is safe (current.hpp).
  fiber* f = this_thread_position.current_fiber;
  local_table*& table = f ? f->locals : thread_table.table;
  if (!table) [[unlikely]] table = new local_table;
  if (key >= table->slots.size()) [[unlikely]] table->slots.resize(key + 1);
  return table->slots[key];
}

void destroy_local_table(local_table*& table) noexcept {
  // A destructor may use a fiber_local again, which makes a new table: destroyed in turn.
  while (local_table* t = std::exchange(table, nullptr)) {
    for (auto it = t->slots.rbegin(); it != t->slots.rend(); ++it)
      if (it->value) it->destroy(std::exchange(it->value, nullptr));
    delete t;
  }
}

}  // namespace weft::detail
