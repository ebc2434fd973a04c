// The shared state of weft::promise and weft::future (include/weft/future.hpp).
#include <weft/future.hpp>

#include <vector>

#include <weft/fiber_local.hpp>

namespace weft::detail {

void throw_future_error(std::future_errc code) { throw std::future_error(code); }

bool future_state_base::wait_until(deadline deadline) const {
  if (ready()) return true;
  lock_.lock();
  if (ready()) {
    lock_.unlock();
    return true;
  }
  waiter w;
  waiters_.push_back(w);
  return block_until(w, lock_, wait_kind::future, this, deadline);
}

void future_state_base::mark_retrieved() {
  if (retrieved_.exchange(true, std::memory_order_relaxed))
    throw_future_error(std::future_errc::future_already_retrieved);
}

void future_state_base::claim() {
  bool was;
  {
    spin_guard guard(lock_);
    was = std::exchange(claimed_, true);
  }
  if (was) throw_future_error(std::future_errc::promise_already_satisfied);
}

void future_state_base::unclaim() noexcept {
  spin_guard guard(lock_);
  claimed_ = false;
}

bool future_state_base::claimed() const noexcept {
  spin_guard guard(lock_);
  return claimed_;
}

void future_state_base::publish() noexcept {
  waiter_queue woken;
  {
    spin_guard guard(lock_);
    ready_.store(true, std::memory_order_release);
    waiters_.move_all_to(woken);
  }
  wake_all(woken);
}

void future_state_base::store_exception(std::exception_ptr e) {
  if (!e) throw std::invalid_argument("weft::promise::set_exception: null exception_ptr");
  claim();
  error_ = std::move(e);
}

namespace {
// The states a fiber (or thread) made ready at its exit: published when its fiber_local values
// are destroyed, after those whose fiber_local was made later than this one (last key first).
struct exit_publications {
  std::vector<future_state_base*> states;
  ~exit_publications() {
    for (future_state_base* s : states) {
      s->publish();
      s->release();
    }
  }
};
fiber_local<exit_publications> at_exit;
}  // namespace

void future_state_base::reserve_publication() {
  std::vector<future_state_base*>& states = at_exit->states;
  states.reserve(states.size() + 1);
}

void future_state_base::publish_at_exit() noexcept {
  retain();
  at_exit->states.push_back(this);  // room was reserved
}

void future_state_base::abandon() noexcept {
  {
    spin_guard guard(lock_);
    if (claimed_) return;
    claimed_ = true;
  }
  error_ = std::make_exception_ptr(std::future_error(std::future_errc::broken_promise));
  publish();
}

}  // namespace weft::detail
