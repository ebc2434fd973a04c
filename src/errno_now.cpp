// errno_now() (errno_now.hpp).
#include "errno_now.hpp"

#include <cerrno>

namespace weft::detail {

__attribute__((noinline)) int errno_now() noexcept { return errno; }

}  // namespace weft::detail
