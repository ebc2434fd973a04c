// weft/select.hpp: waiting on several channel operations at once, as Go's select.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include <weft/channel.hpp>
#include <weft/detail/call_awaiter.hpp>
#include <weft/detail/deadline.hpp>
#include <weft/detail/waiter.hpp>

namespace weft {
namespace detail {

template <class T, class F>
struct recv_case_t {
  channel<T>* ch;
  F on_value;                 // on_value(std::optional<T>): nullopt when closed and drained
  std::optional<T> slot = {};  // where the value goes
};

template <class T, class F>
struct send_case_t {
  channel<T>* ch;
  T value;     // moved from only when it is sent
  F on_sent;   // on_sent(bool): false when the channel is closed
  bool sent = false;
};

template <class F>
struct timeout_case_t {
  deadline at;
  F on_timeout;
};

template <class F>
struct default_case_t {
  F on_default;
};

template <class C> struct is_channel_case : std::false_type {};
template <class T, class F> struct is_channel_case<recv_case_t<T, F>> : std::true_type {};
template <class T, class F> struct is_channel_case<send_case_t<T, F>> : std::true_type {};
template <class C> struct is_timeout_case : std::false_type {};
template <class F> struct is_timeout_case<timeout_case_t<F>> : std::true_type {};
template <class C> struct is_default_case : std::false_type {};
template <class F> struct is_default_case<default_case_t<F>> : std::true_type {};

// A pseudo-random number of the calling thread, for select's fair choice (src/select.cpp).
std::uint32_t select_random() noexcept;
// A select with only a timeout: sleeps the fiber (or the plain thread) until `until`.
void sleep_until_deadline(deadline until);

// What select does to a channel, under the channel's lock (which select takes with the
// others in address order, beyond what the analysis can follow).
struct select_access {
  template <class T>
  static spinlock& lock(channel<T>& c) noexcept WEFT_RETURN_CAPABILITY(c.lock_) {
    return c.lock_;
  }
  // Receives now if it can: a value, or nullopt from a closed, drained channel. A sender whose
  // value was taken goes to `to_wake`.
  template <class T, class F>
  static bool try_case(recv_case_t<T, F>& c, waiter*& to_wake) WEFT_NO_THREAD_SAFETY_ANALYSIS {
    c.slot = c.ch->take(to_wake);
    return c.slot.has_value() || c.ch->closed_;
  }
  // Sends now if it can (true also for a closed channel: the case fires with false).
  template <class T, class F>
  static bool try_case(send_case_t<T, F>& c, waiter*& to_wake) WEFT_NO_THREAD_SAFETY_ANALYSIS {
    using result = typename channel<T>::offer_result;
    const result r = c.ch->offer(c.value, to_wake);
    c.sent = r == result::delivered;
    return r != result::full;
  }
  // After a waker took the case's waiter: what it did (a receiver's slot is already filled).
  template <class T, class F>
  static void settle(recv_case_t<T, F>&, const waiter&) noexcept {}
  template <class T, class F>
  static void settle(send_case_t<T, F>& c, const waiter& w) noexcept {
    c.sent = w.ok;
  }
  template <class T, class F>
  static void enqueue(recv_case_t<T, F>& c, waiter& w) WEFT_NO_THREAD_SAFETY_ANALYSIS {
    w.data = &c.slot;
    c.ch->receivers_.push_back(w);
  }
  template <class T, class F>
  static void enqueue(send_case_t<T, F>& c, waiter& w) WEFT_NO_THREAD_SAFETY_ANALYSIS {
    w.data = &c.value;
    c.ch->senders_.push_back(w);
  }
};

template <class T, class F>
void fire(recv_case_t<T, F>& c) {
  c.on_value(std::move(c.slot));
}
template <class T, class F>
void fire(send_case_t<T, F>& c) {
  c.on_sent(c.sent);
}

// Calls f(std::get<I>(cases)) for the one I == i.
template <class Tuple, class F, std::size_t... I>
void visit_case(Tuple& cases, std::size_t i, F&& f, std::index_sequence<I...>) {
  (void)((I == i ? (f(std::get<I>(cases)), true) : false) || ...);
}

template <class... Cases>
std::size_t select_impl(std::tuple<Cases&...> cases) {
  constexpr std::size_t n = sizeof...(Cases);
  constexpr std::size_t channels = (std::size_t{is_channel_case<Cases>::value} + ... + 0);
  constexpr std::size_t timeouts = (std::size_t{is_timeout_case<Cases>::value} + ... + 0);
  constexpr std::size_t defaults = (std::size_t{is_default_case<Cases>::value} + ... + 0);
  static_assert(n > 0, "weft::select: give it at least one case");
  static_assert(channels + timeouts + defaults == n,
                "weft::select: every argument must be a recv_case, send_case, timeout_case or "
                "default_case");
  static_assert(timeouts <= 1, "weft::select: at most one timeout_case");
  static_assert(defaults <= 1, "weft::select: at most one default_case");
  constexpr auto all = std::index_sequence_for<Cases...>{};
  constexpr std::array<bool, n> is_channel{is_channel_case<Cases>::value...};
  constexpr std::size_t npos = n;
  constexpr auto position_of = [](const std::array<bool, n>& kinds) {
    for (std::size_t i = 0; i < n; ++i)
      if (kinds[i]) return i;
    return npos;
  };
  constexpr std::size_t timeout_at =
      position_of(std::array<bool, n>{is_timeout_case<Cases>::value...});
  constexpr std::size_t default_at =
      position_of(std::array<bool, n>{is_default_case<Cases>::value...});

  // The channel cases' positions, in a random order: among ready cases, each is as likely.
  std::array<std::size_t, channels + 1> order{};  // + 1: never a zero-size array
  for (std::size_t i = 0, k = 0; i < n; ++i)
    if (is_channel[i]) order[k++] = i;
  for (std::size_t k = channels; k > 1; --k)
    std::swap(order[k - 1], order[select_random() % k]);

  // Every channel's lock, each once, taken in address order (as every select takes them).
  std::array<spinlock*, channels + 1> locks{};
  std::size_t lock_count = 0;
  auto note_lock = [&](auto& c) {
    if constexpr (is_channel_case<std::decay_t<decltype(c)>>::value)
      locks[lock_count++] = &select_access::lock(*c.ch);
  };
  std::apply([&](auto&... c) { (note_lock(c), ...); }, cases);
  std::sort(locks.begin(), locks.begin() + lock_count);
  lock_count = static_cast<std::size_t>(std::unique(locks.begin(), locks.begin() + lock_count) -
                                        locks.begin());
  const auto lock_all = [&]() WEFT_NO_THREAD_SAFETY_ANALYSIS {
    for (std::size_t i = 0; i < lock_count; ++i) locks[i]->lock();
  };
  const auto unlock_all = [&]() WEFT_NO_THREAD_SAFETY_ANALYSIS {
    for (std::size_t i = 0; i < lock_count; ++i) locks[i]->unlock();
  };
  const auto fire_case = [&](std::size_t i) {
    visit_case(cases, i, [](auto& c) {
      using C = std::decay_t<decltype(c)>;
      if constexpr (is_channel_case<C>::value) fire(c);
      else if constexpr (is_timeout_case<C>::value) c.on_timeout();
      else c.on_default();
    }, all);
    return i;
  };

  if constexpr (channels > 0) {
    lock_all();
    for (std::size_t k = 0; k < channels; ++k) {
      bool ready = false;
      waiter* to_wake = nullptr;
      visit_case(cases, order[k], [&](auto& c) {
        if constexpr (is_channel_case<std::decay_t<decltype(c)>>::value)
          ready = select_access::try_case(c, to_wake);
      }, all);
      if (ready) {
        unlock_all();
        if (to_wake) wake(*to_wake);
        return fire_case(order[k]);
      }
    }
    if constexpr (default_at != npos) {
      unlock_all();
      return fire_case(default_at);
    }
  } else if constexpr (default_at != npos) {
    return fire_case(default_at);
  }

  deadline until = deadline::max();
  if constexpr (timeout_at != npos)
    until = std::get<timeout_at>(cases).at;
  if constexpr (channels == 0) {
    sleep_until_deadline(until);  // only a timeout: select is a sleep
    return fire_case(timeout_at);
  } else {
    // Nothing ready: a waiter in every channel's queue, one token among them.
    std::array<waiter, channels> waiters{};
    for (std::size_t i = 0, k = 0; i < n; ++i) {
      if (!is_channel[i]) continue;
      waiter& w = waiters[k++];
      visit_case(cases, i, [&](auto& c) {
        if constexpr (is_channel_case<std::decay_t<decltype(c)>>::value) {
          w.lock = &select_access::lock(*c.ch);
          select_access::enqueue(c, w);
        }
      }, all);
    }
    const std::size_t won =
        block_any(waiters, std::span<spinlock* const>(locks.data(), lock_count), until);
    if (won == channels) return fire_case(timeout_at);
    std::size_t position = 0;
    for (std::size_t i = 0, k = 0; i < n; ++i)
      if (is_channel[i] && k++ == won) position = i;
    // The waker did the case's work: a value in the slot, or `ok` false from a close.
    visit_case(cases, position, [&](auto& c) {
      if constexpr (is_channel_case<std::decay_t<decltype(c)>>::value)
        select_access::settle(c, waiters[won]);
    }, all);
    return fire_case(position);
  }
}

}  // namespace detail

// A case of select: receives from `ch`, then calls on_value(std::optional<T>), which is
// std::nullopt when the channel is closed and drained.
template <class T, class F>
auto recv_case(channel<T>& ch, F&& on_value) {
  return detail::recv_case_t<T, std::decay_t<F>>{&ch, std::forward<F>(on_value)};
}

// A case of select: sends `value` on `ch`, then calls on_sent(bool): true if it was sent,
// false if the channel is closed (a send on a closed channel is ready at once).
template <class T, class F>
auto send_case(channel<T>& ch, std::type_identity_t<T> value, F&& on_sent) {
  return detail::send_case_t<T, std::decay_t<F>>{&ch, std::move(value), std::forward<F>(on_sent)};
}

// A case of select: fires when `d` (counted from this call) passes with no other case ready.
template <class Rep, class Period, class F>
auto timeout_case(std::chrono::duration<Rep, Period> d, F&& on_timeout) {
  return detail::timeout_case_t<std::decay_t<F>>{detail::deadline_after(d),
                                                 std::forward<F>(on_timeout)};
}

// A case of select: fires at once when no other case is ready, so select never blocks.
template <class F>
auto default_case(F&& f) {
  return detail::default_case_t<std::decay_t<F>>{std::forward<F>(f)};
}

// Waits until one of the cases can proceed, performs exactly that one (no other case takes
// or sends anything), runs its callback and returns its 0-based position among the arguments.
// Among several ready cases it picks one at random. From fibers (suspending only the fiber)
// and plain threads. Throws what the callback throws.
template <class... Cases>
std::size_t select(Cases&&... cases) {
  return detail::select_impl(std::tuple<std::remove_reference_t<Cases>&...>(cases...));
}

// select's awaitable twin for weft::task (<weft/task.hpp>): `co_await async_select(cases...)`
// yields the fired case's position. The awaitable keeps the cases (rvalues moved, lvalues
// copied); await it once.
template <class... Cases>
auto async_select(Cases&&... cases) {
  return detail::call_awaiter{[... c = std::forward<Cases>(cases)]() mutable {
    return select(c...);
  }};
}

}  // namespace weft
