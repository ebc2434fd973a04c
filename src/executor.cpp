// weft::executor and executor::work_guard (include/weft/executor.hpp): the public face of an
// executor_core.
#include <weft/executor.hpp>

#include <cstdio>
#include <exception>
#include <stdexcept>

#include "current.hpp"
#include "executor_core.hpp"

namespace weft {

executor::executor() : executor(executor_options{}) {}

executor::executor(executor_options options)
    : core_(detail::core_ref::adopt(new detail::executor_core(options))) {}

executor::~executor() {
  // core_ stays set while the fibers unwind: code on their stacks may still call spawn() on
  // this executor, which must throw std::logic_error, not dereference a null core. Our
  // reference goes with core_; fiber regions and work guards may keep the core a while longer.
  detail::fiber* self = detail::current_fiber();
  if (self && self->owner == core_.get()) {
    std::fprintf(stderr, "weft: an executor was destroyed by one of its own fibers\n");
    std::terminate();
  }
  core_->unwind_all();  // also gives back the regions cached by workers, with their references
  core_->stop_blocking_pool();
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

executor::work_guard::work_guard(executor& ex) : core_(ex.core_) {
  core_->work_guards.fetch_add(1);
}

executor::work_guard::~work_guard() { reset(); }

void executor::work_guard::reset() noexcept {
  if (!core_) return;
  core_->work_guards.fetch_sub(1);
  core_->notify_all_workers();
  core_.reset();
}

}  // namespace weft
