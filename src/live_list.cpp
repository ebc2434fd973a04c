// The live fibers of one worker (live_list.hpp).
#include "live_list.hpp"

namespace weft::detail {

void live_list::add(fiber* f) noexcept {
  spin_guard guard(lock_);
  f->live_in = this;
  f->prev_live = nullptr;
  f->next_live = head_;
  if (head_) head_->prev_live = f;
  head_ = f;
}

void live_list::remove(fiber* f) noexcept {
  spin_guard guard(lock_);
  if (f->prev_live) f->prev_live->next_live = f->next_live;
  else head_ = f->next_live;
  if (f->next_live) f->next_live->prev_live = f->prev_live;
}

}  // namespace weft::detail
