// weft/fiber_local.hpp: one value per fiber (thread_local for fibers).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace weft {
namespace detail {

struct local_slot {
  void* value = nullptr;
  void (*destroy)(void*) noexcept = nullptr;
};
// A fiber's (or thread's) values, indexed by key: `size` slots, made on first use.
struct local_table {
  local_slot* slots = nullptr;
  std::size_t size = 0;
};
std::size_t new_local_key() noexcept;
// The running fiber's slot for `key` (outside fibers, the calling thread's), made on first use.
local_slot& local_slot_of(std::size_t key);
// The `destroy` of a slot whose value is being constructed (its `value` still null): a get()
// meanwhile, from the value's own constructor, throws std::logic_error.
void constructing_local(void*) noexcept;
[[noreturn]] void throw_local_read_while_constructed();

// Empty: what a thread reads before it has a table of its own.
extern constinit local_table no_locals;

// The table of what the calling thread runs (this_thread_locals, src/current.hpp; no_locals
// until first needed outside a fiber). Read on x86-64 and AArch64 by inline asm that finds the
// thread anew on every call: a fiber that moved to another thread must not read through the
// old thread's address, which compilers cache across calls (and so across a switch).
#if defined(__x86_64__) || defined(__aarch64__)
#define WEFT_INLINE_LOCAL_READ 1
inline const local_table& current_locals() noexcept {
  const local_table* table;
#if defined(__x86_64__)
  asm volatile(  // the variable's static TLS offset, then a load relative to the thread pointer
      "movq weft_this_thread_locals@gottpoff(%%rip), %0\n\t"
      "movq %%fs:(%0), %0"
      : "=r"(table)
      :
      : "memory");
#else
  std::uintptr_t address;  // thread pointer + the variable's static TLS offset
  asm volatile(
      "mrs %0, tpidr_el0\n\t"
      "adrp %1, :gottprel:weft_this_thread_locals\n\t"
      "ldr %1, [%1, #:gottprel_lo12:weft_this_thread_locals]\n\t"
      "ldr %0, [%0, %1]"
      : "=&r"(table), "=&r"(address)
      :
      : "memory");
#endif
  return *table;
}
#endif

}  // namespace detail

// One T per fiber, value-initialised on that fiber's first get() and destroyed when the fiber
// ends (its destructor runs on the fiber, before the fiber's join returns). Outside fibers,
// each thread has its own, destroyed when the thread exits. A fiber's value follows it when it
// moves to another worker thread, which thread_local does not: use this instead of
// thread_local for per-fiber state. The object itself is shared: define it once (e.g. as a
// static) and call get() from any fiber. Values outlive the fiber_local object if it is
// destroyed first. After the first, get() is four dependent loads from the thread pointer,
// without a call (on x86-64 and AArch64). A get() from the constructor of the value it is making
// (on the same fiber or thread) throws std::logic_error; if T's constructor throws, the next
// get() tries again.
template <class T>
class fiber_local {
 public:
  fiber_local() : key_(detail::new_local_key()) {}
  fiber_local(const fiber_local&) = delete;
  fiber_local& operator=(const fiber_local&) = delete;

  T& get() {
#ifdef WEFT_INLINE_LOCAL_READ
    const detail::local_table& table = detail::current_locals();
    if (key_ < table.size) [[likely]]
      if (void* value = table.slots[key_].value) [[likely]] return *static_cast<T*>(value);
#endif
    return get_slow();
  }
  T* operator->() { return &get(); }
  T& operator*() { return get(); }

 private:
  [[gnu::noinline]] T& get_slow() {
    detail::local_slot& slot = detail::local_slot_of(key_);
    if (slot.value) return *static_cast<T*>(slot.value);
    if (slot.destroy == &detail::constructing_local) detail::throw_local_read_while_constructed();
    return create();
  }
  T& create() {
    detail::local_slot_of(key_).destroy = &detail::constructing_local;
    std::unique_ptr<T> value;
    try {
      value.reset(new T());  // its constructor may use other fiber_locals
    } catch (...) {
      detail::local_slot_of(key_).destroy = nullptr;
      throw;
    }
    detail::local_slot& slot = detail::local_slot_of(key_);  // so the slot is looked up after
    slot.value = value.get();
    slot.destroy = [](void* p) noexcept { delete static_cast<T*>(p); };
    return *value.release();
  }

  std::size_t key_;
};

}  // namespace weft
