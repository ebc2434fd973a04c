// Storage of weft::fiber_local (include/weft/fiber_local.hpp).
#include <weft/fiber_local.hpp>

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <utility>

#include "current.hpp"
#include "fiber.hpp"
#include "fiber_local_table.hpp"

namespace weft::detail {

namespace {
std::atomic<std::size_t> next_key{0};

// A plain thread's table, and what destroys it at thread exit (touched only when the table is
// made, so that reading it needs no TLS initialisation check).
constinit __attribute__((tls_model("initial-exec"))) thread_local local_table thread_table;
struct thread_table_owner {
  ~thread_table_owner() { destroy_local_table(thread_table); }
};
thread_local thread_table_owner thread_table_destroyer;

[[gnu::noinline]] local_slot& make_local_slot(fiber* f, std::size_t key) {
  local_table& table = f ? f->locals : thread_table;
  if (!f && !table.slots) (void)&thread_table_destroyer;  // registers its destructor
  const std::size_t size = std::max({key + 1, 2 * table.size, std::size_t{4}});
  auto* slots = new local_slot[size];  // value-initialised: empty
  std::copy(table.slots, table.slots + table.size, slots);
  delete[] std::exchange(table.slots, slots);
  table.size = size;
  return table.slots[key];
}
}  // namespace

constinit local_table no_locals;

void constructing_local(void*) noexcept {}

void throw_local_read_while_constructed() {
  throw std::logic_error(
      "weft::fiber_local::get: called from the constructor of the value it is making (the same "
      "fiber_local, on the same fiber or thread)");
}

std::size_t new_local_key() noexcept { return next_key.fetch_add(1, std::memory_order_relaxed); }

local_slot& local_slot_of(std::size_t key) {
  // No switch can happen in here, so reading the position directly is safe (current.hpp).
  fiber* f = this_thread_position.current_fiber;
  if (!f) this_thread_locals = &thread_table;  // later reads find it inline
  const local_table& table = f ? f->locals : thread_table;
  if (key < table.size) [[likely]] return table.slots[key];
  return make_local_slot(f, key);
}

void destroy_local_table(local_table& table) noexcept {
  // A destructor may use a fiber_local again, which makes new slots: destroyed in turn.
  while (table.slots) {
    local_slot* slots = std::exchange(table.slots, nullptr);
    const std::size_t size = std::exchange(table.size, 0);
    for (std::size_t i = size; i-- > 0;)
      if (slots[i].value) slots[i].destroy(std::exchange(slots[i].value, nullptr));
    delete[] slots;
  }
}

}  // namespace weft::detail
