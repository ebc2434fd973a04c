// The executor's wait for file descriptors (reactor.hpp).
#include "reactor.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <ctime>
#include <stdexcept>
#include <string>
#include <system_error>

#include <weft/detail/waiter.hpp>

#include "errno_now.hpp"

namespace weft::detail {
namespace {

constexpr std::uint32_t watched_events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;

[[noreturn]] void throw_errno(int error, const char* call) {
  throw std::system_error(error, std::system_category(), call);
}

// epoll_pwait2 (Linux 5.11) waits to the nanosecond; before it, epoll_wait rounds up to a
// millisecond so that a deadline is never missed by waking early.
int wait_for_events(int epoll_fd, epoll_event* events, int max,
                    std::chrono::steady_clock::time_point deadline) noexcept {
  using namespace std::chrono;
  static std::atomic<bool> have_pwait2{true};
  timespec ts{};
  const timespec* timeout = nullptr;
  int timeout_ms = -1;
  if (deadline != steady_clock::time_point::max()) {
    const auto left = deadline - steady_clock::now();
    const auto ns = left > nanoseconds::zero() ? duration_cast<nanoseconds>(left) : nanoseconds::zero();
    ts.tv_sec = static_cast<time_t>(ns.count() / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(ns.count() % 1'000'000'000);
    timeout = &ts;
    const auto ms = ceil<milliseconds>(ns).count();
    timeout_ms = ms > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(ms);
  }
  if (have_pwait2.load(std::memory_order_relaxed)) {
    const int n = ::epoll_pwait2(epoll_fd, events, max, timeout, nullptr);
    if (n >= 0 || errno != ENOSYS) return n;
    have_pwait2.store(false, std::memory_order_relaxed);
  }
  return ::epoll_wait(epoll_fd, events, max, timeout_ms);
}

}  // namespace

reactor::reactor() {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw_errno(errno, "weft: epoll_create1");
  interrupt_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (interrupt_fd_ < 0) {
    const int error = errno;
    ::close(epoll_fd_);
    throw_errno(error, "weft: eventfd");
  }
  epoll_event e{};
  e.events = EPOLLIN;  // level-triggered: readable until poll() drains it
  e.data.ptr = nullptr;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, interrupt_fd_, &e) != 0) {
    const int error = errno;
    ::close(interrupt_fd_);
    ::close(epoll_fd_);
    throw_errno(error, "weft: epoll_ctl");
  }
}

reactor::~reactor() {
  // Our epoll set goes with its descriptor: entries that name it forget it.
  for_each_descriptor([this](io_descriptor& d) {
    spin_guard guard(d.lock);
    if (d.registered_in == this) {
      d.registered_in = nullptr;
      d.ready[0] = d.ready[1] = false;
    }
  });
  ::close(interrupt_fd_);
  ::close(epoll_fd_);
}

bool reactor::register_locked(io_descriptor& d, const char* call) {
  epoll_event e{};
  e.events = watched_events;
  e.data.ptr = &d;
  // A fiber registers: errno only through errno_now (errno_now.hpp).
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, d.fd, &e) != 0) {
    const int error = errno_now();
    if (error == EPERM) return false;  // a regular file or a directory: always ready
    // Already in our set (its entry was reset under a registration: a descriptor duplicated
    // and closed by hand): take it as it is, with our events.
    if (error != EEXIST) throw_errno(error, call);
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, d.fd, &e) != 0) throw_errno(errno_now(), call);
  }
  d.registered_in = this;
  return true;
}

void reactor::deregister_locked(io_descriptor& d) noexcept {
  // EBADF or ENOENT: the descriptor was closed already, which took it out of the set.
  ::epoll_ctl(d.registered_in->epoll_fd_, EPOLL_CTL_DEL, d.fd, nullptr);
  d.registered_in = nullptr;
  d.ready[0] = d.ready[1] = false;
}

bool reactor::wait(io_descriptor& d, io_direction direction, time_point deadline,
                   const char* call) {
  const int side = static_cast<int>(direction);
  d.lock.lock();
  if (d.registered_in && d.registered_in != this) {
    if (d.waits > 0) {
      d.lock.unlock();
      throw std::logic_error(std::string("weft::io: ") + call + ": descriptor " +
                             std::to_string(d.fd) +
                             " is waited on by fibers of another executor at the same time");
    }
    deregister_locked(d);  // it moves to our set
  }
  if (d.ready[side]) {  // it changed while nobody waited: try again at once
    d.ready[side] = false;
    d.lock.unlock();
    return true;
  }
  if (!d.registered_in) {
    bool pollable;
    try {
      pollable = register_locked(d, call);
    } catch (...) {
      d.lock.unlock();
      throw;
    }
    if (!pollable) {
      d.lock.unlock();
      return true;
    }
  }
  bool closed = false;  // set by forget() before it wakes us
  waiter w;
  w.data = &closed;
  d.waiters[side].push_back(w);
  ++d.waits;
  waiting_.fetch_add(1, std::memory_order_acq_rel);
  struct leave {  // also when the executor unwinds us
    reactor& self;
    io_descriptor& d;
    ~leave() {
      {
        spin_guard guard(d.lock);
        if (--d.waits == 0 && !d.owned && d.registered_in) deregister_locked(d);
      }
      self.waiting_.fetch_sub(1, std::memory_order_acq_rel);
    }
  } on_leaving{*this, d};
  const bool ready = block_until(w, d.lock,
                                 direction == io_direction::read ? wait_kind::io_read
                                                                 : wait_kind::io_write,
                                 &d, deadline);
  if (closed)
    throw std::system_error(std::make_error_code(std::errc::operation_canceled), call);
  return ready;
}

void reactor::own(io_descriptor& d) noexcept {
  spin_guard guard(d.lock);
  d.owned = true;
}

void reactor::forget(io_descriptor& d) noexcept {
  waiter_queue woken;
  {
    spin_guard guard(d.lock);
    d.waiters[0].move_all_to(woken);
    d.waiters[1].move_all_to(woken);
    if (d.registered_in) deregister_locked(d);
    d.owned = false;
  }
  for (waiter* w = woken.front(); w; w = w->next) *static_cast<bool*>(w->data) = true;
  wake_all(woken);
}

bool reactor::poll(time_point deadline, int max_events) noexcept {
  epoll_event events[max_batch];
  const int n = wait_for_events(epoll_fd_, events, std::clamp(max_events, 1, max_batch), deadline);
  bool any = false;
  for (int i = 0; i < n; ++i) {
    if (events[i].data.ptr) {
      any |= dispatch(events[i]);
    } else {
      std::uint64_t count;
      while (::read(interrupt_fd_, &count, sizeof count) > 0) {
      }
    }
  }
  return any;
}

bool reactor::dispatch(const epoll_event& e) noexcept {
  io_descriptor& d = *static_cast<io_descriptor*>(e.data.ptr);
  const bool changed[2] = {(e.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0,
                           (e.events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0};
  waiter_queue woken;
  {
    spin_guard guard(d.lock);
    if (d.registered_in != this) return false;  // taken out meanwhile
    for (int side = 0; side < 2; ++side) {
      if (!changed[side]) continue;
      waiter_queue here;
      d.waiters[side].move_all_to(here);  // every waiter of the direction tries again
      if (here.empty()) d.ready[side] = true;  // nobody (left) to tell: the next one
      while (waiter* w = here.pop_front()) woken.push_back(*w);
    }
  }
  const bool any = !woken.empty();
  wake_all(woken);
  return any;
}

void reactor::interrupt() noexcept {
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(interrupt_fd_, &one, sizeof one);
}

}  // namespace weft::detail
