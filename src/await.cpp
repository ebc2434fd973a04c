// The await() bridge's out-of-line half (include/weft/await.hpp): the rendezvous between a
// fiber waiting for an awaitable and whoever resumes its handle, and the count of outstanding
// awaits that the deadlock check reads.
#include <weft/await.hpp>

#include "current.hpp"
#include "executor_core.hpp"

namespace weft::detail {

void await_begin() noexcept {
  if (executor_core* core = current_core()) core->pending_awaits.fetch_add(1);
}

void await_end() noexcept {
  if (executor_core* core = current_core()) {
    // The last outstanding await: a parked worker may now be able to see a deadlock.
    if (core->pending_awaits.fetch_sub(1) == 1) core->notify_all_workers();
  }
}

void await_resumed(await_rendezvous& r) noexcept {
  r.lock.lock();
  r.resumed = true;
  waiter* w = r.blocked.pop_front();
  r.lock.unlock();
  if (w) wake(*w);
}

void await_block(await_rendezvous& r) {
  r.lock.lock();
  if (r.resumed) {
    r.lock.unlock();
    return;
  }
  waiter w;
  r.blocked.push_back(w);
  block(w, r.lock, wait_kind::await, &r);
}

}  // namespace weft::detail
