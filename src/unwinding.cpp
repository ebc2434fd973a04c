// Unwinding fibers at executor destruction (unwinding.hpp).
#include "unwinding.hpp"

#include <stdexcept>
#include <string>

namespace weft::detail {

void throw_fiber_unwind() { throw fiber_unwind{}; }

void set_unwound_error(fiber& f) {
  f.error = std::make_exception_ptr(std::runtime_error(
      "weft: fiber " + std::to_string(f.id) + " was unwound: its executor was destroyed"));
}

}  // namespace weft::detail
