// weft::latch (include/weft/latch.hpp).
#include <weft/latch.hpp>

#include <stdexcept>
#include <string>

namespace weft {

namespace {
std::ptrdiff_t checked_expected(std::ptrdiff_t expected) {
  if (expected < 0)
    throw std::invalid_argument("weft::latch: negative expected count " + std::to_string(expected));
  return expected;
}
}  // namespace

latch::latch(std::ptrdiff_t expected) : counter_(checked_expected(expected)) {}

void latch::count_down(std::ptrdiff_t update) {
  if (update < 0)
    throw std::invalid_argument("weft::latch::count_down: negative update " + std::to_string(update));
  std::ptrdiff_t was;
  if (!counter_.add(-update, was))
    throw std::logic_error("weft::latch::count_down: update " + std::to_string(update) +
                           " exceeds the counter " + std::to_string(was));
}

void latch::wait() const { wait_until_deadline(detail::deadline::max()); }

void latch::arrive_and_wait(std::ptrdiff_t update) {
  count_down(update);
  wait();
}

bool latch::wait_until_deadline(detail::deadline deadline) const {
  return counter_.wait_until(deadline, detail::wait_kind::latch, this);
}

}  // namespace weft
