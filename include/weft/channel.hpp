// weft/channel.hpp: a typed FIFO between fibers and threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <iterator>
#include <optional>
#include <utility>

#include <weft/detail/call_awaiter.hpp>
#include <weft/detail/deadline.hpp>
#include <weft/detail/thread_annotations.hpp>
#include <weft/detail/waiter.hpp>

namespace weft {
namespace detail {
struct select_access;
}

// A FIFO channel of T with room for `capacity` buffered values (0: rendezvous, where a send
// completes only when a receiver takes the value). Every blocking call suspends only the
// calling fiber; from a plain thread it blocks the thread, so threads and fibers can talk.
// Safe to use from any number of fibers and threads at once. Buffer memory is allocated as
// values arrive, so a huge capacity costs nothing until used.
template <class T>
class channel {
 public:
  explicit channel(std::size_t capacity = 0) : capacity_(capacity) {}
  channel(const channel&) = delete;
  channel& operator=(const channel&) = delete;

  // A channel is an input range: `for (T v : ch)` receives (recv()) until the channel is
  // closed and drained. Each step may suspend, as recv() does, and may throw what it throws.
  class iterator {
   public:
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    T& operator*() const noexcept { return *current_; }
    T* operator->() const noexcept { return &*current_; }
    iterator& operator++() {
      current_ = ch_->recv();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
      return !it.current_;
    }

   private:
    friend channel;
    explicit iterator(channel* ch) : ch_(ch), current_(ch->recv()) {}
    channel* ch_ = nullptr;
    mutable std::optional<T> current_;
  };
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() noexcept { return {}; }

  // Delivers v, suspending while the channel is full (or, for capacity 0, until a receiver
  // takes it). Returns false, without delivering, once the channel is closed, including when
  // close() happens while it waits.
  bool send(T v) { return send_until_deadline(v, detail::deadline::max()); }

  // As send, waiting at most `d` (or until `t`): false if that passes first or the channel is
  // closed. Moves from v only when it delivers.
  template <class Rep, class Period>
  bool send_for(T& v, std::chrono::duration<Rep, Period> d) {
    return try_send(v) || send_until_deadline(v, detail::deadline_after(d));  // clock read late
  }
  template <class Clock, class Duration>
  bool send_until(T& v, std::chrono::time_point<Clock, Duration> t) {
    return send_until_deadline(v, detail::deadline_at(t));
  }

  // Takes the oldest value, suspending while the channel is empty. Returns std::nullopt once
  // the channel is closed and drained.
  std::optional<T> recv() { return recv_until_deadline(detail::deadline::max()); }

  // The awaitable twins of send and recv for weft::task (<weft/task.hpp>): `co_await
  // ch.async_send(v)` yields send's bool, `co_await ch.async_recv()` recv's optional.
  auto async_send(T v) {
    return detail::call_awaiter{[this, v = std::move(v)]() mutable { return send(std::move(v)); }};
  }
  auto async_recv() {
    return detail::call_awaiter{[this] { return recv(); }};
  }

  // As recv, waiting at most `d` (or until `t`): std::nullopt if that passes first, or if the
  // channel is closed and drained (is_closed() tells which). A receive that timed out took
  // nothing: no value is lost.
  template <class Rep, class Period>
  std::optional<T> recv_for(std::chrono::duration<Rep, Period> d) {
    if (std::optional<T> v = try_recv()) return v;  // ready: no clock read
    return recv_until_deadline(detail::deadline_after(d));
  }
  template <class Clock, class Duration>
  std::optional<T> recv_until(std::chrono::time_point<Clock, Duration> t) {
    return recv_until_deadline(detail::deadline_at(t));
  }

  // Like send, but never suspends: returns false if the channel is full or closed. Moves from
  // v only on success.
  bool try_send(T& v) {
    detail::spin_guard guard(lock_);
    detail::waiter* receiver = nullptr;
    const offer_result offered = offer(v, receiver);
    guard.unlock();
    if (receiver) detail::wake(*receiver);
    return offered == offer_result::delivered;
  }

