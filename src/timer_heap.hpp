// A worker's sleeping fibers: a binary min-heap on (deadline, sequence) on the steady clock.
// O(log n) per sleep for millions of sleepers; equal deadlines wake in the order they slept.
// Owned by one worker and used by its thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

namespace weft::detail {

struct fiber;

class timer_heap {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  bool empty() const noexcept { return entries_.empty(); }
  time_point earliest() const noexcept { return entries_.front().deadline; }  // not empty()
  void add(fiber* sleeper, time_point deadline);
  // The sleeper with the earliest deadline if that is at or before `now` (taken out), else null.
  fiber* pop_due(time_point now) noexcept;
  // Takes out every sleeper for which release(sleeper) returns true.
  template <class Release>
  void release_if(Release release) {
    std::erase_if(entries_, [&](const entry& e) { return release(e.sleeper); });
    restore_heap();
  }

 private:
  struct entry {
    time_point deadline;
    std::uint64_t seq;
    fiber* sleeper;
    bool operator>(const entry& o) const noexcept {
      return deadline != o.deadline ? deadline > o.deadline : seq > o.seq;
    }
  };
  void restore_heap() noexcept;

  std::vector<entry> entries_;
  std::uint64_t next_seq_ = 0;
};

}  // namespace weft::detail
