// weft/net.hpp: TCP streams and listeners whose calls suspend only the calling fiber.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include <weft/io.hpp>

namespace weft::net {

// A connected TCP socket, IPv4 or IPv6, with TCP_NODELAY on. Move-only; closes on destruction.
// Its calls suspend only the calling fiber (a plain thread blocks) and throw std::system_error
// naming the call (a peer reset: connection_reset; a write to a closed peer: broken_pipe or
// connection_reset; a call on a closed or empty stream: EBADF; close() meanwhile from another
// fiber: operation_canceled), or weft::timeout_error when the timeout set_timeout gave passes:
// the stream stays usable. Never raises SIGPIPE. One fiber may read while another writes.
class tcp_stream {
 public:
  tcp_stream() noexcept = default;  // empty: no socket
  // Takes over `fd`, a connected stream socket (made non-blocking here).
  explicit tcp_stream(int fd);
  tcp_stream(tcp_stream&& other) noexcept;
  tcp_stream& operator=(tcp_stream&& other) noexcept;
  tcp_stream(const tcp_stream&) = delete;
  tcp_stream& operator=(const tcp_stream&) = delete;
  ~tcp_stream();

  // Connects to `host` (a numeric IPv4 or IPv6 address, "::1" unbracketed, or a name, looked
  // up on a weft::blocking thread) on `port`. Errors name the address and port
  // (connection_refused for a closed port); timeout_error after `timeout`.
  static tcp_stream connect(std::string_view host, std::uint16_t port,
                            std::chrono::nanoseconds timeout = io::forever);

  // What has arrived, at least one byte, waiting while nothing has: the count, 0 at the end
  // of the stream (or for an empty `buf`).
  std::size_t read_some(std::span<std::byte> buf);
  // Exactly buf.size() bytes; std::system_error (connection_aborted) if the stream ends first.
  void read_exact(std::span<std::byte> buf);
  // All of `buf`, waiting while the peer does not read.
  void write_all(std::span<const std::byte> buf);
  // The awaitable twins of the three above, for weft::task (<weft/task.hpp>); the stream and
  // the buffer must outlive the co_await.
  auto async_read_some(std::span<std::byte> buf) {
    return detail::call_awaiter{[this, buf] { return read_some(buf); }};
  }
  auto async_read_exact(std::span<std::byte> buf) {
    return detail::call_awaiter{[this, buf] { read_exact(buf); }};
  }
  auto async_write_all(std::span<const std::byte> buf) {
    return detail::call_awaiter{[this, buf] { write_all(buf); }};
  }
  // Each later read_some, read_exact and write_all throws timeout_error if it takes longer
  // than `timeout`, counted from its first wait (io::forever, the default: never; zero or
  // less: whenever it would wait).
  void set_timeout(std::chrono::nanoseconds timeout) noexcept { timeout_ = timeout; }
  // No more writes: the peer reads the end of the stream.
  void shutdown_write();
  // Closes the socket now (see io::close); a no-op on an empty stream.
  void close();

  int native_handle() const noexcept { return fd_.load(std::memory_order_acquire); }  // -1: none
  bool is_open() const noexcept { return native_handle() >= 0; }

 private:
  friend class tcp_listener;
  std::atomic<int> fd_{-1};  // close() may run in one fiber while another reads or writes
  std::chrono::nanoseconds timeout_ = io::forever;
};

// A listening TCP socket. Move-only; closes on destruction.
class tcp_listener {
 public:
  tcp_listener() noexcept = default;
  tcp_listener(tcp_listener&& other) noexcept;
  tcp_listener& operator=(tcp_listener&& other) noexcept;
  tcp_listener(const tcp_listener&) = delete;
  tcp_listener& operator=(const tcp_listener&) = delete;
  ~tcp_listener();

  // Listens on `host` (a numeric IPv4 or IPv6 address, "" for every IPv4 address, or a name)
  // and `port` (0: any free port; see local_port). SO_REUSEADDR is set. Errors name the
  // address and port.
  static tcp_listener bind(std::string_view host, std::uint16_t port, int backlog = 1024);

  // The next connection, waiting while there is none. Out of descriptors (EMFILE, ENFILE)
  // throws std::system_error naming accept and returns at once, without waiting: the
  // connection stays queued, and a later accept() takes it once descriptors are free. After
  // close(): std::system_error, operation_canceled.
  tcp_stream accept();
  // accept's awaitable twin for weft::task (<weft/task.hpp>).
  auto async_accept() {
    return detail::call_awaiter{[this] { return accept(); }};
  }
  std::uint16_t local_port() const;
  // Closes the socket: fibers blocked in accept() wake and throw operation_canceled.
  void close();

  int native_handle() const noexcept { return fd_.load(std::memory_order_acquire); }  // -1: none

 private:
  std::atomic<int> fd_{-1};  // close() may run in one fiber while another accepts
};

}  // namespace weft::net
