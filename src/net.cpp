// TCP streams and listeners (include/weft/net.hpp) over the calls of io_calls.hpp.
#include <weft/net.hpp>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include <weft/blocking.hpp>

#include "errno_now.hpp"
#include "io_calls.hpp"
#include "reactor.hpp"

namespace weft::net {
namespace {

using detail::errno_now;
using detail::io_deadline;
using detail::io_direction;

[[noreturn]] void throw_errno(int error, const std::string& call) {
  throw std::system_error(error, std::system_category(), call);
}

// A socket address and how to name it in messages ("127.0.0.1 port 80", "::1 port 80").
struct endpoint {
  sockaddr_storage address{};
  socklen_t length = 0;
  std::string text;
  int family() const noexcept { return address.ss_family; }
};

std::string describe(std::string_view host, std::uint16_t port) {
  return std::string(host.empty() ? "*" : host) + " port " + std::to_string(port);
}

// A numeric address, or a name looked up with getaddrinfo (on a weft::blocking thread from a
// fiber: it may ask a DNS server). "" is every IPv4 address (for bind).
endpoint resolve(std::string_view host, std::uint16_t port, const char* call) {
  endpoint e;
  e.text = describe(host, port);
  std::string name(host);
  if (name.size() > 2 && name.front() == '[' && name.back() == ']') name = name.substr(1, name.size() - 2);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&e.address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&e.address);
  if (name.empty() || ::inet_pton(AF_INET, name.c_str(), &v4->sin_addr) == 1) {
    if (name.empty()) v4->sin_addr.s_addr = htonl(INADDR_ANY);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    e.length = sizeof(sockaddr_in);
    return e;
  }
  if (::inet_pton(AF_INET6, name.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    e.length = sizeof(sockaddr_in6);
    return e;
  }
  const int status = weft::blocking([&] {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const int result = ::getaddrinfo(name.c_str(), nullptr, &hints, &found);
    if (result == 0) {
      std::memcpy(&e.address, found->ai_addr, found->ai_addrlen);
      e.length = found->ai_addrlen;
      ::freeaddrinfo(found);
    }
    return result;
  });
  if (status != 0)
    throw std::system_error(std::make_error_code(std::errc::address_not_available),
                            std::string(call) + " " + e.text + ": cannot resolve \"" + name +
                                "\": " + ::gai_strerror(status));
  if (e.family() == AF_INET) v4->sin_port = htons(port);
  else v6->sin6_port = htons(port);
  return e;
}

// A new non-blocking TCP socket for `e`, owned by a weft object.
int open_socket(const endpoint& e, const std::string& call) {
  const int fd = ::socket(e.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_errno(errno, call);
  return fd;
}

void set_no_delay(int fd) noexcept {
  const int on = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);  // not fatal if refused
}

// A weft object owns `fd` now: it stays in the reactor's set until io::close.
void own(int fd, const char* call) { detail::reactor::own(detail::descriptor_of(fd, call)); }

void close_quietly(std::atomic<int>& fd) noexcept {
  const int old = fd.exchange(-1, std::memory_order_acq_rel);
  if (old < 0) return;
  try {
    io::close(old);
  } catch (...) {  // destructors do not throw; the descriptor is gone either way
  }
}

// The descriptor of a stream or listener, for a call: EBADF if it is empty or closed.
int open_fd(const std::atomic<int>& fd, const char* call) {
  const int value = fd.load(std::memory_order_acquire);
  if (value < 0) throw_errno(EBADF, call);
  return value;
}

}  // namespace

// ---- tcp_stream ----------------------------------------------------------------------------

tcp_stream::tcp_stream(int fd) {
  if (fd < 0) throw_errno(EBADF, "weft::net::tcp_stream");
  detail::make_nonblocking(fd, "weft::net::tcp_stream");  // on failure the caller keeps fd
  set_no_delay(fd);
  own(fd, "weft::net::tcp_stream");
  fd_.store(fd, std::memory_order_release);
}

tcp_stream::tcp_stream(tcp_stream&& other) noexcept
    : fd_(other.fd_.exchange(-1, std::memory_order_acq_rel)), timeout_(other.timeout_) {}

tcp_stream& tcp_stream::operator=(tcp_stream&& other) noexcept {
  if (this != &other) {
    close_quietly(fd_);
    fd_.store(other.fd_.exchange(-1, std::memory_order_acq_rel), std::memory_order_release);
    timeout_ = other.timeout_;
  }
  return *this;
}

tcp_stream::~tcp_stream() { close_quietly(fd_); }

tcp_stream tcp_stream::connect(std::string_view host, std::uint16_t port,
                               std::chrono::nanoseconds timeout) {
  const io_deadline deadline = detail::io_deadline_after(timeout);
  const endpoint e = resolve(host, port, "connect to");
  const std::string call = "connect to " + e.text;
  tcp_stream s;
  const int fd = open_socket(e, call);
  s.fd_.store(fd, std::memory_order_release);
  set_no_delay(fd);
  own(fd, call.c_str());
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&e.address), e.length) != 0) {
    const int started = errno_now();  // errno_now.hpp: this function waits below
    if (started != EINPROGRESS && started != EINTR) throw_errno(started, call);
    if (!detail::wait_ready(fd, io_direction::write, deadline, call.c_str()))
      throw timeout_error(call);
    int error = 0;
    socklen_t length = sizeof error;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno_now();
    if (error != 0) throw_errno(error, call);
  }
  return s;
}

