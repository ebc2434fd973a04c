// Waiting on file descriptors, reading and writing them (include/weft/io.hpp, io_calls.hpp).
#include <weft/io.hpp>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <weft/detail/fiber_task.hpp>

#include "errno_now.hpp"
#include "executor_core.hpp"
#include "io_calls.hpp"
#include "reactor.hpp"

namespace weft::detail {
namespace {

[[noreturn]] void throw_errno(int error, const char* call) {
  throw std::system_error(error, std::system_category(), call);
}

// A plain thread's wait: poll(2), again after a signal, never returning before `deadline`.
bool wait_ready_on_thread(int fd, io_direction direction, io_deadline deadline, const char* call) {
  using namespace std::chrono;
  pollfd p{fd, static_cast<short>(direction == io_direction::read ? POLLIN : POLLOUT), 0};
  for (;;) {
    int timeout_ms = -1;
    if (deadline != no_io_deadline) {
      const auto left = deadline - steady_clock::now();
      if (left <= steady_clock::duration::zero()) timeout_ms = 0;
      else timeout_ms = static_cast<int>(std::min<long long>(ceil<milliseconds>(left).count(), 1'000'000'000));
    }
    const int n = ::poll(&p, 1, timeout_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno(errno, call);
    }
    if (n > 0) {
      if (p.revents & POLLNVAL) throw_errno(EBADF, call);
      return true;
    }
    if (deadline != no_io_deadline && steady_clock::now() >= deadline) return false;
  }
}

// Whether `fd` is ready now (poll(2) without waiting); throws EBADF for a closed descriptor.
bool ready_now(int fd, io_direction direction, const char* call) {
  return wait_ready_on_thread(fd, direction, io_deadline{}, call);
}

// write(2) with SIGPIPE blocked for the calling thread, and a SIGPIPE that the write raised
// taken back, for descriptors that are not sockets (MSG_NOSIGNAL is for sockets only). Returns
// the count written or -errno.
ssize_t write_without_sigpipe(int fd, const std::byte* data, std::size_t size) noexcept {
  sigset_t pipe_only, before, pending;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  sigpending(&pending);
  const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  pthread_sigmask(SIG_BLOCK, &pipe_only, &before);
  const ssize_t n = ::write(fd, data, size);
  const int error = n < 0 ? errno_now() : 0;
  if (error == EPIPE && !was_pending) {
    const timespec now{};
    while (sigtimedwait(&pipe_only, nullptr, &now) < 0 && errno_now() == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
  return n < 0 ? -error : n;
}

// One write of `fd`, a socket (send with MSG_NOSIGNAL) or not: what the descriptor's entry
// says it was last time, corrected when the descriptor says otherwise. Returns the count
// written or -errno.
ssize_t write_once(io_descriptor& d, const std::byte* data, std::size_t size) noexcept {
  if (d.kind.load(std::memory_order_relaxed) != io_kind::other) {
    const ssize_t n = ::send(d.fd, data, size, MSG_NOSIGNAL);
    const int error = n < 0 ? errno_now() : 0;
    if (error != ENOTSOCK) {
      d.kind.store(io_kind::socket, std::memory_order_relaxed);
      return n < 0 ? -error : n;
    }
    d.kind.store(io_kind::other, std::memory_order_relaxed);
  }
  return write_without_sigpipe(d.fd, data, size);
}

}  // namespace

bool wait_ready(int fd, io_direction direction, io_deadline deadline, const char* call) {
  if (fd < 0) throw_errno(EBADF, call);
  executor_core* core = current_core();
  if (!core) return wait_ready_on_thread(fd, direction, deadline, call);
  return core->io().wait(descriptor_of(fd, call), direction, deadline, call);
}

void make_nonblocking(int fd, const char* call) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) throw_errno(errno, call);
  if (!(flags & O_NONBLOCK) && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
    throw_errno(errno, call);
}

std::size_t read_some_until(int fd, std::span<std::byte> buf, io_limit& limit, const char* call,
                            io_source source) {
  if (buf.empty()) return 0;  // recv(2) of nothing waits for data on a socket; read(2) does not
  for (;;) {
    const ssize_t n = source == io_source::socket ? ::recv(fd, buf.data(), buf.size(), 0)
                                                  : ::read(fd, buf.data(), buf.size());
    if (n >= 0) return static_cast<std::size_t>(n);
    const int error = errno_now();  // errno_now.hpp: this loop waits
    if (error == EINTR) continue;
    if (error != EAGAIN && error != EWOULDBLOCK) throw_errno(error, call);
    if (!wait_ready(fd, io_direction::read, limit.deadline(), call)) throw timeout_error(call);
  }
}

void write_all_until(int fd, std::span<const std::byte> buf, io_limit limit, const char* call) {
  io_descriptor& d = descriptor_of(fd, call);
  while (!buf.empty()) {
    const ssize_t n = write_once(d, buf.data(), buf.size());
    if (n >= 0) {
      buf = buf.subspan(static_cast<std::size_t>(n));
      continue;
    }
    const int error = static_cast<int>(-n);
    if (error == EINTR) continue;
    if (error != EAGAIN && error != EWOULDBLOCK) throw_errno(error, call);
    if (!wait_ready(fd, io_direction::write, limit.deadline(), call)) throw timeout_error(call);
  }
}

}  // namespace weft::detail

namespace weft::io {

using detail::io_direction;

namespace {

// What the public waits answer: whether `fd` is ready now. It may be ready with no change left
// to report (edge-triggered epoll), so look first; and the reactor may answer with an edge
// that came while nobody waited, which a read or write may have consumed since (the internal
// loops just retry their call then), so look again after every answer.
bool wait_until_ready(int fd, io_direction direction, std::chrono::nanoseconds timeout,
                      const char* call) {
  const detail::io_deadline deadline = detail::io_deadline_after(timeout);
  for (;;) {
    if (detail::ready_now(fd, direction, call)) return true;
    if (!detail::wait_ready(fd, direction, deadline, call)) return false;
  }
}

}  // namespace

bool wait_readable(int fd, std::chrono::nanoseconds timeout) {
  return wait_until_ready(fd, io_direction::read, timeout, "wait_readable");
}

bool wait_writable(int fd, std::chrono::nanoseconds timeout) {
  return wait_until_ready(fd, io_direction::write, timeout, "wait_writable");
}

std::size_t read_some(int fd, std::span<std::byte> buf) {
  if (fd < 0) detail::throw_errno(EBADF, "read");
  detail::make_nonblocking(fd, "read");
  detail::io_limit forever = detail::io_limit::at(detail::no_io_deadline);
  return detail::read_some_until(fd, buf, forever, "read");
}

void write_all(int fd, std::span<const std::byte> buf) {
  if (fd < 0) detail::throw_errno(EBADF, "write");
  detail::make_nonblocking(fd, "write");
  detail::write_all_until(fd, buf, detail::io_limit::at(detail::no_io_deadline), "write");
}

void close(int fd) {
  if (fd < 0) detail::throw_errno(EBADF, "close");
  if (detail::io_descriptor* d = detail::find_descriptor(fd)) {
    detail::reactor::forget(*d);
    d->kind.store(detail::io_kind::unknown, std::memory_order_relaxed);
  }
  if (::close(fd) != 0 && errno != EINTR) detail::throw_errno(errno, "close");
}

}  // namespace weft::io
