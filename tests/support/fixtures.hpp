// Small fixtures several test files use: executor options for a worker count, an exception type
// to throw from fibers, whether a fiber ended cancelled, and a check that an executor still
// works after whatever a test did to it.
#pragma once

#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>

#include <weft/weft.hpp>

namespace weft_test {

// Default options with `n` workers: for tests that run on 1, 2 and 4.
inline weft::executor_options with_workers(std::size_t n) {
  weft::executor_options o;
  o.workers = n;
  return o;
}

// An exception with a payload, to see that join() and co_await rethrow the original object.
struct custom_error : std::runtime_error {
  int code;
  explicit custom_error(int c) : std::runtime_error("custom " + std::to_string(c)), code(c) {}
};

// Whether h ended with operation_cancelled (anything else fails the test).
template <class T>
bool ended_cancelled(weft::join_handle<T>& h) {
  try {
    h.join();
  } catch (const weft::operation_cancelled&) {
    return true;
  }
  return false;
}

// Objects on which each kind of wait blocks forever: an empty rendezvous channel, a full one,
// an event never set, a wait_group never done, a mutex and condition variable nobody notifies,
// and a pipe nobody writes.
struct never_ready {
  weft::channel<int> empty{0};
  weft::channel<int> full{1};
  weft::event never_set;
  weft::wait_group never_done;
  weft::mutex m;
  weft::condition_variable cv;
  int pipe_fds[2] = {-1, -1};

  never_ready() {
    (void)full.send(0);
    never_done.add();
    if (::pipe(pipe_fds) != 0) throw std::runtime_error("pipe");
  }
  ~never_ready() {
    never_done.done();
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
  }
  never_ready(const never_ready&) = delete;
  never_ready& operator=(const never_ready&) = delete;
};

// The executor still works: fibers spawn, talk over a channel, sleep, and finish. Throws
// std::runtime_error if not (it may run in a child process, where Catch2's checks do not).
inline void check_executor_usable(weft::executor& ex) {
  weft::channel<int> ch(1);
  auto consumer = ex.spawn([&] {
    int sum = 0;
    while (auto v = ch.recv()) sum += *v;
    return sum;
  });
  auto producer = ex.spawn([&] {
    for (int i = 1; i <= 10; ++i) ch.send(i);
    weft::this_fiber::sleep_for(std::chrono::milliseconds(1));
    ch.close();
  });
  ex.run();
  producer.join();
  if (consumer.join() != 55) throw std::runtime_error("the executor is not usable afterwards");
  if (ex.live_fibers() != 0) throw std::runtime_error("fibers left after run()");
}

}  // namespace weft_test
