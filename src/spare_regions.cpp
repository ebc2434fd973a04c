#include "spare_regions.hpp"

#include <array>

#include <weft/detail/thread_annotations.hpp>

#include "thread_mutex.hpp"

namespace weft::detail::spare_regions {
namespace {

struct pool {
  thread_mutex lock;
  std::array<stack_span, max_count> regions WEFT_GUARDED_BY(lock) = {};
  std::size_t count WEFT_GUARDED_BY(lock) = 0;
  std::size_t bytes WEFT_GUARDED_BY(lock) = 0;
};

// Never destroyed: executors may be destroyed during static destruction too.
pool& the_pool() noexcept {
  static pool* const p = new pool;
  return *p;
}

}  // namespace

bool keep(stack_span region) noexcept {
  pool& p = the_pool();
  thread_lock guard(p.lock);
  if (p.count == max_count || p.bytes + region.size > max_bytes) return false;
  p.regions[p.count++] = region;
  p.bytes += region.size;
  return true;
}

stack_span take(std::size_t size) noexcept {
  pool& p = the_pool();
  thread_lock guard(p.lock);
  for (std::size_t i = p.count; i-- > 0;) {  // the newest first: its pages are likeliest cached
    if (p.regions[i].size != size) continue;
    const stack_span found = p.regions[i];
    p.regions[i] = p.regions[--p.count];
    p.bytes -= size;
    return found;
  }
  return {};
}

std::size_t count() noexcept {
  pool& p = the_pool();
  thread_lock guard(p.lock);
  return p.count;
}

}  // namespace weft::detail::spare_regions
