// weft/io.hpp: waiting on file descriptors, reading and writing them, without blocking a worker.
#pragma once

#include <chrono>
#include <cstddef>
#include <span>
#include <string>
#include <system_error>

#include <weft/detail/call_awaiter.hpp>

namespace weft {

// Thrown by a call that ran out of time (tcp_stream with set_timeout, tcp_stream::connect):
// code() is std::errc::timed_out, what() names the call. The stream stays usable: each call
// has its own timeout.
struct timeout_error : std::system_error {
  explicit timeout_error(const std::string& call)
      : std::system_error(std::make_error_code(std::errc::timed_out), call) {}
};

namespace io {

// No timeout.
inline constexpr std::chrono::nanoseconds forever = std::chrono::nanoseconds::max();

// Every call below works on any descriptor that can wait for readiness: sockets, pipes,
// eventfds, terminals (a regular file is always ready). In a fiber it suspends only the
// calling fiber while the descriptor is not ready; from a plain thread it blocks that thread.
// weft sets O_NONBLOCK on the descriptor and leaves it set. Errors are std::system_error whose
// what() names the call: EBADF for a negative or closed descriptor, operation_canceled when
// io::close(fd) closes it meanwhile. Fibers of one executor may wait on one descriptor in the
// same direction at once: every readiness wakes them all, and each tries again. Fibers of two
// executors may not wait on one descriptor at the same time (std::logic_error).

// Waits until `fd` can be read without blocking (data, end of file, an error or a hang-up), or
// `timeout` passes: false then.
bool wait_readable(int fd, std::chrono::nanoseconds timeout = forever);
// Waits until `fd` can be written without blocking, or `timeout` passes: false then.
bool wait_writable(int fd, std::chrono::nanoseconds timeout = forever);

// Reads what is there, at least one byte, waiting while there is nothing: the count read, 0 at
// end of file (or for an empty `buf`).
std::size_t read_some(int fd, std::span<std::byte> buf);

// Writes all of `buf`, waiting whenever the descriptor is full. Never raises SIGPIPE: a write
// to a closed peer throws std::system_error (broken_pipe or connection_reset).
void write_all(int fd, std::span<const std::byte> buf);

// Wakes the fibers waiting on `fd` (they throw std::system_error, operation_canceled), stops
// watching it, and closes it. A plain ::close() is fine for a descriptor nobody waits on.
// Throws std::system_error (EBADF) for a negative descriptor or one that is not open.
void close(int fd);

// The awaitable twins of the waits, reads and writes above, for weft::task (<weft/task.hpp>);
// the buffer must outlive the co_await.
inline auto async_wait_readable(int fd, std::chrono::nanoseconds timeout = forever) {
  return detail::call_awaiter{[=] { return wait_readable(fd, timeout); }};
}
inline auto async_wait_writable(int fd, std::chrono::nanoseconds timeout = forever) {
  return detail::call_awaiter{[=] { return wait_writable(fd, timeout); }};
}
inline auto async_read_some(int fd, std::span<std::byte> buf) {
  return detail::call_awaiter{[=] { return read_some(fd, buf); }};
}
inline auto async_write_all(int fd, std::span<const std::byte> buf) {
  return detail::call_awaiter{[=] { write_all(fd, buf); }};
}

}  // namespace io
}  // namespace weft
