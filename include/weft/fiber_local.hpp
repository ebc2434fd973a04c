// weft/fiber_local.hpp: one value per fiber (thread_local for fibers).
#pragma once

#include <cstddef>
#include <memory>

namespace weft {
namespace detail {

struct local_slot {
  void* value = nullptr;
  void (*destroy)(void*) noexcept = nullptr;
};
std::size_t new_local_key() noexcept;
// The running fiber's slot for `key` (outside fibers, the calling thread's), made on first use.
local_slot& local_slot_of(std::size_t key);

}  // namespace detail

// One T per fiber, value-initialised on that fiber's first get() and destroyed when the fiber
// ends (its destructor runs on the fiber, before the fiber's join returns). Outside fibers,
// each thread has its own, destroyed when the thread exits. A fiber's value follows it when it
// moves to another worker thread, which thread_local does not: use this instead of
// thread_local for per-fiber state. The object itself is shared: define it once (e.g. as a
// static) and call get() from any fiber. Values outlive the fiber_local object if it is
// destroyed first. get() costs one call after the first.
template <class T>
class fiber_local {
 public:
  fiber_local() : key_(detail::new_local_key()) {}
  fiber_local(const fiber_local&) = delete;
  fiber_local& operator=(const fiber_local&) = delete;

  T& get() {
    detail::local_slot& slot = detail::local_slot_of(key_);
    if (!slot.value) [[unlikely]] return create();
    return *static_cast<T*>(slot.value);
  }
  T* operator->() { return &get(); }
  T& operator*() { return get(); }

 private:
  T& create() {
    std::unique_ptr<T> value(new T());  // its constructor may use other fiber_locals
    detail::local_slot& slot = detail::local_slot_of(key_);  // so the slot is looked up after
    slot.value = value.get();
    slot.destroy = [](void* p) noexcept { delete static_cast<T*>(p); };
    return *value.release();
  }

  std::size_t key_;
};

}  // namespace weft
