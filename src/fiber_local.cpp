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

// A plain thread's table, and what destroys it at thread exit (touched only when the table is
// made, so that reading the pointer needs no TLS initialisation check).
constinit __attribute__((tls_model("initial-exec"))) thread_local local_table* thread_table = nullptr;
struct thread_table_owner {
  ~thread_table_owner() { destroy_local_table(thread_table); }
};
thread_local thread_table_owner thread_table_destroyer;

[[gnu::noinline]] local_slot& make_local_slot(fiber* f, std::size_t key) {
  local_table*& table = f ? f->locals : thread_table;
  if (!table) {
    if (!f) (void)&thread_table_destroyer;  // registers its destructor for this thread
    table = new local_table;
  }
  if (key >= table->slots.size()) table->slots.resize(key + 1);
  return table->slots[key];
}
}  // namespace

std::size_t new_local_key() noexcept { return next_key.fetch_add(1, std::memory_order_relaxed); }

local_slot& local_slot_of(std::size_t key) {
  // No switch can happen in here, so reading the position directly is safe (current.hpp).
  fiber* f = this_thread_position.current_fiber;
  local_table* table = f ? f->locals : thread_table;
  if (table && key < table->slots.size()) [[likely]] return table->slots[key];
  return make_local_slot(f, key);
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
