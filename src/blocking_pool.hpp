// The executor's pool of threads for weft::blocking (include/weft/blocking.hpp): jobs queued
// in order, run by at most `max_threads` threads, started as jobs need them and kept until the
// executor is destroyed. A job resumes its fiber's await when it is done.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <thread>
#include <vector>

#include <weft/blocking.hpp>
#include <weft/detail/thread_annotations.hpp>

#include "thread_mutex.hpp"

namespace weft::detail {

class blocking_pool {
 public:
  explicit blocking_pool(std::size_t max_threads) noexcept : max_threads_(max_threads) {}
  ~blocking_pool();  // after every job: the executor waits for fibers inside await first
  blocking_pool(const blocking_pool&) = delete;
  blocking_pool& operator=(const blocking_pool&) = delete;

  // Queues `job`; starts a thread if none is idle and fewer than max_threads run. Throws
  // std::system_error (with `job` not queued) if no thread can be started and none runs.
  void submit(blocking_job& job) WEFT_EXCLUDES(mutex_);

 private:
  void serve() WEFT_EXCLUDES(mutex_);  // a pool thread's loop

  const std::size_t max_threads_;
  thread_mutex mutex_;
  std::condition_variable work_;
  blocking_job* head_ WEFT_GUARDED_BY(mutex_) = nullptr;
  blocking_job* tail_ WEFT_GUARDED_BY(mutex_) = nullptr;
  std::size_t idle_ WEFT_GUARDED_BY(mutex_) = 0;
  bool stopping_ WEFT_GUARDED_BY(mutex_) = false;
  std::vector<std::thread> threads_ WEFT_GUARDED_BY(mutex_);
};

}  // namespace weft::detail
