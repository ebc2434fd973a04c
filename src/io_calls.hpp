// The calls behind <weft/io.hpp> and <weft/net.hpp>, with a deadline: wait for a descriptor,
// read, write. In a fiber they wait through the executor's reactor; on a plain thread with
// poll(2).
#pragma once

#include <chrono>
#include <cstddef>
#include <span>

#include <weft/detail/deadline.hpp>

#include "io_descriptor.hpp"

namespace weft::detail {

using io_deadline = std::chrono::steady_clock::time_point;
inline constexpr io_deadline no_io_deadline = io_deadline::max();

// now + timeout, saturating; io::forever (and anything past the clock's end): no deadline.
inline io_deadline io_deadline_after(std::chrono::nanoseconds timeout) noexcept {
  return deadline_after(timeout);
}

// Waits until `fd` is ready in `direction` (true) or `deadline` passes (false). Errors are
// std::system_error naming `call`.
bool wait_ready(int fd, io_direction direction, io_deadline deadline, const char* call);

// Sets O_NONBLOCK on `fd` if it is not set (a descriptor weft did not make).
void make_nonblocking(int fd, const char* call);

// read(2) until something comes: the count, 0 at end of file. Throws weft::timeout_error
// naming `call` when `deadline` passes first. `fd` must be non-blocking.
std::size_t read_some_until(int fd, std::span<std::byte> buf, io_deadline deadline,
                            const char* call);
// Writes all of `buf` without raising SIGPIPE. Throws weft::timeout_error naming `call` when
// `deadline` passes first. `fd` must be non-blocking.
void write_all_until(int fd, std::span<const std::byte> buf, io_deadline deadline,
                     const char* call);

}  // namespace weft::detail
