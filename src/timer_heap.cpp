// A worker's timers (timer_heap.hpp).
#include "timer_heap.hpp"

#include <utility>

namespace weft::detail {
namespace {
bool earlier(const timer_slot* a, const timer_slot* b) noexcept {
  return a->deadline != b->deadline ? a->deadline < b->deadline : a->seq < b->seq;
}
}  // namespace

void timer_heap::reserve_one() {
  spin_guard guard(lock_);
  if (slots_.size() == slots_.capacity()) slots_.reserve(slots_.size() < 16 ? 16 : 2 * slots_.size());
}

void timer_heap::arm(timer_slot& slot) noexcept {
  spin_guard guard(lock_);
  slot.seq = next_seq_++;
  slot.heap = this;
  slots_.push_back(&slot);  // cannot throw: reserve_one() made room
  place(slots_.size() - 1, &slot);
  sift_up(slot.index);
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
  while (!slots_.empty() && slots_.front()->deadline <= now) {
    timer_slot* s = slots_.front();
    take_out(0);
    // Claimed under the lock: the fiber cancels its timeout under it too, so the slot is
    // alive here, and a timeout that wins leaves the fiber waiting for this very wake.
    if (!s->token || s->token->claim(s)) return s->sleeper;
  }
  return nullptr;
}

void timer_heap::take_out(std::size_t i) noexcept {
  timer_slot* gone = slots_[i];
  gone->index = timer_slot::not_armed;
  timer_slot* last = slots_.back();
  slots_.pop_back();
  if (last != gone) {
    place(i, last);
    sift_down(i);
    sift_up(last->index);
  }
  note_earliest();
  armed_.fetch_sub(1, std::memory_order_relaxed);
}

void timer_heap::place(std::size_t i, timer_slot* s) noexcept {
  slots_[i] = s;
  s->index = i;
}

void timer_heap::sift_up(std::size_t i) noexcept {
  timer_slot* s = slots_[i];
  while (i > 0) {
    const std::size_t parent = (i - 1) / 2;
    if (!earlier(s, slots_[parent])) break;
    place(i, slots_[parent]);
    i = parent;
  }
  place(i, s);
}

void timer_heap::sift_down(std::size_t i) noexcept {
  timer_slot* s = slots_[i];
  const std::size_t n = slots_.size();
  for (;;) {
    std::size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && earlier(slots_[child + 1], slots_[child])) ++child;
    if (!earlier(slots_[child], s)) break;
    place(i, slots_[child]);
    i = child;
  }
  place(i, s);
}

void timer_heap::rebuild() noexcept {
  for (std::size_t i = 0; i < slots_.size(); ++i) place(i, slots_[i]);
  for (std::size_t i = slots_.size() / 2; i-- > 0;) sift_down(i);
  note_earliest();
}

void timer_heap::note_earliest() noexcept {
  earliest_.store(slots_.empty() ? time_point::max() : slots_.front()->deadline,
                  std::memory_order_release);
}

}  // namespace weft::detail
