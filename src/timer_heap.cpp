// A worker's timers (timer_heap.hpp).
#include "timer_heap.hpp"

#include <utility>

namespace weft::detail {
namespace {
template <class Entry>
bool earlier(const Entry& a, const Entry& b) noexcept {
  return a.deadline != b.deadline ? a.deadline < b.deadline : a.seq < b.seq;
}
}  // namespace

void timer_heap::reserve_one() {
  spin_guard guard(lock_);
  if (entries_.size() == entries_.capacity())
    entries_.reserve(entries_.size() < 16 ? 16 : 2 * entries_.size());
}

void timer_heap::arm(timer_slot& slot) noexcept {
  spin_guard guard(lock_);
  slot.seq = next_seq_++;
  slot.heap = this;
  entries_.push_back(entry{slot.deadline, slot.seq, &slot});  // cannot throw: reserve_one()
  sift_up(entries_.size() - 1);
  note_earliest();
  armed_.fetch_add(1, std::memory_order_relaxed);
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
  armed_.fetch_sub(1, std::memory_order_relaxed);
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
  earliest_.store(entries_.empty() ? time_point::max() : entries_.front().deadline,
                  std::memory_order_release);
}

}  // namespace weft::detail
