// The executor's wait for file descriptors: epoll, edge-triggered. A fiber that must wait for a
// descriptor queues a waiter on the descriptor's entry (io_descriptor.hpp) and blocks; whoever
// polls the epoll set (a worker: never an extra thread) makes the waiting fibers ready on its
// own queue. A parking worker polls in the kernel until its deadline when fibers wait on
// descriptors (one worker at a time: parking_lot), and workers that run dry poll without
// waiting.
//
// The interface is what an io_uring backend would also offer: wait for readiness with a
// deadline, poll until a deadline, interrupt a poll.
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <chrono>
#include <cstddef>

#include "io_descriptor.hpp"

namespace weft::detail {

class reactor {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  reactor();  // throws std::system_error when epoll or the eventfd cannot be made
  ~reactor();
  reactor(const reactor&) = delete;
  reactor& operator=(const reactor&) = delete;

  // Blocks the calling fiber until `d` is ready in `direction` (true), or until `deadline`
  // (false). Throws std::system_error naming `call`: operation_canceled when io::close(d)
  // happens meanwhile, or what epoll says of the descriptor (EBADF...). Throws
  // std::logic_error when fibers of another executor wait on the same descriptor.
  bool wait(io_descriptor& d, io_direction direction, time_point deadline, const char* call);
  // A weft object owns `d` now: it stays registered between waits (until io::close).
  static void own(io_descriptor& d) noexcept;
  // io::close: wakes every fiber waiting on `d` (they throw operation_canceled) and takes it
  // out of its epoll set. The caller closes the descriptor itself afterwards.
  static void forget(io_descriptor& d) noexcept;

  // Makes ready the fibers waiting on descriptors that became ready, taking at most
  // `max_events` events (each wakes the fibers of one descriptor, usually one), waiting in the
  // kernel until one does, `deadline` passes (a deadline already passed: not at all) or
  // interrupt(). Returns whether any fiber became ready.
  static constexpr int max_batch = 128;
  bool poll(time_point deadline, int max_events = max_batch) noexcept;
  // Ends a poll() waiting in the kernel (or the next one), from any thread.
  void interrupt() noexcept;

  // Fibers in wait() now.
  std::size_t waiting() const noexcept { return waiting_.load(std::memory_order_acquire); }

 private:
  // Into our epoll set; `d` held. False for a regular file (always ready: epoll refuses it).
  bool register_locked(io_descriptor& d, const char* call) WEFT_REQUIRES(d.lock);
  static void deregister_locked(io_descriptor& d) noexcept WEFT_REQUIRES(d.lock);
  // An event: wakes the waiters of each direction that changed, or notes the change for the
  // next one. Returns whether it woke anybody.
  bool dispatch(const epoll_event& e) noexcept;

  int epoll_fd_ = -1;
  int interrupt_fd_ = -1;  // an eventfd, level-triggered in the set (data.ptr null)
  std::atomic<std::size_t> waiting_{0};
};

}  // namespace weft::detail
