// The out-of-line half of <weft/task.hpp>: the loop that runs a fiber's chain of tasks, and
// the per-thread cache of task frames.
#include <weft/task.hpp>

#include <array>
#include <cstdint>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

#include "context/sanitizers.hpp"

namespace weft::detail {

void drive_tasks(task_driver& driver, std::coroutine_handle<> first) {
  for (std::coroutine_handle<> h = first; h;) {
    driver.next = nullptr;
    h.resume();  // returns when h awaits another task or ends (each names what runs next)
    h = driver.next;
  }
}

void throw_empty_task(const char* call) {
  throw std::logic_error(std::string("weft::task: ") + call +
                         " of an empty task (moved from, or already run or awaited)");
}

namespace {

// Under the sanitizers every frame comes from the allocator, so that they see each one.
constexpr bool cache_frames = !WEFT_HAS_ASAN && !WEFT_HAS_TSAN;

// Freed frames of up to size_classes * granule bytes, per size class, at most max_cached each.
class frame_cache {
 public:
  static constexpr std::size_t granule = 64;
  static constexpr std::size_t size_classes = 16;  // frames up to 1 KiB
  static constexpr std::uint32_t max_cached = 64;  // per class: at most 1 MiB held per thread

  // The class of a frame of `bytes`, or size_classes when it is too big to cache.
  static std::size_t size_class(std::size_t bytes) noexcept {
    const std::size_t c = (bytes + granule - 1) / granule - 1;
    return c < size_classes ? c : size_classes;
  }
  void* take(std::size_t c) noexcept {
    node* n = free_[c];
    if (n) {
      free_[c] = n->next;
      --count_[c];
    }
    return n;
  }
  bool give(std::size_t c, void* frame) noexcept {
    if (!alive_ || count_[c] == max_cached) return false;
    free_[c] = ::new (frame) node{free_[c]};
    ++count_[c];
    return true;
  }
  ~frame_cache() {
    alive_ = false;  // frames freed later in this thread's exit go to the allocator
    for (node*& head : free_) {
      while (head) ::operator delete(std::exchange(head, head->next));
    }
  }

 private:
  struct node {
    node* next;
  };
  std::array<node*, size_classes> free_{};
  std::array<std::uint32_t, size_classes> count_{};
  bool alive_ = true;
};

thread_local frame_cache frames;

}  // namespace

void* allocate_task_frame(std::size_t bytes) {
  if constexpr (cache_frames) {
    const std::size_t c = frame_cache::size_class(bytes);
    if (c < frame_cache::size_classes) {
      if (void* frame = frames.take(c)) return frame;
      return ::operator new((c + 1) * frame_cache::granule);
    }
  }
  return ::operator new(bytes);
}

void free_task_frame(void* frame, std::size_t bytes) noexcept {
  if constexpr (cache_frames) {
    const std::size_t c = frame_cache::size_class(bytes);
    if (c < frame_cache::size_classes && frames.give(c, frame)) return;
  }
  ::operator delete(frame);
}

}  // namespace weft::detail
