// How fibers and plain threads block in weft primitives and are woken.
#include <weft/detail/waiter.hpp>

#include <condition_variable>
#include <mutex>

#include <weft/this_fiber.hpp>

#include "executor_core.hpp"
#include "trace_points.hpp"

namespace weft::detail {

// A plain thread's way to sleep until woken; one per thread, as a thread waits on one thing.
// It also counts the thread's holds (plain_thread_holds()).
struct thread_parker {
  std::mutex mutex;
  std::condition_variable cv;
  bool notified = false;
  std::atomic<std::size_t> holds{0};

  void park() {
    std::unique_lock guard(mutex);
    cv.wait(guard, [this] { return notified; });
    notified = false;
  }
  void unpark() noexcept {
    std::lock_guard guard(mutex);
    notified = true;
    cv.notify_one();
  }
};

namespace {
std::atomic<std::size_t> blocked_threads{0};
std::atomic<std::size_t> held_by_threads{0};

thread_parker& this_thread_parker() noexcept {
  thread_local thread_parker parker;
  return parker;
}
}  // namespace

std::size_t threads_blocked_in_weft() noexcept { return blocked_threads.load(); }

thread_parker* this_plain_thread() noexcept { return &this_thread_parker(); }

std::size_t plain_thread_holds(const thread_parker* except) noexcept {
  const std::size_t own = except ? except->holds.load() : 0;
  const std::size_t all = held_by_threads.load();
  return all > own ? all - own : 0;
}

void add_plain_thread_hold(thread_parker& holder) noexcept {
  holder.holds.fetch_add(1);
  held_by_threads.fetch_add(1);
}

thread_parker& add_hold_of_this_thread() noexcept {
  thread_parker& me = this_thread_parker();
  add_plain_thread_hold(me);
  return me;
}

void drop_plain_thread_hold(thread_parker& holder) noexcept {
  held_by_threads.fetch_sub(1);
  holder.holds.fetch_sub(1);
}

std::string_view to_string(wait_kind k) noexcept {
  switch (k) {
    case wait_kind::none: return "nothing";
    case wait_kind::join: return "join";
    case wait_kind::channel_send: return "channel send";
    case wait_kind::channel_recv: return "channel recv";
    case wait_kind::event: return "event";
    case wait_kind::mutex: return "mutex";
    case wait_kind::condition_variable: return "condition_variable";
    case wait_kind::wait_group: return "wait_group";
    case wait_kind::sleep: return "sleep";
    case wait_kind::await: return "await";
    case wait_kind::yield: return "yield";
  }
  return "?";
}

void waiter_queue::push_back(waiter& w) noexcept {
  w.next = nullptr;
  w.prev = tail_;
  w.queue = this;
  if (tail_) tail_->next = &w;
  else head_ = &w;
  tail_ = &w;
}

waiter* waiter_queue::pop_front() noexcept {
  waiter* w = head_;
  if (w) remove(*w);
  return w;
}

void waiter_queue::remove(waiter& w) noexcept {
  if (w.prev) w.prev->next = w.next;
  else head_ = w.next;
  if (w.next) w.next->prev = w.prev;
  else tail_ = w.prev;
  w.next = w.prev = nullptr;
  w.queue = nullptr;
}

void waiter_queue::move_all_to(waiter_queue& to) noexcept {
  while (waiter* w = pop_front()) to.push_back(*w);
}

void block(waiter& w, spinlock& lock, wait_kind what, const void* object) {
  w.lock = &lock;
  fiber* self = current_fiber();
  if (!self) {  // a plain thread: sleep on its parker
    thread_parker& parker = this_thread_parker();
    w.parker = &parker;
    blocked_threads.fetch_add(1);
    lock.unlock();
    parker.park();
    blocked_threads.fetch_sub(1);
    return;
  }
  if (must_unwind(*self)) {
    if (w.queue) w.queue->remove(w);
    lock.unlock();
    throw fiber_unwind{};
  }
  w.blocked_fiber = self;
  self->waiting_on = what;
  self->wait_object = object;
  self->current_waiter = &w;
  WEFT_TRACE_EVENT(trace::event_kind::block, self, to_string(what));
  worker* current = current_worker();
  current->actions().unlock = &lock;  // released once our context is saved
  current->suspend(*self);
  self->waiting_on = wait_kind::none;
  self->wait_object = nullptr;
  self->current_waiter = nullptr;
  if (must_unwind(*self)) throw fiber_unwind{};
}

void wake(waiter& w) noexcept {
  fiber* f = w.blocked_fiber;
  thread_parker* parker = w.parker;
  // From here on `w` may be gone: its owner can resume at any moment.
  if (f) {
    WEFT_TRACE_EVENT(trace::event_kind::wake, f, {}, this_fiber::id());
    f->owner->schedule(f);
  }
  else parker->unpark();
}

void wake_all(waiter_queue& q) noexcept {
  while (waiter* w = q.pop_front()) wake(*w);
}

}  // namespace weft::detail
