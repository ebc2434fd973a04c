// Guarded fiber regions that destroyed executors leave to later ones, process-wide. Without
// them every new executor (weft::run makes one per call) maps its stacks again, two system
// calls each, and takes a page fault on each one's first use: about half the time of a run
// of ten thousand short fibers. A bounded few, so that destroying executors still gives their
// memory back. Their pages stay as the fibers left them: at most what those fibers touched
// stays resident (madvise(MADV_FREE) would let the kernel take it, but in a scratch
// measurement its TLB flushes gave back much of what the reuse saves).
#pragma once

#include <cstddef>

#include <weft/stack.hpp>

namespace weft::detail::spare_regions {

constexpr std::size_t max_count = 64;
constexpr std::size_t max_bytes = std::size_t{16} << 20;  // of stack, all kept regions together

// Keeps `region`, a stack whose guard page is the page below region.low, if the pool has room
// for it; whether it did (if not, the caller unmaps it). Thread-safe. Kept regions count in no
// guarded-stack budget: their at most 2 * max_count mappings fit in the reserve that the
// budget leaves below vm.max_map_count (default_guarded_budget).
bool keep(stack_span region) noexcept;

// A kept region of exactly `size` bytes, taken out of the pool, or an empty span. Thread-safe.
stack_span take(std::size_t size) noexcept;

// Regions kept now.
std::size_t count() noexcept;

}  // namespace weft::detail::spare_regions