  // Like recv, but never suspends: std::nullopt if no value is available now.
  std::optional<T> try_recv() {
    detail::spin_guard guard(lock_);
    detail::waiter* sender = nullptr;
    std::optional<T> v = take(sender);
    guard.unlock();
    if (sender) detail::wake(*sender);
    return v;
  }

  // Closes the channel: waiting senders return false, waiting receivers get what is buffered
  // and then std::nullopt. Later sends return false. Closing twice is harmless.
  void close() {
    detail::waiter_queue woken;
    {
      detail::spin_guard guard(lock_);
      closed_ = true;
      senders_.move_all_to(woken);
      receivers_.move_all_to(woken);
    }
    detail::wake_all(woken);
  }

  // Whether close() was called.
  bool is_closed() const noexcept {
    detail::spin_guard guard(lock_);
    return closed_;
  }
  bool closed() const noexcept { return is_closed(); }
  std::size_t capacity() const noexcept { return capacity_; }

 private:
  friend struct detail::select_access;  // weft::select (select.hpp)

  bool send_until_deadline(T& v, detail::deadline deadline) {
    detail::spin_guard guard(lock_);
    detail::waiter* receiver = nullptr;
    const offer_result offered = offer(v, receiver);
    if (offered == offer_result::full) {
      detail::waiter w;
      w.data = &v;
      senders_.push_back(w);
      guard.keep_locked();
      detail::block_until(w, lock_, detail::wait_kind::channel_send, this, deadline);
      return w.ok;  // a timeout leaves it false: nobody took v
    }
    guard.unlock();
    if (receiver) detail::wake(*receiver);
    return offered != offer_result::closed;
  }

  std::optional<T> recv_until_deadline(detail::deadline deadline) {
    detail::spin_guard guard(lock_);
    detail::waiter* sender = nullptr;
    if (std::optional<T> v = take(sender)) {
      guard.unlock();
      if (sender) detail::wake(*sender);
      return v;
    }
    if (closed_) return std::nullopt;
    std::optional<T> slot;
    detail::waiter w;
    w.data = &slot;
    receivers_.push_back(w);
    guard.keep_locked();
    detail::block_until(w, lock_, detail::wait_kind::channel_recv, this, deadline);
    return slot;  // a timeout leaves it empty: nobody handed a value
  }

  // What offer() did with a value.
  enum class offer_result { closed, delivered, full };
  // Hands v to a waiting receiver, which it stores in `receiver` for the caller to wake after
  // unlocking (the buffer is then empty), or buffers it if there is room; moves from v only
  // when it returns delivered.
  offer_result offer(T& v, detail::waiter*& receiver) WEFT_REQUIRES(lock_) {
    if (closed_) return offer_result::closed;
    if (detail::waiter* r = receivers_.pop_front()) {
      static_cast<std::optional<T>*>(r->data)->emplace(std::move(v));
      r->ok = true;
      receiver = r;
      return offer_result::delivered;
    }
    if (buffer_.size() >= capacity_) return offer_result::full;
    buffer_.push_back(std::move(v));
    return offer_result::delivered;
  }

  // The next value, refilling the buffer from a waiting sender, which it stores in `sender`
  // (a value then always comes back): the caller unlocks, then wakes it.
  std::optional<T> take(detail::waiter*& sender) WEFT_REQUIRES(lock_) {
    detail::waiter* s = senders_.pop_front();
    std::optional<T> v;
    if (!buffer_.empty()) {
      v.emplace(std::move(buffer_.front()));
      buffer_.pop_front();
      if (s) buffer_.push_back(std::move(*static_cast<T*>(s->data)));
    } else if (s) {
      v.emplace(std::move(*static_cast<T*>(s->data)));
    }
    if (s) s->ok = true;
    sender = s;
    return v;
  }

  mutable detail::spinlock lock_;
  std::size_t capacity_;
  bool closed_ WEFT_GUARDED_BY(lock_) = false;
  std::deque<T> buffer_ WEFT_GUARDED_BY(lock_);
  detail::waiter_queue senders_ WEFT_GUARDED_BY(lock_);
  detail::waiter_queue receivers_ WEFT_GUARDED_BY(lock_);
};

}  // namespace weft
