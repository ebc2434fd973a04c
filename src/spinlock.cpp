// The contended path of weft::detail::spinlock (include/weft/detail/spinlock.hpp).
#include <weft/detail/spinlock.hpp>

#include "spin.hpp"

namespace weft::detail {

void spinlock::lock_contended() noexcept {
  do {
    spin_then_yield backoff{64};
    while (locked_.load(std::memory_order_relaxed)) backoff.wait();
  } while (locked_.exchange(true, std::memory_order_acquire));
}

}  // namespace weft::detail
