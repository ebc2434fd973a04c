// Waiting on a plain thread for something another thread (or a fiber) does, with a limit.
#pragma once

#include <chrono>
#include <thread>

namespace weft_test {

// Spins (sleeping a little) until pred() holds or `limit` passes; returns pred().
template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return pred();
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

}  // namespace weft_test
