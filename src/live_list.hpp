// The live fibers of one worker, for deadlock reports, unwinding at destruction and debuggers.
// A fiber joins the list of the worker it first suspends on (or worker 0's, when it is queued
// unstarted from outside the executor) and stays there wherever it runs until it retires. A
// fiber that runs to its end without ever suspending (most short ones: spawn starts a child at
// once) never takes the lock: when no worker runs a fiber, every live fiber is on a list.
#pragma once

#include <weft/detail/spinlock.hpp>
#include <weft/detail/thread_annotations.hpp>

#include "fiber.hpp"

namespace weft::detail {

class live_list {
 public:
  void add(fiber* f) noexcept WEFT_EXCLUDES(lock_);
  void remove(fiber* f) noexcept WEFT_EXCLUDES(lock_);
  // Calls fn(f) for every fiber on the list, with the list locked.
  template <class Fn>
  void for_each(Fn fn) const WEFT_EXCLUDES(lock_) {
    spin_guard guard(lock_);
    for (fiber* f = head_; f; f = f->next_live) fn(f);
  }

 private:
  friend struct registry_layout;  // the debugger reads head_ (registry.hpp)
  mutable spinlock lock_;
  fiber* head_ WEFT_GUARDED_BY(lock_) = nullptr;  // and every fiber's prev_live and next_live
};

}  // namespace weft::detail
