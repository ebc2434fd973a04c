#include "fiber_allocator.hpp"

#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <string>

#include "spare_regions.hpp"
#include "stack_memory.hpp"

namespace weft::detail {
namespace {

// Guarded regions of every executor of the process, in use or cached (not the spares).
std::atomic<std::size_t> guarded_in_use{0};
// The default budget, computed once.
std::size_t default_limit() noexcept {
  static const std::size_t limit = default_guarded_budget();
  return limit;
}
std::once_flag fallback_warning;

constexpr std::size_t regions_per_slab = 256;
constexpr std::size_t max_slab_bytes = std::size_t{256} << 20;

}  // namespace

std::size_t default_guarded_budget() noexcept {
  std::size_t max_map_count = 65530;
  std::ifstream in("/proc/sys/vm/max_map_count");
  in >> max_map_count;
  constexpr std::size_t reserve = 4096;  // mappings left for the rest of the program
  return max_map_count > 2 * reserve ? (max_map_count - reserve) / 2 : max_map_count / 4;
}

fiber_allocator::fiber_allocator(std::size_t stack_size, bool guard_pages,
                                 std::size_t max_guarded, std::size_t max_cached)
    : region_size_(round_stack_size(stack_size, "weft::executor_options::stack_size")),
      page_(page_size()),
      guard_pages_(guard_pages),
      max_cached_(max_cached) {
  guarded_limit_ = max_guarded != 0 ? max_guarded : default_limit();
}

fiber_allocator::~fiber_allocator() {
  for (auto [low, id] : valgrind_ids_) deregister_stack(id);
  const std::size_t page = page_size();
  for (const stack_span& r : free_guarded_) {
    guarded_in_use.fetch_sub(1);  // a spare counts again once an executor takes it
    if (!spare_regions::keep(r)) ::munmap(static_cast<char*>(r.low) - page, r.size + page);
  }
  for (const stack_span& s : slabs_) ::munmap(s.low, s.size);
}

bool fiber_allocator::reserve_guarded() noexcept {
  std::size_t used = guarded_in_use.load();
  do {
    if (used >= guarded_limit_) return false;
  } while (!guarded_in_use.compare_exchange_weak(used, used + 1));
  return true;
}

stack_span fiber_allocator::new_guarded_region() {
  stack_span r = spare_regions::take(region_size_);  // one that a destroyed executor left
  if (!r.low) {
    const std::size_t page = page_size();
    const char* who = "weft::spawn";
    void* base = map_region(region_size_ + page, region_size_, who);
    protect_guard(base, region_size_ + page, region_size_, who);
    r = stack_span{static_cast<char*>(base) + page, region_size_};
  }
#ifdef WEFT_VALGRIND
  thread_lock guard(lock_);  // this runs without the lock; the id map needs it
  remember_region(r);
#endif
  return r;
}

stack_span fiber_allocator::carve_unguarded() {
  if (slab_next_ == slab_end_) {
    std::size_t count = regions_per_slab;
    while (count > 1 && count * region_size_ > max_slab_bytes) count /= 2;
    const std::size_t bytes = count * region_size_;
    void* slab = map_region(bytes, region_size_, "weft::spawn");
    slabs_.push_back(stack_span{slab, bytes});
    slab_next_ = static_cast<char*>(slab);
    slab_end_ = slab_next_ + bytes;
  }
  stack_span r{slab_next_, region_size_};
  slab_next_ += region_size_;
  remember_region(r);
  return r;
}

void fiber_allocator::remember_region([[maybe_unused]] stack_span r) {
#ifdef WEFT_VALGRIND
  unsigned id = 0;
  register_stack(r, id);
  valgrind_ids_.emplace(r.low, id);
#endif
}

void fiber_allocator::forget_region([[maybe_unused]] stack_span r) noexcept {
#ifdef WEFT_VALGRIND
  auto it = valgrind_ids_.find(r.low);
  if (it != valgrind_ids_.end()) {
    deregister_stack(it->second);
    valgrind_ids_.erase(it);
  }
#endif
}

void fiber_allocator::throw_object_too_large(std::size_t bytes, std::size_t size,
                                             const char* option) {
  throw std::length_error("weft::spawn: the callable and its arguments take " +
                          std::to_string(bytes) + " bytes, leaving less than a page of a " +
                          std::to_string(size) + "-byte stack; raise " + option +
                          " or capture less");
}

fiber_memory fiber_allocator::take_region() {
  fiber_memory m;
  {
    thread_lock guard(lock_);
    if (guard_pages_ && !free_guarded_.empty()) {
      m.region = free_guarded_.back();
      free_guarded_.pop_back();
      m.guarded = true;
      return m;
    }
    if (!guard_pages_ || guarded_in_use.load() >= guarded_limit_) {
      if (guard_pages_)
        std::call_once(fallback_warning, [this] {
          std::fprintf(stderr,
                       "weft: %zu guarded stacks are in use, the budget derived from "
                       "vm.max_map_count (executor_options::max_guarded_stacks); further fiber "
                       "stacks have no guard page\n",
                       guarded_limit_);
        });
      if (!free_unguarded_.empty()) {
        m.region = free_unguarded_.back();
        free_unguarded_.pop_back();
      } else {
        m.region = carve_unguarded();  // maps a new slab now and then, under the lock
      }
      return m;
    }
  }
  // A new guarded region: a spare, or mapped without holding the lock (two system calls).
  if (!reserve_guarded()) return take_region();  // the budget ran out meanwhile
  try {
    m.region = new_guarded_region();
  } catch (...) {
    guarded_in_use.fetch_sub(1);
    throw;
  }
  m.guarded = true;
  return m;
}

fiber_memory fiber_allocator::allocate_sized(std::size_t stack_size, std::size_t bytes,
                                             std::size_t align) {
  const char* who = "weft::spawn_options::stack_size";
  const std::size_t size = round_stack_size(stack_size, who);
  if (align < 16) align = 16;
  if (bytes + align + control_bytes + page_ > size)
    throw_object_too_large(bytes, size, "spawn_options::stack_size");
  const bool guarded = guard_pages_ && reserve_guarded();
  stack_span region;
  try {
    if (guarded) {
      void* base = map_region(size + page_, size, who);
      protect_guard(base, size + page_, size, who);
      region = stack_span{static_cast<char*>(base) + page_, size};
    } else {
      region = stack_span{map_region(size, size, who), size};
    }
  } catch (...) {
    if (guarded) guarded_in_use.fetch_sub(1);
    throw;
  }
#ifdef WEFT_VALGRIND
  thread_lock guard(lock_);
  remember_region(region);
#endif
  return placed(region, guarded, false, bytes, align);
}

void fiber_allocator::unmap_sized(const stack_span& region, bool guarded) noexcept {
#ifdef WEFT_VALGRIND
  {
    thread_lock guard(lock_);
    forget_region(region);
  }
#endif
  if (guarded) {
    ::munmap(static_cast<char*>(region.low) - page_, region.size + page_);
    guarded_in_use.fetch_sub(1);
  } else {
    ::munmap(region.low, region.size);
  }
}

void fiber_allocator::drain(local_cache& cache) noexcept {
  while (cache.count > 0) {
    --cache.count;
    free(cache.regions[cache.count], cache.guarded[cache.count]);
  }
}

void fiber_allocator::free_shared(const stack_span& region, bool guarded) noexcept {
  thread_lock guard(lock_);
  try {
    if (!guarded) {
      free_unguarded_.push_back(region);
      return;
    }
    if (max_cached_ == 0 || free_guarded_.size() < max_cached_) {
      free_guarded_.push_back(region);
      return;
    }
  } catch (...) {  // no memory to remember it: unmap a guarded one, leak-free either way
  }
  if (guarded) {
    forget_region(region);
    const std::size_t page = page_size();
    ::munmap(static_cast<char*>(region.low) - page, region.size + page);
    guarded_in_use.fetch_sub(1);
  }
}

}  // namespace weft::detail
