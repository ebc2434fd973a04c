// Shared helpers for mapping stack memory: weft::stack and the executor's stack allocator
// use the same size checks, error messages and valgrind registration.
#pragma once

#include <cstddef>

#include <weft/stack.hpp>

namespace weft::detail {

// Rounds a requested stack size up to pages; throws std::invalid_argument for 0 and
// std::length_error for sizes that cannot be mapped. `who` prefixes the message.
std::size_t round_stack_size(std::size_t size, const char* who);

// Maps `bytes` of read-write anonymous memory; throws std::system_error naming the size
// asked for and the likely cause.
void* map_region(std::size_t bytes, std::size_t size_asked, const char* who);

// Makes the first page of [base, base + mapped) a PROT_NONE guard; on failure unmaps the
// region and throws std::system_error.
void protect_guard(void* base, std::size_t mapped, std::size_t size_asked, const char* who);

// std::system_error for a failed mmap/mprotect, naming the call, the size and the likely cause.
[[noreturn]] void throw_map_failure(int error, const char* call, std::size_t size, const char* who);

// Tell valgrind (in WEFT_VALGRIND builds) that a region is a stack, and forget it again.
void register_stack(stack_span s, unsigned& id) noexcept;
void deregister_stack(unsigned id) noexcept;

}  // namespace weft::detail
