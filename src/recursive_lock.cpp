// weft::recursive_mutex and recursive_timed_mutex (include/weft/mutex.hpp).
#include <atomic>
#include <stdexcept>

#include <weft/mutex.hpp>
#include <weft/this_fiber.hpp>

namespace weft::detail {

namespace {
std::atomic<std::uint64_t> next_thread_identity{std::uint64_t{1} << 63};
}  // namespace

std::uint64_t caller_identity() noexcept {
  if (const std::uint64_t fiber = this_fiber::id()) return fiber;
  thread_local const std::uint64_t thread = next_thread_identity.fetch_add(1, std::memory_order_relaxed);
  return thread;
}

// owner_ is read by callers that do not own the lock: relaxed is enough, as only the caller
// itself can have stored its own identity there, and it stores another before it unlocks.
bool recursive_lock::try_lock() { return enter(deadline::min(), true); }

bool recursive_lock::lock_until(deadline deadline) { return enter(deadline, false); }

bool recursive_lock::enter(deadline deadline, bool try_only) {
  const std::uint64_t me = caller_identity();
  if (owner_.load(std::memory_order_relaxed) == me) {
    ++depth_;
    return true;
  }
  if (try_only) {
    if (!mutex_.try_lock()) return false;
  } else if (deadline == deadline::max()) {
    mutex_.lock();
  } else if (!mutex_.try_lock_until(deadline)) {
    return false;
  }
  owner_.store(me, std::memory_order_relaxed);
  depth_ = 1;
  return true;
}

void recursive_lock::unlock() {
  if (owner_.load(std::memory_order_relaxed) != caller_identity())
    throw std::logic_error("weft::recursive_mutex::unlock: the caller does not own the mutex");
  if (--depth_ != 0) return;
  owner_.store(0, std::memory_order_relaxed);
  mutex_.unlock();
}

}  // namespace weft::detail
