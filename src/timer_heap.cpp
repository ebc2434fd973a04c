// A worker's timers (timer_heap.hpp).
#include "timer_heap.hpp"

#include <algorithm>
#include <utility>

#include "tick_counter.hpp"

namespace weft::detail {
namespace {
template <class Entry>
bool earlier(const Entry& a, const Entry& b) noexcept {
  return a.deadline != b.deadline ? a.deadline < b.deadline : a.seq < b.seq;
}
}  // namespace

void timer_heap::nothing_due_at(std::uint64_t ticks, time_point now) noexcept {
  const double rate = tick_counter::ticks_per_ns_at_least();
  const time_point earliest = this->earliest();
  if (rate <= 0 || earliest <= now) return;
  // At most a second ahead: the product stays far from overflowing.
  const auto quiet = std::min<std::chrono::nanoseconds>(earliest - now, std::chrono::seconds(1));
  quiet_until_ = ticks + static_cast<std::uint64_t>(static_cast<double>(quiet.count()) * rate);
  quiet_for_ = earliest;
}

void timer_heap::make_room() {
  spin_guard guard(lock_);
  if (entries_.size() == entries_.capacity())
    entries_.reserve(entries_.size() < 16 ? 16 : 2 * entries_.size());
  room_ = entries_.capacity() - entries_.size();
}

void timer_heap::arm(timer_slot& slot) noexcept {
  spin_guard guard(lock_);
  slot.seq = next_seq_++;
  slot.heap = this;
  entries_.push_back(entry{slot.deadline, slot.seq, &slot});  // cannot throw: reserve_one()
  --room_;
  if (slot.deadline < quiet_for_) quiet_until_ = 0;
  sift_up(entries_.size() - 1);
  note_earliest();
}

bool timer_heap::cancel(timer_slot& slot) noexcept {
  spin_guard guard(lock_);
  if (slot.index == timer_slot::not_armed) return false;
  take_out(slot.index);
  return true;
}

fiber* timer_heap::fire_due(time_point now) noexcept {
  spin_guard guard(lock_);
  while (!entries_.empty() && entries_.front().deadline <= now) {
    timer_slot* s = entries_.front().slot;
    take_out(0);
    // Claimed under the lock: the fiber cancels its timeout under it too, so the slot is
    // alive here, and a timeout that wins leaves the fiber waiting for this very wake.
    if (!s->token || s->token->claim(s)) return s->sleeper;
  }
  return nullptr;
}

void timer_heap::take_out(std::size_t i) noexcept {
  entries_[i].slot->index = timer_slot::not_armed;
  const entry last = entries_.back();
  entries_.pop_back();
  if (i < entries_.size()) {
    place(i, last);
    if (i > 0 && earlier(last, entries_[(i - 1) / 2])) sift_up(i);
    else sift_down(i);
  }
  note_earliest();
}

void timer_heap::sift_up(std::size_t i) noexcept {
  const entry e = entries_[i];
  while (i > 0) {
    const std::size_t parent = (i - 1) / 2;
    if (!earlier(e, entries_[parent])) break;
    place(i, entries_[parent]);
    i = parent;
  }
  place(i, e);
}

void timer_heap::sift_down(std::size_t i) noexcept {
  const entry e = entries_[i];
  const std::size_t n = entries_.size();
  for (;;) {
    std::size_t best = 2 * i + 1;
    if (best >= n) break;
    if (best + 1 < n && earlier(entries_[best + 1], entries_[best])) ++best;
    if (!earlier(entries_[best], e)) break;
    place(i, entries_[best]);
    i = best;
  }
  place(i, e);
}

void timer_heap::rebuild() noexcept {
  for (std::size_t i = 0; i < entries_.size(); ++i) place(i, entries_[i]);
  for (std::size_t i = entries_.size() / 2; i-- > 0;) sift_down(i);
  note_earliest();
}

void timer_heap::note_earliest() noexcept {
  size_.store(entries_.size(), std::memory_order_release);
  earliest_.store(entries_.empty() ? time_point::max() : entries_.front().deadline,
                  std::memory_order_release);
}

}  // namespace weft::detail
