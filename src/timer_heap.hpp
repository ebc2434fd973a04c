// A worker's timers: sleeping fibers and the timeouts of timed waits, in a binary min-heap on
// (deadline, sequence) on the steady clock. O(log n) per timer for millions of them; equal
// deadlines fire in the order they were armed. The keys sit in the heap's own array, so
// sifting compares without visiting the slots (each on another fiber's stack). Each timer is a timer_slot on its fiber's stack,
// armed once the fiber has switched away (an after-switch action), so whoever fires it may
// make the fiber ready at once.
//
// The owning worker arms and fires its timers; another worker fires them when they are overdue
// (worker::rescue_overdue_timers: the owner is stuck in a long call), and a fiber cancels the
// timeout of a wait that something else ended. So the heap has a lock, and its earliest
// deadline can be read without it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <weft/detail/spinlock.hpp>
#include <weft/detail/thread_annotations.hpp>
#include <weft/detail/waiter.hpp>

namespace weft::detail {

struct fiber;
class timer_heap;

// One timer, on its fiber's stack. The heap fields belong to the heap it is armed in.
struct timer_slot {
  using time_point = std::chrono::steady_clock::time_point;
  static constexpr std::size_t not_armed = ~std::size_t{0};

  time_point deadline;
  fiber* sleeper = nullptr;
  wait_token* token = nullptr;  // a timed wait's (the timeout claims it); null for a sleep
  std::uint64_t seq = 0;
  std::size_t index = not_armed;  // in heap->slots_
  timer_heap* heap = nullptr;     // where it was armed
};

class timer_heap {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  timer_heap() noexcept = default;

  // Without the lock: hints, exact for the owner between its own changes. empty() counts a
  // timer that never fires (deadline time_point::max()); nothing_due() does not.
  bool empty() const noexcept { return size_.load(std::memory_order_acquire) == 0; }
  bool nothing_due() const noexcept { return earliest() == time_point::max(); }
  time_point earliest() const noexcept { return earliest_.load(std::memory_order_acquire); }

  // The owner's shortcut past the steady clock (about 30 ns a read in a VM) on its switches:
  // after it found nothing due at `now` (tick_counter::read() just before: `ticks`),
  // may_be_due(ticks) needs only the counter until the earliest deadline could have come. An
  // earlier timer armed meanwhile ends the shortcut. Without a constant-rate counter (or
  // before its rate is learnt) may_be_due() is always true.
  bool may_be_due(std::uint64_t ticks) const noexcept {
    return quiet_until_ == 0 || ticks >= quiet_until_;
  }
  void nothing_due_at(std::uint64_t ticks, time_point now) noexcept;

  // Makes room for one more timer, so that the next arm() cannot fail: called by a fiber before
  // it switches away, arm() by the code that runs after the switch, both on the owning
  // worker's thread. Throws std::bad_alloc. Takes the lock only when the room it counted is
  // used up (others only take timers out).
  void reserve_one() WEFT_EXCLUDES(lock_) {
    if (room_ == 0) [[unlikely]] make_room();
  }
  void arm(timer_slot& slot) noexcept WEFT_EXCLUDES(lock_);
  // Takes `slot` out if it is still armed here; false if it fired already.
  bool cancel(timer_slot& slot) noexcept WEFT_EXCLUDES(lock_);
  // Fires the earliest timer if it is due at `now`: returns the fiber to make ready (a
  // sleeper, or a timed wait whose token the timeout claimed), null if none is due. A due
  // timeout that lost its claim is taken out and skipped.
  fiber* fire_due(time_point now) noexcept WEFT_EXCLUDES(lock_);
  // Takes out every timer for which release(slot) returns true (executor destruction).
  template <class Release>
  void release_if(Release release) WEFT_EXCLUDES(lock_) {
    spin_guard guard(lock_);
    std::size_t kept = 0;
    for (const entry& e : entries_) {
      if (release(*e.slot)) {
        e.slot->index = timer_slot::not_armed;
      } else {
        entries_[kept++] = e;
      }
    }
    entries_.resize(kept);
    rebuild();
  }

 private:
  struct entry {
    time_point deadline;
    std::uint64_t seq;
    timer_slot* slot;
  };
  void take_out(std::size_t i) noexcept WEFT_REQUIRES(lock_);  // and restore the heap
  void sift_up(std::size_t i) noexcept WEFT_REQUIRES(lock_);
  void sift_down(std::size_t i) noexcept WEFT_REQUIRES(lock_);
  void place(std::size_t i, const entry& e) noexcept WEFT_REQUIRES(lock_) {
    entries_[i] = e;
    e.slot->index = i;
  }
  void make_room() WEFT_EXCLUDES(lock_);
  void rebuild() noexcept WEFT_REQUIRES(lock_);  // heap order and indices, and earliest_
  void note_earliest() noexcept WEFT_REQUIRES(lock_);

  spinlock lock_;
  std::vector<entry> entries_ WEFT_GUARDED_BY(lock_);
  std::uint64_t next_seq_ WEFT_GUARDED_BY(lock_) = 0;
  // The owner's: entries_ has room for at least this many more (a lower bound: a cancel or a
  // firing elsewhere only adds room).
  std::size_t room_ = 0;
  // The owner's (may_be_due): no timer is due before the counter reaches quiet_until_ (0: not
  // known), which comes no later than quiet_for_, the earliest deadline then.
  std::uint64_t quiet_until_ = 0;
  time_point quiet_for_ = time_point::min();
  std::atomic<time_point> earliest_{time_point::max()};
  std::atomic<std::size_t> size_{0};  // entries_.size(), written under the lock
};

}  // namespace weft::detail