std::size_t tcp_stream::read_some(std::span<std::byte> buf) {
  const int fd = open_fd(fd_, "read");
  detail::io_limit limit = detail::io_limit::after(timeout_);
  return detail::read_some_until(fd, buf, limit, "read", detail::io_source::socket);
}

void tcp_stream::read_exact(std::span<std::byte> buf) {
  const int fd = open_fd(fd_, "read");
  detail::io_limit limit = detail::io_limit::after(timeout_);  // for the whole call
  std::size_t done = 0;
  while (done < buf.size()) {
    const std::size_t n =
        detail::read_some_until(fd, buf.subspan(done), limit, "read", detail::io_source::socket);
    if (n == 0)
      throw std::system_error(std::make_error_code(std::errc::connection_aborted),
                              "read_exact: the stream ended after " + std::to_string(done) +
                                  " of " + std::to_string(buf.size()) + " bytes");
    done += n;
  }
}

void tcp_stream::write_all(std::span<const std::byte> buf) {
  const int fd = open_fd(fd_, "write");
  detail::write_all_until(fd, buf, detail::io_limit::after(timeout_), "write");
}

void tcp_stream::shutdown_write() {
  if (::shutdown(open_fd(fd_, "shutdown"), SHUT_WR) != 0) throw_errno(errno, "shutdown");
}

void tcp_stream::close() {
  const int fd = fd_.exchange(-1, std::memory_order_acq_rel);
  if (fd >= 0) io::close(fd);
}

// ---- tcp_listener --------------------------------------------------------------------------

tcp_listener::tcp_listener(tcp_listener&& other) noexcept
    : fd_(other.fd_.exchange(-1, std::memory_order_acq_rel)) {}

tcp_listener& tcp_listener::operator=(tcp_listener&& other) noexcept {
  if (this != &other) {
    close_quietly(fd_);
    fd_.store(other.fd_.exchange(-1, std::memory_order_acq_rel), std::memory_order_release);
  }
  return *this;
}

tcp_listener::~tcp_listener() { close_quietly(fd_); }

tcp_listener tcp_listener::bind(std::string_view host, std::uint16_t port, int backlog) {
  const endpoint e = resolve(host, port, "bind to");
  const std::string call = "bind to " + e.text;
  tcp_listener l;
  const int fd = open_socket(e, call);
  l.fd_.store(fd, std::memory_order_release);
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&e.address), e.length) != 0)
    throw_errno(errno, call);
  if (::listen(fd, backlog) != 0) throw_errno(errno, "listen on " + e.text);
  own(fd, call.c_str());
  return l;
}

tcp_stream tcp_listener::accept() {
  const int listening = fd_.load(std::memory_order_acquire);
  if (listening < 0)
    throw std::system_error(std::make_error_code(std::errc::operation_canceled), "accept");
  for (;;) {
    const int fd = ::accept4(listening, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      tcp_stream s;
      s.fd_.store(fd, std::memory_order_release);
      set_no_delay(fd);
      own(fd, "accept");
      return s;
    }
    const int error = errno_now();  // errno_now.hpp: this loop waits
    if (error == EINTR || error == ECONNABORTED) continue;
    if (error != EAGAIN && error != EWOULDBLOCK) throw_errno(error, "accept");
    detail::wait_ready(listening, io_direction::read, detail::no_io_deadline, "accept");
  }
}

std::uint16_t tcp_listener::local_port() const {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getsockname(open_fd(fd_, "getsockname"), reinterpret_cast<sockaddr*>(&address),
                    &length) != 0)
    throw_errno(errno, "getsockname");
  return ntohs(address.ss_family == AF_INET6
                   ? reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port
                   : reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
}

void tcp_listener::close() {
  const int fd = fd_.exchange(-1, std::memory_order_acq_rel);
  if (fd >= 0) io::close(fd);
}

}  // namespace weft::net
