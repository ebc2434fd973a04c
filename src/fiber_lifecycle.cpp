// The detail:: functions that <weft/executor.hpp>'s templates call, and executor's members.
#include <stdexcept>
#include <string>
#include <thread>

#include "executor_core.hpp"

namespace weft::detail {

fiber_memory allocate_fiber(executor_core& core, std::size_t bytes, std::size_t align) {
  return core.allocate(bytes, align);
}

void free_fiber_memory(executor_core& core, const fiber_memory& memory) noexcept {
  core.free_region(memory.region, memory.guarded, current_worker());
  executor_core::release_outside_spawn(memory);
}

void launch(executor_core& core, fiber* f, const fiber_memory& memory) { core.launch(f, memory); }

void wait_until_finished(fiber& f) {
  if (f.finished.load(std::memory_order_acquire)) return;
  executor_core& core = *f.owner;
  if (!current_fiber() && core.try_claim_run()) {
    // A plain thread and nobody runs the executor: drive it here until f is done.
    const claimed_run claim(core);
    core.run_until(&f);
    return;
  }
  f.lock.lock();
  if (f.finished.load(std::memory_order_acquire)) {
    f.lock.unlock();
    return;
  }
  waiter w;
  f.joiners.push_back(w);
  block(w, f.lock, wait_kind::join, &f);
}

bool await_finished(fiber& f, std::coroutine_handle<> h) {
  std::lock_guard guard(f.lock);
  if (f.finished.load(std::memory_order_acquire)) return false;
  f.awaiting_coroutine = h;
  return true;
}

void release_finished(fiber& f) noexcept {
  const thread_position here = current_position();
  if (here.current_fiber == &f) {
    // A coroutine co_awaiting f, resumed by f's own end (publish_end), on f's stack: the
    // worker frees f once it has switched away from it.
    f.worker_frees = true;
    return;
  }
  // f has finished; its worker is at most a few instructions from switching away for good
  // (only if the release comes from another thread).
  for (unsigned spins = 0; !f.switched_out.load(std::memory_order_acquire); ++spins) {
    if (spins < 1024) __builtin_ia32_pause();
    else std::this_thread::yield();
  }
  free_fiber(f, here.current_worker);
}

void throw_empty_handle(const char* call) {
  throw std::logic_error(std::string("weft::join_handle::") + call +
                         ": the handle is empty (joined already, detached, or moved from)");
}

void detach_handle(fiber& f) noexcept {
  f.lock.lock();
  f.detached = true;
  f.awaiting_coroutine = nullptr;  // a coroutine destroyed while it co_awaited this handle
  const bool finished = f.finished.load(std::memory_order_acquire);
  f.lock.unlock();
  if (!finished) return;  // publish_end sees `detached`: the worker frees it
  if (f.error && !f.cancelled) {  // finished with an exception nobody will ever see
    std::fprintf(stderr, "weft: exception of fiber %llu \"%s\" was never joined; its handle was dropped\n",
                 static_cast<unsigned long long>(f.id), f.name.c_str());
    std::terminate();
  }
  release_finished(f);
}

}  // namespace weft::detail

namespace weft {

executor::executor() : executor(executor_options{}) {}

executor::executor(executor_options options) : core_(new detail::executor_core(options)) {}

executor::~executor() {
  // core_ stays set while the fibers unwind: code on their stacks may still call spawn() on
  // this executor, which must throw std::logic_error, not dereference a null core.
  detail::executor_core* core = core_.get();
  if (detail::current_fiber() && detail::current_fiber()->owner == core) {
    std::fprintf(stderr, "weft: an executor was destroyed by one of its own fibers\n");
    std::terminate();
  }
  core->unwind_all();  // also gives back the regions cached by workers, with their references
  core_.release();
  core->release();
}

void executor::run() {
  if (detail::current_fiber())
    throw std::logic_error("weft::executor::run: called from a fiber; only plain threads run executors");
  if (!core_->try_claim_run())
    throw std::logic_error("weft::executor::run: another thread is already running this executor");
  const detail::claimed_run claim(*core_);
  core_->run_until(nullptr);
}

const executor_options& executor::options() const noexcept { return core_->options(); }
std::size_t executor::live_fibers() const noexcept { return core_->live(); }

executor::work_guard::work_guard(executor& ex) : core_(ex.core_.get()) {
  core_->retain();
  core_->work_guards.fetch_add(1);
}

executor::work_guard::~work_guard() { reset(); }

void executor::work_guard::reset() noexcept {
  if (!core_) return;
  core_->work_guards.fetch_sub(1);
  core_->notify_all_workers();
  std::exchange(core_, nullptr)->release();
}

}  // namespace weft
