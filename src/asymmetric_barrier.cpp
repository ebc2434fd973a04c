#include "asymmetric_barrier.hpp"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <mutex>

namespace weft::detail {

std::atomic<bool> asymmetric_barriers{false};

namespace {
long membarrier(int command) noexcept { return ::syscall(SYS_membarrier, command, 0, 0); }
}  // namespace

void enable_asymmetric_barriers() noexcept {
#if !WEFT_HAS_TSAN  // (asymmetric_barrier.hpp) ThreadSanitizer models neither barrier
  static std::once_flag once;
  std::call_once(once, [] {
    const long supported = membarrier(MEMBARRIER_CMD_QUERY);
    if (supported < 0 || !(supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED)) return;
    if (membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) != 0) return;
    asymmetric_barriers.store(true, std::memory_order_relaxed);
  });
#endif
}

void heavy_barrier() noexcept {
  if (!asymmetric_barriers.load(std::memory_order_relaxed)) {
    store_load_fence();
    return;
  }
  if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0) {
    // Documented not to fail once registered: without it the other side's compiler barrier
    // would not be enough (a lost wakeup, a fiber taken twice), so say so.
    std::perror("weft: membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)");
    std::terminate();
  }
}

}  // namespace weft::detail
