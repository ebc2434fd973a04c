// Memory for fibers: one region per fiber holding its stack and, at the top, its typed part
// (the callable and its result) with its control block below it. Regions are pooled for reuse, and a few guarded ones outlive the executor for the
// next (spare_regions.hpp). Guarded regions (own mapping + guard page) are limited by a
// process-wide budget derived from vm.max_map_count; past it, regions come without a guard
// page from shared slabs, and weft says so once on stderr.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include <weft/detail/fiber_task.hpp>
#include <weft/detail/thread_annotations.hpp>

#include "fiber.hpp"
#include "thread_mutex.hpp"

namespace weft::detail {

class fiber_allocator {
 public:
  // Throws as weft::stack does for a size of 0 or one too large.
  fiber_allocator(std::size_t stack_size, bool guard_pages, std::size_t max_guarded,
                  std::size_t max_cached);
  ~fiber_allocator();
  fiber_allocator(const fiber_allocator&) = delete;
  fiber_allocator& operator=(const fiber_allocator&) = delete;

  // A few free regions kept by one worker, used without locking by that worker's thread only.
  struct local_cache {
    static constexpr std::size_t capacity = 64;
    std::size_t count = 0;
    stack_span regions[capacity];
    bool guarded[capacity];
  };

  // A region with room for a typed part of `bytes` (aligned to `align`) and a control block at
  // its top, from `cache` if it has one (cache may be null; fiber_memory::from_cache says
  // which). Thread-safe. Throws std::length_error if they leave less than a page of stack,
  // std::system_error when memory cannot be mapped.
  // Inline: it runs on every spawn (the shared pool's path is out of line).
  fiber_memory allocate(std::size_t bytes, std::size_t align, local_cache* cache = nullptr) {
    if (align < 16) align = 16;
    if (bytes + align + control_bytes + page_ > region_size_) [[unlikely]]
      throw_object_too_large(bytes, region_size_, "executor_options::stack_size");
    if (cache && cache->count > 0) [[likely]] {
      const std::size_t i = --cache->count;
      return placed(cache->regions[i], cache->guarded[i], true, bytes, align);
    }
    const fiber_memory m = take_region();
    return placed(m.region, m.guarded, false, bytes, align);
  }
  // A region of its own for one fiber with a stack of `stack_size` bytes (rounded up to
  // pages), unlike the executor's: mapped now, guarded as the executor's stacks are (within
  // the budget), and unmapped when freed. Throws as allocate(), and std::invalid_argument or
  // std::length_error for a size of 0 or one that cannot be mapped.
  fiber_memory allocate_sized(std::size_t stack_size, std::size_t bytes, std::size_t align);

  // Takes a region back for reuse, into `cache` while it has room. Thread-safe. Returns
  // whether it went into `cache`.
  // Inline: it runs on every fiber's end (the shared pool's path is out of line).
  bool free(const stack_span& region, bool guarded, local_cache* cache = nullptr) noexcept {
    if (region.size != region_size_) [[unlikely]] {  // allocate_sized's
      unmap_sized(region, guarded);
      return false;
    }
    if (cache && cache->count < local_cache::capacity) [[likely]] {
      cache->regions[cache->count] = region;
      cache->guarded[cache->count] = guarded;
      ++cache->count;
      return true;
    }
    free_shared(region, guarded);
    return false;
  }
  // Gives every region of `cache` back to the shared pool.
  void drain(local_cache& cache) noexcept;

  std::size_t region_size() const noexcept { return region_size_; }

 private:
  fiber_memory take_region() WEFT_EXCLUDES(lock_);  // from the shared pool, or newly mapped
  void unmap_sized(const stack_span& region, bool guarded) noexcept WEFT_EXCLUDES(lock_);
  // Into the shared pool.
  void free_shared(const stack_span& region, bool guarded) noexcept WEFT_EXCLUDES(lock_);
  // The most a control block takes below the typed part, alignment included.
  static constexpr std::size_t control_bytes = sizeof(fiber) + alignof(fiber);
  // `region` with room for `bytes` aligned to `align` at its top: the typed part there, the
  // control block below it, the stack below that. Built in place (no fields written twice: it
  // runs on every spawn).
  static fiber_memory placed(stack_span region, bool guarded, bool from_cache, std::size_t bytes,
                             std::size_t align) noexcept {
    const auto low = reinterpret_cast<std::uintptr_t>(region.low);
    const auto task = (low + region.size - bytes) & ~(std::uintptr_t{align} - 1);
    const auto control = (task - sizeof(fiber)) & ~(std::uintptr_t{alignof(fiber)} - 1);
    return fiber_memory{reinterpret_cast<void*>(task), reinterpret_cast<void*>(control),
                        stack_span{region.low, static_cast<std::size_t>(control - low)}, region,
                        guarded, from_cache};
  }
  // The callable and its arguments leave too little of a `size`-byte stack (set by `option`).
  [[noreturn, gnu::cold, gnu::noinline]] static void throw_object_too_large(std::size_t bytes,
                                                                           std::size_t size,
                                                                           const char* option);
  bool reserve_guarded() noexcept;
  stack_span new_guarded_region() WEFT_EXCLUDES(lock_);  // a spare (spare_regions.hpp) or a new mapping
  stack_span carve_unguarded() WEFT_REQUIRES(lock_);
  void remember_region(stack_span r) WEFT_REQUIRES(lock_);  // valgrind registration of a new region
  void forget_region(stack_span r) noexcept WEFT_REQUIRES(lock_);

  std::size_t region_size_;
  std::size_t page_;  // the system's page size, looked up once
  bool guard_pages_;
  std::size_t max_cached_;
  std::size_t guarded_limit_;  // guarded stacks of the whole process this executor may map up to
  thread_mutex lock_;  // held across slab mapping, so a mutex rather than a spinlock
  std::vector<stack_span> free_guarded_ WEFT_GUARDED_BY(lock_);
  std::vector<stack_span> free_unguarded_ WEFT_GUARDED_BY(lock_);
  std::vector<stack_span> slabs_ WEFT_GUARDED_BY(lock_);
  char* slab_next_ WEFT_GUARDED_BY(lock_) = nullptr;
  char* slab_end_ WEFT_GUARDED_BY(lock_) = nullptr;
  std::unordered_map<void*, unsigned> valgrind_ids_ WEFT_GUARDED_BY(lock_);  // WEFT_VALGRIND
};

// The process-wide number of guarded stacks allowed at once (see executor_options).
std::size_t default_guarded_budget() noexcept;

}  // namespace weft::detail
