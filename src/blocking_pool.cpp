// The executor's pool of threads for weft::blocking (blocking_pool.hpp).
#include "blocking_pool.hpp"

#include <system_error>

#include "executor_core.hpp"

namespace weft::detail {

void submit_blocking(executor_core& core, blocking_job& job) { core.blocking().submit(job); }

blocking_pool::~blocking_pool() {
  std::vector<std::thread> threads;
  {
    thread_lock guard(mutex_);
    stopping_ = true;
    threads.swap(threads_);
  }
  work_.notify_all();
  for (std::thread& t : threads) t.join();
}

void blocking_pool::submit(blocking_job& job) {
  thread_lock guard(mutex_);
  job.next = nullptr;
  if (tail_) tail_->next = &job;
  else head_ = &job;
  tail_ = &job;
  if (idle_ > 0) {
    work_.notify_one();
    return;
  }
  if (threads_.size() >= max_threads_) return;  // it waits its turn
  try {
    threads_.reserve(threads_.size() + 1);
    threads_.emplace_back([this] { serve(); });
  } catch (...) {
    if (!threads_.empty()) return;  // a running thread will take it
    head_ = tail_ = nullptr;        // nobody would: take it back
    throw;
  }
}

void blocking_pool::serve() {
  for (;;) {
    blocking_job* job;
    {
      thread_lock guard(mutex_);
      ++idle_;
      while (!head_ && !stopping_) guard.wait(work_);
      --idle_;
      if (!head_) return;  // stopping
      job = head_;
      head_ = job->next;
      if (!head_) tail_ = nullptr;
    }
    job->run(job);
    job->resume.resume();  // wakes the fiber; `job` is gone after this
  }
}

}  // namespace weft::detail
