// weft::wait_group (include/weft/wait_group.hpp).
#include <weft/wait_group.hpp>

#include <stdexcept>

namespace weft {

void wait_group::add(std::ptrdiff_t n) {
  std::ptrdiff_t was;
  if (!counter_.add(n, was))
    throw std::logic_error("weft::wait_group: done() or add() would make the counter negative");
}

void wait_group::done() { add(-1); }

void wait_group::wait() { wait_until_deadline(detail::deadline::max()); }

bool wait_group::wait_until_deadline(detail::deadline deadline) {
  return counter_.wait_until(deadline, detail::wait_kind::wait_group, this);
}

std::ptrdiff_t wait_group::count() const { return counter_.count(); }

}  // namespace weft
