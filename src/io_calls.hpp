// The calls behind <weft/io.hpp> and <weft/net.hpp>, with a deadline: wait for a descriptor,
// read, write. In a fiber they wait through the executor's reactor; on a plain thread with
// poll(2).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
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

// When a call gives up: a deadline, or a timeout counted from the first time the call must wait,
// so that a call that never waits reads no clock (a deadline fixed later is never earlier).
class io_limit {
 public:
  static io_limit at(io_deadline deadline) noexcept { return io_limit(deadline, {}); }
  static io_limit after(std::chrono::nanoseconds timeout) noexcept {
    return io_limit(std::nullopt, timeout);
  }
  io_deadline deadline() noexcept {
    if (!deadline_) deadline_ = io_deadline_after(timeout_);
    return *deadline_;
  }

 private:
  io_limit(std::optional<io_deadline> deadline, std::chrono::nanoseconds timeout) noexcept
      : deadline_(deadline), timeout_(timeout) {}
  std::optional<io_deadline> deadline_;
  std::chrono::nanoseconds timeout_;
};

// What read_some_until reads: any descriptor (read(2)), or a socket (recv(2), a shorter path
// through the kernel).
enum class io_source : bool { any, socket };

// Waits until `fd` is ready in `direction` (true) or `deadline` passes (false). Errors are
// std::system_error naming `call`.
bool wait_ready(int fd, io_direction direction, io_deadline deadline, const char* call);

// Sets O_NONBLOCK on `fd` if it is not set (a descriptor weft did not make).
void make_nonblocking(int fd, const char* call);

// Reads until something comes: the count, 0 at end of file. Throws weft::timeout_error
// naming `call` when `limit` passes first. `fd` must be non-blocking.
std::size_t read_some_until(int fd, std::span<std::byte> buf, io_limit& limit, const char* call,
                            io_source source = io_source::any);
// Writes all of `buf` without raising SIGPIPE. Throws weft::timeout_error naming `call` when
// `limit` passes first. `fd` must be non-blocking.
void write_all_until(int fd, std::span<const std::byte> buf, io_limit limit, const char* call);

}  // namespace weft::detail
